"""How fast does sampling run? 10 samples per word for the test words of trained models, three comparisons.

    python bench/decode_speed.py --models runs/default runs/transformer         # GRU and Transformer folders
    python bench/decode_speed.py --models runs/default --words 200 --rounds 3

1. **The cache against recomputing the prefix.** `decode_step` carries a state from one step to the next: a
   Transformer's keys and values of the steps so far, a recurrent decoder's hidden state. The other way
   runs the decoder over the whole prefix again at every step (`decoder_outputs`, the training pass) and
   keeps only the last position.
2. **Batched against one word at a time.** 64 words' samples in one batch (as infer.py does) or one word's
   10 samples a call.
3. **Transformer against GRU**, both cached and batched, when two folders of different families are given.

Each comparison runs its two ways interleaved (bench/ab.py) on the same words, with the same seed, through
the package's own `generate`: only the model's step differs. The result is words per second, the time
for 1,000 words, and the ratio with its quartiles. This is raw sampling, before `infer.py` drops repeats,
correct answers and non-words (bench/infer_speed.py measures all of that). Run it alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ab import format_ratio, interleave  # noqa: E402
from seq2seq.compare import read_test_split, targets_by_word  # noqa: E402
from seq2seq.decoding import WORDS_PER_CHUNK, encode_sources, generate, sampling_pick  # noqa: E402
from seq2seq.model_folder import TrainedModel, load_model  # noqa: E402
from seq2seq.models.base import Memory, Seq2SeqModel, select_batch  # noqa: E402
from seq2seq.pipeline import encoder_inputs  # noqa: E402


class Recomputing(torch.nn.Module):
    """A model whose decode_step keeps no cache: its state is the prefix of ids, run through the whole
    decoder again at every step. It computes what the cached step computes, with the same `generate`."""

    def __init__(self, model: Seq2SeqModel):
        super().__init__()
        self.model = model

    def decode_step(self, prev_ids: torch.Tensor, memory: Memory, state: torch.Tensor | None = None):
        # (batch, steps)
        prefix = prev_ids[:, None] if state is None else torch.cat([state, prev_ids[:, None]], dim=1)
        outputs = self.model.decoder_outputs(prefix, memory)  # (batch, steps, d_model): every step again
        return self.model.output(outputs[:, -1]), prefix  # (batch, vocab)


def sampling(trained: TrainedModel, sources: list[str], samples: int, words_per_batch: int, cached: bool):
    """A workload: `samples` samples for every source, `words_per_batch` sources a batch; returns words
    done."""
    model = trained.model if cached else Recomputing(trained.model)

    @torch.no_grad()
    def run() -> float:
        generator = torch.Generator().manual_seed(0)
        pick = sampling_pick(0.6, 50, 0.95, generator)
        for first in range(0, len(sources), words_per_batch):
            memory = encode_sources(trained.model, trained.tokenizer,
                                    sources[first : first + words_per_batch])
            # each source `samples` times
            rows = torch.arange(memory.states.size(0)).repeat_interleave(samples)
            generate(model, select_batch(memory, rows), trained.tokenizer, 24, pick)
        return float(len(sources))

    return run


def sources_of_test_words(trained: TrainedModel, folder: Path, count: int) -> list[str]:
    """What the encoder reads for the first `count` test words of the folder."""
    test = read_test_split(folder)
    answers = {word: sorted(set(correct)) for word, correct in zip(test["source"], test["correct"])}
    words = list(targets_by_word(test))[:count]
    return encoder_inputs(trained, words, [answers[word] for word in words])


def report(title: str, timings, a: str, b: str) -> None:
    rates = {name: timings.median_speed(name) for name in (a, b)}
    print(f"| {title} | {a}: {rates[a]:.0f} words/s ({1000 / rates[a]:.1f} s per 1,000) | "
          f"{b}: {rates[b]:.0f} words/s ({1000 / rates[b]:.1f} s per 1,000) | "
          f"{format_ratio(timings.ratio(a, b))} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["runs/default"],
                        help="model folders (default runs/default)")
    parser.add_argument("--words", type=int, default=200, help="test words per round (default 200)")
    parser.add_argument("--samples", type=int, default=10, help="samples per word (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison (default 5)")
    args = parser.parse_args(argv)
    models = {Path(folder): load_model(folder) for folder in args.models}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.words} test words × {args.samples} samples a round, {args.rounds} rounds; "
          "median words/s, and the first / the second (quartiles)")
    print("| comparison | first | second | first / second |")
    print("|---|---|---|---|")
    family_rates = {}
    for folder, trained in models.items():
        sources = sources_of_test_words(trained, folder, args.words)
        arch = trained.config.model.arch
        cached = sampling(trained, sources, args.samples, WORDS_PER_CHUNK, cached=True)
        timings = interleave({"cached": cached,
                              "recomputed": sampling(trained, sources, args.samples, WORDS_PER_CHUNK,
                                                     cached=False)}, args.rounds)
        report(f"{arch}: cache vs prefix recomputed", timings, "cached", "recomputed")
        timings = interleave({"batched": cached,
                              "one word a call": sampling(trained, sources, args.samples, 1, cached=True)},
                             args.rounds)
        report(f"{arch}: batched vs one word a call", timings, "batched", "one word a call")
        family_rates[arch] = cached
    if len(family_rates) == 2:
        (a, run_a), (b, run_b) = family_rates.items()
        report("family against family, cached and batched", interleave({a: run_a, b: run_b}, args.rounds),
               a, b)


if __name__ == "__main__":
    main()
