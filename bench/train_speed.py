"""Training throughput of our Transformer against PyTorch's nn.Transformer, on real batches.

    python bench/train_speed.py                       # default model sizes, fp32 and bf16
    python bench/train_speed.py --d-model 128 --layers 2 --steps 30

Both models get the same sizes, the same batches (length-bucketed pairs from the bundled corpus, the
tokenizer trained on them) and the same optimiser; the result is target tokens per second and the ratio
ours / reference measured in one run, so the machine's speed cancels out. Run it alone: another busy
process on a 2-core machine halves the numbers.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.batching import encode_pairs, make_batches  # noqa: E402
from seq2seq.config import ModelConfig, TrainConfig  # noqa: E402
from seq2seq.data import load_pairs  # noqa: E402
from seq2seq.models import build_model, num_parameters  # noqa: E402
from seq2seq.trainer import Trainer  # noqa: E402
from tokenizer import train_tokenizer  # noqa: E402


class ReferenceTransformer(nn.Module):
    """nn.Transformer with the same embedding, positions and tied output as ours: the speed yardstick."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.core = nn.Transformer(config.d_model, config.n_heads, config.n_encoder_layers, config.n_decoder_layers,
                                   config.d_ff, config.dropout, activation="gelu", batch_first=True, norm_first=True)
        self.output = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.output.weight = self.embed.weight
        position = torch.arange(config.max_len)[:, None]
        frequency = torch.exp(torch.arange(0, config.d_model, 2) * (-math.log(10000.0) / config.d_model))
        table = torch.zeros(config.max_len, config.d_model)
        table[:, 0::2], table[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
        self.register_buffer("table", table, persistent=False)

    def embed_tokens(self, ids):
        return self.embed(ids) * math.sqrt(self.config.d_model) + self.table[: ids.size(1)]

    def forward(self, src_ids, tgt_in_ids, src_index=None):
        """As ours: each distinct source encoded once, then every target reads its own (src_index)."""
        causal = self.core.generate_square_subsequent_mask(tgt_in_ids.size(1), dtype=torch.bool)
        padding = src_ids == self.config.pad_id
        memory = self.core.encoder(self.embed_tokens(src_ids), src_key_padding_mask=padding)
        if src_index is not None:
            memory, padding = memory.index_select(0, src_index), padding.index_select(0, src_index)
        hidden = self.core.decoder(self.embed_tokens(tgt_in_ids), memory, tgt_mask=causal,
                                   memory_key_padding_mask=padding, tgt_is_causal=True)
        return self.output(hidden)


def tokens_per_second(model, batches, dtype, steps: int, warmup: int = 3) -> float:
    trainer = Trainer(model, TrainConfig(), 0, torch.device("cpu"), dtype, folder=None, progress=False)
    for batch in batches[:warmup]:
        trainer.train_step([batch])
    speeds = []
    for batch in batches[warmup : warmup + steps]:
        start = time.perf_counter()
        trainer.train_step([batch])
        speeds.append(batch.n_target_tokens / (time.perf_counter() - start))
    return statistics.median(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "distractors.csv.gz"))
    parser.add_argument("--d-model", type=int, default=192)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--d-ff", type=int, default=768)
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="enable_nested_tensor")  # nn.Transformer's note on norm_first

    pairs = load_pairs(args.data)
    tokenizer = train_tokenizer(list(pairs["source"]) + list(pairs["target"]), args.vocab_size)
    examples, _ = encode_pairs(pairs, tokenizer, max_len=64)
    batches = make_batches(examples, tokenizer, args.batch_size, np.random.default_rng(0))
    config = ModelConfig(arch="transformer", vocab_size=tokenizer.vocab_size, d_model=args.d_model, n_heads=args.heads,
                         n_encoder_layers=args.layers, n_decoder_layers=args.layers, d_ff=args.d_ff)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; d_model {args.d_model}, layers "
          f"{args.layers}+{args.layers}, d_ff {args.d_ff}, vocab {tokenizer.vocab_size}, batch {args.batch_size}, "
          f"median of {args.steps} steps")
    print("| precision | ours tok/s | nn.Transformer tok/s | ours / reference |")
    print("|---|---|---|---|")
    for name, dtype in [("fp32", torch.float32), ("bf16", torch.bfloat16)]:
        torch.manual_seed(0)
        ours = build_model(config)
        torch.manual_seed(0)
        reference = ReferenceTransformer(config)
        assert num_parameters(ours) == num_parameters(reference)
        ours_speed = tokens_per_second(ours, batches, dtype, args.steps)
        reference_speed = tokens_per_second(reference, batches, dtype, args.steps)
        print(f"| {name} | {ours_speed:,.0f} | {reference_speed:,.0f} | {ours_speed / reference_speed:.2f} |")


if __name__ == "__main__":
    main()
