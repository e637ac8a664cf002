"""Seconds per training epoch against corpus size and against model width, as a table and a plot.

    python bench/scaling.py                                # the default GRU: ¼, ½, 1, 2 × corpus; 3 widths
    python bench/scaling.py --sizes 0.25,0.5 --widths 128,256 --plot docs/benchmarks/scaling.png

An epoch here is every training batch once through `Trainer.train_step` (forward, loss, backward, clip,
AdamW), as `train.py` runs it, without validation. The corpus is the bundled training split as the
default model reads it (word and answers → near miss); a fraction takes the first words' pairs, and 2×
adds a noisy copy of every pair whose target is swapped for a related word (seq2seq.noise, as
`python -m seq2seq.noise` makes one for training). The widths are timed on `--width-size` of the corpus,
to keep the run short. Growth is linear when the seconds per pair stay the same down a column.
Run it alone: a second busy process on a 2-core machine changes every number.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.batching import encode_pairs, make_batches  # noqa: E402
from seq2seq.config import Config, resolve_model, with_overrides  # noqa: E402
from seq2seq.data import correct_answers_by_word  # noqa: E402
from seq2seq.models import build_model, num_parameters  # noqa: E402
from seq2seq.noise import add_noise, load_related  # noqa: E402
from seq2seq.pipeline import BUNDLED_DATA, model_inputs, read_and_split  # noqa: E402
from seq2seq.trainer import Trainer, choose_precision  # noqa: E402
from tokenizer import train_tokenizer  # noqa: E402


def read_corpus(config: Config) -> tuple[Config, pd.DataFrame, dict[str, list[str]]]:
    """The bundled corpus's training split, read once: (config, its pairs, each word's correct answers)."""
    config, pairs, splits, translation = read_and_split(config, BUNDLED_DATA / "distractors.csv.gz",
                                                        lambda _: None)
    return config, splits["train"], correct_answers_by_word(pairs, translation)


def training_split(config: Config, train: pd.DataFrame, answers: dict[str, list[str]],
                   size: float) -> tuple[pd.DataFrame, list[str]]:
    """The first `size` of the training split's words (pairs of one word stay together), or the whole split
    plus a noisy copy for sizes above 1; returns the pairs and what the encoder reads for each."""
    if size > 1:
        noisy = add_noise(train, load_related(BUNDLED_DATA / "related.csv.gz"), p=1.0, k=1, seed=0)
        train = pd.concat([train, train.assign(target=noisy["Japanese"].to_numpy())], ignore_index=True)
    else:
        words = train["source"].drop_duplicates()
        train = train[train["source"].isin(set(words[: round(len(words) * size)]))]
    return train, model_inputs(train, answers, config)


def epoch_seconds(config: Config, train: pd.DataFrame, inputs: list[str],
                  tokenizer) -> tuple[float, int, int]:
    """(seconds for one epoch of training steps, pairs, parameters) for `config`'s model."""
    examples, _ = encode_pairs(train, tokenizer, config.model.max_len, inputs)
    batches = make_batches(examples, tokenizer, config.train.batch_size, np.random.default_rng(0))
    model_config = resolve_model(config.model, tokenizer.vocab_size, tokenizer.pad_id)
    torch.manual_seed(0)
    model = build_model(model_config)
    device = torch.device("cpu")
    trainer = Trainer(model, config.train, tokenizer.pad_id, device, choose_precision("auto", device),
                      progress=False)
    start = time.perf_counter()
    for batch in batches:
        trainer.train_step([batch])
    return time.perf_counter() - start, len(examples), num_parameters(model)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0.25,0.5,1,2",
                        help="corpus sizes, × the training split (default 0.25,0.5,1,2)")
    parser.add_argument("--widths", default="128,256,384",
                        help="GRU widths d_model (default 128,256,384; 256 is the default)")
    parser.add_argument("--width-size", type=float, default=0.25,
                        help="corpus size the widths are timed on (default 0.25)")
    parser.add_argument("--plot", help="write the two curves to this PNG (needs matplotlib)")
    args = parser.parse_args(argv)
    config, train, answers = read_corpus(Config())
    full, full_inputs = training_split(config, train, answers, 1.0)
    tokenizer = train_tokenizer(full_inputs + list(full["target"]), config.tokenizer.vocab_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, precision "
          f"{str(choose_precision('auto', torch.device('cpu'))).removeprefix('torch.')}; "
          "one epoch of training steps")
    by_size = []
    print("\n| corpus | pairs | s/epoch | ms per pair |\n|---|---|---|---|")
    for size in map(float, args.sizes.split(",")):
        seconds, pairs, _ = epoch_seconds(config, *training_split(config, train, answers, size),
                                          tokenizer)
        by_size.append((size, pairs, seconds))
        print(f"| {size:g}× | {pairs:,} | {seconds:.1f} | {1000 * seconds / pairs:.2f} |", flush=True)
    by_width = []
    part, inputs = training_split(config, train, answers, args.width_size)
    print(f"\n| d_model | parameters | s/epoch ({args.width_size:g}× corpus) | ms per pair |"
          "\n|---|---|---|---|")
    for width in map(int, args.widths.split(",")):
        seconds, pairs, parameters = epoch_seconds(with_overrides(config, "model", d_model=width), part,
                                                   inputs, tokenizer)
        by_width.append((width, parameters, seconds))
        print(f"| {width} | {parameters:,} | {seconds:.1f} | {1000 * seconds / pairs:.2f} |", flush=True)
    if args.plot:
        plot(by_size, by_width, args.plot, args.width_size)


def plot(by_size: list[tuple], by_width: list[tuple], path: str, width_size: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    pairs, seconds = [row[1] / 1000 for row in by_size], [row[2] for row in by_size]
    left.plot(pairs, seconds, "o-", label="measured")
    left.plot([0, pairs[-1]], [0, seconds[0] / pairs[0] * pairs[-1]], "--", color="grey",
              label="linear from the smallest")
    left.set(xlabel="training pairs (thousands)", ylabel="seconds per epoch",
             title="corpus size (default GRU)")
    left.legend()
    widths, seconds = [row[0] for row in by_width], [row[2] for row in by_width]
    right.plot(widths, seconds, "o-", label="measured")
    right.plot([0, widths[-1]], [0, seconds[0] / widths[0] * widths[-1]], "--", color="grey",
               label="linear from the smallest")
    for width, parameters, y in by_width:
        right.annotate(f"{parameters / 1e6:.1f} M parameters", (width, y), textcoords="offset points",
                       xytext=(8, -4))
    right.set(xlabel="d_model", ylabel="seconds per epoch", title=f"model width ({width_size:g}× corpus)",
              xlim=(0, by_width[-1][0] * 1.35))
    right.legend(loc="lower right")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
