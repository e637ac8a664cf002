"""Training throughput of our models against the same models built from PyTorch's own layers.

    python bench/train_speed.py                                  # both families, fp32 and bf16, 10 rounds
    python bench/train_speed.py --arch transformer --rounds 20 --precisions fp32
    python bench/train_speed.py --config configs/gpu.toml --device cuda --precisions bf16,fp16  # bench/gpu.sh

Contenders, on the same batches (bench/references.py):
- Transformer: ours against `nn.Transformer` with our embedding, positions and tied output;
- GRU (or LSTM): ours against the same model with its decoder on `nn.GRU`, run step by step over every row;
- "reference, real-token logits": the reference again, but with the output layer only at real target
  tokens, as ours does; the ratio to it shows what is left once that one trick is taken away.

The batches are length-bucketed pairs of the bundled corpus as the default model reads them (the word and
its answers), the tokenizer trained on them. Each round is `--steps` optimiser steps (forward, loss,
backward, AdamW) of each contender, interleaved (bench/ab.py); the result is target tokens per second and
ours / reference per round, median and quartiles. Model FLOPs utilisation (`--peak-tflops`) counts
6 × parameters FLOPs per target token: a rough lower bound, which leaves attention out.
Run it alone: a second busy process on a 2-core machine changes every number.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ab import format_ratio, interleave  # noqa: E402
from references import build_reference  # noqa: E402
from step_time import corpus_examples  # noqa: E402
from seq2seq.batching import make_batches  # noqa: E402
from seq2seq.config import Config, load_toml, resolve_model, with_overrides  # noqa: E402
from seq2seq.models import build_model, num_parameters  # noqa: E402
from seq2seq.trainer import autocast, choose_precision, token_loss  # noqa: E402



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="transformer,gru",
                        help="families, comma-separated (default transformer,gru)")
    parser.add_argument("--config",
                        help="TOML whose [model] and batch settings to use (default: the defaults)")
    parser.add_argument("--precisions", default="fp32,bf16",
                        help="comma-separated: fp32, bf16, fp16 (default fp32,bf16)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--vocab-size", type=int, help="tokenizer pieces (default: the config's)")
    parser.add_argument("--pairs", type=int, default=6000,
                        help="training pairs the batches come from (default 6000)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--steps", type=int, default=3,
                        help="optimiser steps per contender and round (default 3)")
    parser.add_argument("--peak-tflops", type=float, default=0.0,
                        help="the device's peak, for model FLOPs utilisation")
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def corpus_batches(config: Config, pairs: int, device: torch.device):
    """Batches of the first `pairs` training pairs of the bundled corpus, as the default model reads them."""
    examples, tokenizer = corpus_examples(pairs, config)
    batches = make_batches(examples, tokenizer, config.train.batch_size, np.random.default_rng(0),
                           config.train.max_tokens)
    return [batch.to(device) for batch in batches], tokenizer


def training_steps(model: torch.nn.Module, batches: list, dtype: torch.dtype, steps: int, real_only: bool):
    """A workload for `interleave`: `steps` optimiser steps on the next batches, returning target tokens.

    Every contender cycles through the same batches from the first, so each round gives them the same work."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(enabled=dtype == torch.float16)
    device = next(model.parameters()).device
    upcoming = itertools.cycle(batches)
    model.train()

    def run() -> float:
        tokens = 0
        for batch in itertools.islice(upcoming, steps):
            real = batch.tgt_out != model.config.pad_id  # (batch, tgt_len)
            with autocast(device, dtype):
                logits = model(batch.src, batch.tgt_in, batch.src_index, real if real_only else None)
            logits = logits if real_only else logits[real]  # (real tokens, vocab): the loss ignores padding
            loss = token_loss(logits, batch.tgt_out[real], reduction="sum") / real.sum()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(real.sum())
        synchronize(device)
        return float(tokens)

    return run


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def flops_per_token(parameters: int) -> float:
    """6 × parameters: a forward (2 per weight and token) and a backward (4). Attention is left out."""
    return 6.0 * parameters


# (label, builder, logits at real tokens only)
CONTENDERS = (("ours", build_model, True), ("reference", build_reference, False),
              ("reference, real-token logits", build_reference, True))


def compare_family(arch: str, base: Config, args, device: torch.device) -> list[dict]:
    """Ours against the references in each precision; prints a table, returns its rows."""
    config = with_overrides(base, "model", arch=arch)
    batches, tokenizer = corpus_batches(config, args.pairs, device)
    model_config = resolve_model(config.model, tokenizer.vocab_size, tokenizer.pad_id)
    parameters = num_parameters(build_model(model_config))
    assert parameters == num_parameters(build_reference(model_config)), (
        "the reference must have our parameter count")
    batching = (f"up to {config.train.max_tokens} tokens" if config.train.max_tokens
                else f"{config.train.batch_size} pairs")
    print(f"\n{arch}: {parameters:,} parameters in both, d_model {model_config.d_model}, layers "
          f"{model_config.n_encoder_layers} + {model_config.n_decoder_layers}, "
          f"vocabulary {tokenizer.vocab_size}, {len(batches)} batches of {batching}")
    print("| precision | ours tok/s | reference tok/s | ours / reference "
          "| ours / reference with real-token logits |"
          + (" MFU ours |" if args.peak_tflops else ""))
    print("|---|---|---|---|---|" + ("---|" if args.peak_tflops else ""))
    rows = []
    for name in args.precisions.split(","):
        workloads = {}
        for label, build, real_only in CONTENDERS:
            torch.manual_seed(0)
            model = build(model_config).to(device)
            workloads[label] = training_steps(model, batches, choose_precision(name, device), args.steps,
                                               real_only)
        timings = interleave(workloads, rounds=args.rounds)
        speed = timings.median_speed("ours")
        mfu = speed * flops_per_token(parameters) / (args.peak_tflops * 1e12) if args.peak_tflops else None
        rows.append({"arch": arch, "precision": name, "parameters": parameters, "mfu": mfu,
                     "tokens_per_s": {label: timings.median_speed(label) for label in workloads},
                     "ratio": timings.ratio("ours", "reference"),
                     "ratio_to_real_token_reference": timings.ratio("ours", "reference, real-token logits")})
        print(f"| {name} | {speed:,.0f} | {timings.median_speed('reference'):,.0f} | "
              f"{format_ratio(rows[-1]['ratio'])} | "
              f"{format_ratio(rows[-1]['ratio_to_real_token_reference'])} |"
              + (f" {mfu:.1%} |" if mfu is not None else ""))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    base = load_toml(args.config) if args.config else Config()
    base = with_overrides(base, "tokenizer", vocab_size=args.vocab_size)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; "
          f"{args.rounds} rounds of {args.steps} steps each; median tok/s and ours / reference (quartiles)")
    results = [row for arch in args.arch.split(",") for row in compare_family(arch, base, args, device)]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
