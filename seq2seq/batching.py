"""From pairs of strings to padded tensors the model can take, in batches of similar length.

For one pair ("borrow", "貸す") with pieces [▁borrow] and [▁, 貸, す]:

    src      = [▁borrow, EOS]         what the encoder reads
    tgt_in   = [BOS, ▁, 貸, す]        what the decoder is fed (shifted right by one)
    tgt_out  = [▁, 貸, す, EOS]        what it must predict at each position

Why buckets: padding costs compute. Sorting a chunk of pairs by length before cutting it into batches
puts short pairs with short ones, so little padding is needed; shuffling the batches keeps the order random.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from tokenizer import PAD_ID, Tokenizer

BUCKET_BATCHES = 50  # batches' worth of pairs sorted together by length


@dataclass
class Example:
    src: list[int]  # source pieces + EOS
    tgt: list[int]  # target pieces (BOS and EOS are added when batching)


@dataclass
class Batch:
    src: torch.Tensor  # (batch, src_len) padded with pad_id
    tgt_in: torch.Tensor  # (batch, tgt_len) BOS + target pieces
    tgt_out: torch.Tensor  # (batch, tgt_len) target pieces + EOS

    @property
    def n_target_tokens(self) -> int:
        return int((self.tgt_out != PAD_ID).sum())

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device))


def encode_source(tokenizer: Tokenizer, text: str) -> list[int]:
    """The encoder's input for one source string: its pieces and EOS (the same in training and decoding)."""
    return tokenizer.encode(text) + [tokenizer.eos_id]


def encode_pairs(pairs: pd.DataFrame, tokenizer: Tokenizer, max_len: int) -> tuple[list[Example], int]:
    """Tokenise every (source, target) pair; pairs too long for the model are left out and counted."""
    examples, too_long = [], 0
    for source, target in pairs[["source", "target"]].itertuples(index=False):
        example = Example(encode_source(tokenizer, source), tokenizer.encode(target))
        if len(example.src) > max_len or len(example.tgt) + 1 > max_len:
            too_long += 1
        else:
            examples.append(example)
    return examples, too_long


def pad(sequences: list[list[int]], pad_id: int) -> torch.Tensor:
    """Ragged lists → (batch, longest) tensor, padded on the right."""
    longest = max(len(seq) for seq in sequences)
    return torch.tensor([seq + [pad_id] * (longest - len(seq)) for seq in sequences], dtype=torch.long)


def collate(examples: list[Example], tokenizer: Tokenizer) -> Batch:
    bos, eos, pad_id = tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id
    return Batch(
        src=pad([ex.src for ex in examples], pad_id),
        tgt_in=pad([[bos] + ex.tgt for ex in examples], pad_id),
        tgt_out=pad([ex.tgt + [eos] for ex in examples], pad_id),
    )


def make_batches(
    examples: list[Example], tokenizer: Tokenizer, batch_size: int, rng: np.random.Generator | None = None
) -> list[Batch]:
    """Length-bucketed batches; with `rng`, pairs and batch order are shuffled, without it the order is fixed."""
    order = np.arange(len(examples)) if rng is None else rng.permutation(len(examples))
    chunk = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        bucket = sorted(order[start : start + chunk], key=lambda i: (len(examples[i].src), len(examples[i].tgt)))
        for first in range(0, len(bucket), batch_size):
            batches.append(collate([examples[i] for i in bucket[first : first + batch_size]], tokenizer))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
