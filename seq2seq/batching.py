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


def encode_pairs(pairs: pd.DataFrame, tokenizer: Tokenizer, max_len: int,
                 inputs: list[str] | None = None) -> tuple[list[Example], int]:
    """Tokenise every pair; pairs too long for the model are left out and counted.

    `inputs` are the encoder's texts, one per row (see data.source_text); by default the source column.
    """
    examples, too_long = [], 0
    sources = list(pairs["source"]) if inputs is None else inputs
    for source, target in zip(sources, pairs["target"]):
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


def make_batches(examples: list[Example], tokenizer: Tokenizer, batch_size: int,
                 rng: np.random.Generator | None = None, max_tokens: int = 0) -> list[Batch]:
    """Length-bucketed batches of `batch_size` pairs, or (max_tokens > 0) of up to `max_tokens` padded tokens.

    With `rng`, pairs and batch order are shuffled; without it the order is fixed.
    """
    order = np.arange(len(examples)) if rng is None else rng.permutation(len(examples))
    batches = []
    for bucket in buckets(order, examples, batch_size, max_tokens):
        bucket = sorted(bucket, key=lambda i: (len(examples[i].src), len(examples[i].tgt)))
        cut = cut_by_tokens(bucket, examples, max_tokens) if max_tokens else cut_by_count(bucket, batch_size)
        batches.extend(collate([examples[i] for i in indices], tokenizer) for indices in cut)
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def padded_size(example: Example) -> int:
    """The longer side of a pair in the padded batch tensors (the target gains BOS or EOS)."""
    return max(len(example.src), len(example.tgt) + 1)


def buckets(order: np.ndarray, examples: list[Example], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Consecutive slices of `order` holding about BUCKET_BATCHES batches each."""
    if not max_tokens:
        chunk = batch_size * BUCKET_BATCHES
        return [list(order[start : start + chunk]) for start in range(0, len(order), chunk)]
    sizes = np.cumsum([padded_size(examples[i]) for i in order])
    bucket_of = sizes // (max_tokens * BUCKET_BATCHES)  # which bucket each pair's tokens fall in
    return [list(order[bucket_of == b]) for b in np.unique(bucket_of)]


def cut_by_count(bucket: list[int], batch_size: int) -> list[list[int]]:
    return [bucket[first : first + batch_size] for first in range(0, len(bucket), batch_size)]


def cut_by_tokens(bucket: list[int], examples: list[Example], max_tokens: int) -> list[list[int]]:
    """Fill each batch while (pairs × longest pair) stays within `max_tokens`; a lone longer pair still
    gets a batch of its own, so nothing is lost."""
    batches, current, longest = [], [], 0
    for i in bucket:
        size = padded_size(examples[i])
        if current and (len(current) + 1) * max(longest, size) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, size)
    if current:
        batches.append(current)
    return batches
