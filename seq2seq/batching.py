"""From pairs of strings to padded tensors the model can take, in batches of similar length.

For one pair ("borrow", "貸す") with pieces [▁borrow] and [▁, 貸, す]:

    src      = [▁borrow, EOS]         what the encoder reads
    tgt_in   = [BOS, ▁, 貸, す]        what the decoder is fed (shifted right by one)
    tgt_out  = [▁, 貸, す, EOS]        what it must predict at each position

Why buckets: padding costs compute. Sorting a chunk of pairs by length before cutting it into batches
puts short pairs with short ones, so little padding is needed; shuffling the batches keeps the order random.

Why a word's pairs travel together: the bundled corpus gives each source about ten targets (ten near
misses of one word, in its semantic rows). A batch holds each distinct source once (`src`) and says
which source every pair reads (`src_index`), so the encoder reads a source once for all its targets.
The loss is the same as with a copy of the source per pair; only the repeated encoder work is gone.
(Keeping a word's targets together also pads them longer: in fp32 on a 2-core Xeon this was 0.87× as
fast, docs/BENCHMARKS.md.)
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
    src: torch.Tensor  # (sources, src_len) each distinct source of the batch once, padded with pad_id
    src_index: torch.Tensor  # (batch,) the row of `src` that each pair reads
    tgt_in: torch.Tensor  # (batch, tgt_len) BOS + target pieces
    tgt_out: torch.Tensor  # (batch, tgt_len) target pieces + EOS

    @property
    def n_target_tokens(self) -> int:
        return int((self.tgt_out != PAD_ID).sum())

    @property
    def pair_src(self) -> torch.Tensor:
        """(batch, src_len) the source of every pair, repeated where pairs share one."""
        return self.src.index_select(0, self.src_index)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.src.to(device), self.src_index.to(device), self.tgt_in.to(device),
                     self.tgt_out.to(device))


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
    """Pad the pairs into tensors; a source shared by several pairs is stored once."""
    bos, eos, pad_id = tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id
    rows: dict[tuple[int, ...], int] = {}  # source → its row in `src`, in order of first appearance
    src_index = [rows.setdefault(tuple(ex.src), len(rows)) for ex in examples]
    return Batch(
        src=pad([list(source) for source in rows], pad_id),
        src_index=torch.tensor(src_index, dtype=torch.long),
        tgt_in=pad([[bos] + ex.tgt for ex in examples], pad_id),
        tgt_out=pad([ex.tgt + [eos] for ex in examples], pad_id),
    )


def with_empty_sources(examples: list[Example], share: float, rng: np.random.Generator,
                       eos_id: int) -> list[Example]:
    """A copy of `examples` in which a random `share` of the pairs read the empty source (EOS alone).

    Why: the model then also learns p(target) with no word to go on, the distribution of outputs that
    fit any word. Ranking candidates by log p(d | word) − λ·log p(d | empty) (decoding.py) prefers
    those specific to this word over those likely everywhere (Li et al., 2016, mutual information).
    """
    if share <= 0:
        return examples
    emptied = rng.random(len(examples)) < share  # (pairs,)
    return [Example([eos_id], ex.tgt) if empty else ex for ex, empty in zip(examples, emptied)]


def make_batches(examples: list[Example], tokenizer: Tokenizer, batch_size: int,
                 rng: np.random.Generator | None = None, max_tokens: int = 0) -> list[Batch]:
    """Length-bucketed batches of `batch_size` pairs, or (max_tokens > 0) of up to `max_tokens` padded tokens.

    With `rng`, sources and batch order are shuffled; without it the order is fixed. The pairs of one
    source stay next to each other, so they mostly share a batch (and one pass of the encoder).
    """
    order = shuffled_by_source(examples, rng)
    # keeps a source's pairs together in a sort
    rank = {pair: position for position, pair in enumerate(order)}
    longest_target = longest_target_per_source(examples)
    batches = []
    for bucket in buckets(order, examples, batch_size, max_tokens):
        bucket = sorted(bucket, key=lambda i: (len(examples[i].src), longest_target[tuple(examples[i].src)],
                                               rank[i]))
        cut = cut_by_tokens(bucket, examples, max_tokens) if max_tokens else cut_by_count(bucket, batch_size)
        batches.extend(collate([examples[i] for i in indices], tokenizer) for indices in cut)
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def shuffled_by_source(examples: list[Example], rng: np.random.Generator | None) -> np.ndarray:
    """Pair indices, the pairs of each source next to each other; sources in random order given `rng`."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, example in enumerate(examples):
        groups.setdefault(tuple(example.src), []).append(i)
    grouped = list(groups.values())
    if rng is not None:
        grouped = [grouped[g] for g in rng.permutation(len(grouped))]
    return np.array([i for group in grouped for i in group], dtype=np.int64)


def longest_target_per_source(examples: list[Example]) -> dict[tuple[int, ...], int]:
    """Source → the length of its longest target: sorting by it too keeps batches' targets alike in length,
    which matters for a recurrent decoder, whose every step serves the whole batch."""
    longest: dict[tuple[int, ...], int] = {}
    for example in examples:
        key = tuple(example.src)
        longest[key] = max(longest.get(key, 0), len(example.tgt))
    return longest


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
