"""Seconds per training step of the default model, four ways, on real batches of the bundled corpus:

    pairs      one source row per pair (the batching before a word's pairs were kept together), fp32
    grouped    a word's pairs together, each source encoded once (today's batching), fp32
    grouped, logits at every position: the same, but the output layer also runs at the targets' padding
    grouped    under bf16 autocast

    python bench/step_time.py                  # the default GRU; --arch transformer for the other family
    python bench/step_time.py --pairs 8000 --steps 30

The tokenizer is trained on a slice of the corpus and the model reads the default template (the word
and its answers). Each way runs the same optimiser from the same start; the result is the median seconds
per step and the ratio to `pairs`, measured in one run. Run it alone: a second busy process on a 2-core
machine slows every number and can collapse two-thread OpenMP runs.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.batching import collate, cut_by_count, encode_pairs, make_batches  # noqa: E402
from seq2seq.config import Config, ModelConfig, resolve_model  # noqa: E402
from seq2seq.data import correct_answers_by_word  # noqa: E402
from seq2seq.models import build_model, num_parameters  # noqa: E402
from seq2seq.pipeline import model_inputs, read_and_split  # noqa: E402
from seq2seq.trainer import token_loss  # noqa: E402
from tokenizer import train_tokenizer  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="gru", choices=["gru", "lstm", "transformer"])
    parser.add_argument("--pairs", type=int, default=6000, help="training pairs to batch (default 6000)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per way (default 20)")
    parser.add_argument("--batch-size", type=int, default=128)
    return parser.parse_args(argv)


def corpus_examples(count: int, config: Config | None = None):
    """The first `count` training pairs of the bundled corpus as the model of `config` (default: the
    default model) reads them, and the tokenizer trained on them."""
    corpus = ROOT / "data" / "distractors.csv.gz"
    config, pairs, splits, translation = read_and_split(config or Config(), corpus, lambda _: None)
    train = splits["train"].iloc[:count]
    inputs = model_inputs(train, correct_answers_by_word(pairs, translation), config)
    tokenizer = train_tokenizer(inputs + list(train["target"]), config.tokenizer.vocab_size)
    examples, _ = encode_pairs(train, tokenizer, config.model.max_len, inputs)
    return examples, tokenizer


def pair_batches(examples, tokenizer, batch_size: int, rng: np.random.Generator):
    """The earlier batching: pairs shuffled one by one, then sorted by source and target length."""
    order = rng.permutation(len(examples))
    bucket = sorted(order, key=lambda i: (len(examples[i].src), len(examples[i].tgt)))
    return [collate([examples[i] for i in chunk], tokenizer) for chunk in cut_by_count(bucket, batch_size)]


def seconds_per_step(model, batches, dtype: torch.dtype, steps: int, repeat_sources: bool,
                     real_only: bool) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast("cpu", dtype) if dtype != torch.float32 else contextlib.nullcontext()
    times = []
    for batch in (batches * (1 + (steps + 3) // len(batches)))[: steps + 3]:
        started = time.perf_counter()
        real = batch.tgt_out != 0  # (batch, tgt_len)
        src, src_index = (batch.pair_src, None) if repeat_sources else (batch.src, batch.src_index)
        with autocast:
            if real_only:  # as the trainer asks: logits at the real target positions only
                logits = model(src, batch.tgt_in, src_index, real)  # (real tokens, vocab)
            else:  # logits at every position, padding included, then the real ones picked
                logits = model(src, batch.tgt_in, src_index)[real]
        loss = token_loss(logits, batch.tgt_out[real], reduction="sum") / batch.n_target_tokens
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times[3:])  # the first steps warm the kernels up


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.manual_seed(0)
    examples, tokenizer = corpus_examples(args.pairs)
    config = resolve_model(ModelConfig(arch=args.arch), tokenizer.vocab_size, tokenizer.pad_id)
    start = build_model(config).state_dict()
    grouped = make_batches(examples, tokenizer, args.batch_size, np.random.default_rng(0))
    by_pair = pair_batches(examples, tokenizer, args.batch_size, np.random.default_rng(0))
    ways = [("pairs", by_pair, torch.float32, True, True), ("grouped", grouped, torch.float32, False, True),
            ("grouped, logits at every position", grouped, torch.float32, False, False),
            ("grouped", grouped, torch.bfloat16, False, True)]
    print(f"{args.arch}, {num_parameters(build_model(config)):,} parameters, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads")
    print(f"sources per batch: pairs {np.mean([b.src.shape[0] for b in by_pair]):.1f}, "
          f"grouped {np.mean([b.src.shape[0] for b in grouped]):.1f} (of {args.batch_size} pairs)")
    reference = None
    for name, batches, dtype, repeat, real_only in ways:
        model = build_model(config)
        model.load_state_dict(start)
        seconds = seconds_per_step(model.train(), batches, dtype, args.steps, repeat, real_only)
        reference = reference or seconds
        print(f"{name:34} {str(dtype).removeprefix('torch.'):9} {seconds:.3f} s/step  "
              f"×{reference / seconds:.2f}")


if __name__ == "__main__":
    main()
