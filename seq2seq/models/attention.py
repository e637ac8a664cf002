"""Attention, both kinds: the Transformer's multi-head attention (with its masks and key/value cache) and
the recurrent decoder's attention of one query against the source (additive, dot or general).

Attention lets every query position take a weighted average of value vectors, the weights saying how well
the query matches each key:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d + mask) V

Masks here are boolean and mean "may attend": True where a query may look at a key, False where it may not
(padding, or a future target token). They broadcast to (batch, heads, q_len, k_len).

The two kinds differ in substance in two ways. Multi-head attention scores a query against a key with a
scaled dot product, in several heads at once, and the Transformer asks it for every position at once; the
recurrent decoder asks one query per step (its newest hidden state), scored by a small network (additive)
or a dot product (dot, general), in one head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def padding_mask(src_mask: torch.Tensor) -> torch.Tensor:
    """src_mask (batch, src_len), True at real tokens → (batch, 1, 1, src_len) attention mask.

    Padding only fills a batch to a common length; no query should read it, or an output would depend on
    how long the other sequences in its batch happen to be. The two singleton dimensions broadcast over
    heads and query positions.
    """
    return src_mask[:, None, None, :]


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(1, 1, length, length) mask, True on and below the diagonal: position i may attend to positions ≤ i.

    In training the decoder sees the whole target at once (teacher forcing); this mask hides the tokens
    it must learn to predict, so each position only uses what generation will have when it gets there.
    """
    allowed = torch.ones(length, length, dtype=torch.bool, device=device).tril()  # (length, length)
    return allowed[None, None]


@dataclass
class KVCache:
    """Keys and values already projected and split into heads, kept so they are not computed again.

    Decoder self-attention grows one step per generated token; cross-attention holds the projected encoder
    memory, computed once per source. Batch stays in dim 0 so `select_batch` can reorder hypotheses.
    """

    key: torch.Tensor  # (batch, heads, length, head_dim)
    value: torch.Tensor  # (batch, heads, length, head_dim)

    @property
    def length(self) -> int:
        return self.key.size(2)

    def append(self, new: KVCache) -> KVCache:
        """This cache followed by the `new` positions, along the length dimension."""
        return KVCache(torch.cat([self.key, new.key], dim=2), torch.cat([self.value, new.value], dim=2))


class MultiHeadAttention(nn.Module):
    """n_heads attentions side by side, each in a head_dim = d_model / n_heads slice of the model width.

    Several heads can follow different relations at once (e.g. one head the previous piece, another the
    source word's start) for the cost of a single full-width attention.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout  # on the attention weights, during training only
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        # compute the equation with PyTorch's fused kernel; False: the lines written out below
        self.fused = True
        self.store_weights = False  # True: keep the weights in `last_weights` (written-out lines only)
        self.last_weights: torch.Tensor | None = None  # (batch, heads, q_len, k_len), detached

    def forward(self, query: torch.Tensor, key_value: torch.Tensor | KVCache,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """query (batch, q_len, d_model) attends over key_value → (batch, q_len, d_model).

        key_value is (batch, k_len, d_model): the same tensor as query in self-attention, the encoder memory
        in cross-attention; or, during generation, keys and values projected at an earlier step (KVCache).
        mask: bool, True = may attend, broadcastable to (batch, heads, q_len, k_len).
        """
        batch, q_len, d_model = query.shape
        kv = key_value if isinstance(key_value, KVCache) else self.project_kv(key_value)
        k, v = kv.key, kv.value  # (batch, heads, k_len, head_dim) each
        # (batch, q_len, heads, head_dim)
        q = self.q_proj(query).view(batch, q_len, self.n_heads, self.head_dim)
        q = q.transpose(1, 2)  # (batch, heads, q_len, head_dim): each head its own slice of the width
        dropout = self.dropout if self.training else 0.0
        if self.fused and not self.store_weights:  # the fast path: the five lines below in one kernel
            output = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:
            # Divided by √head_dim: a dot product of unit-variance entries has variance head_dim; unscaled,
            # the softmax would saturate onto one key as the width grows, and its gradients vanish.
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (batch, heads, q_len, k_len)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))  # a key it may not see gets weight 0
            weights = scores.softmax(dim=-1)  # (batch, heads, q_len, k_len): each query's row sums to 1
            if self.store_weights:
                self.last_weights = weights.detach()
            output = F.dropout(weights, p=dropout) @ v  # (batch, heads, q_len, head_dim)
        # (batch, q_len, d_model): heads side by side
        merged = output.transpose(1, 2).reshape(batch, q_len, d_model)
        return self.out_proj(merged)

    def project_kv(self, key_value: torch.Tensor) -> KVCache:
        """key_value (batch, k_len, d_model) → keys and values, each (batch, heads, k_len, head_dim)."""
        batch, k_len, _ = key_value.shape
        k = self.k_proj(key_value).view(batch, k_len, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(key_value).view(batch, k_len, self.n_heads, self.head_dim).transpose(1, 2)
        return KVCache(k, v)

    def extend(self, query: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """Self-attention for new decoder steps during generation, reusing the steps already computed.

        query (batch, new_len, d_model): the new steps. Their keys and values join the cache; they attend
        to every cached step and causally to each other. Returns (output, the longer cache).
        """
        cache = cache.append(self.project_kv(query))
        new_len = query.size(1)
        if new_len == 1:
            mask = None  # one new step may see every cached step and itself
        else:  # the new steps are the last rows of a causal mask over the whole cache
            mask = causal_mask(cache.length, query.device)[:, :, -new_len:]  # (1, 1, new_len, cache length)
        return self(query, cache, mask), cache


# --- one query against the source: the recurrent decoder's attention ------------------------------------


class Attention(nn.Module):
    """One decoder query against every source state: scores → masked softmax → weighted average.

    The subclasses differ only in how a query and a key are scored. `prepare_keys` does the part of the
    score that depends on the keys alone, once per source rather than once per generated token.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model  # width of queries, keys and values
        self.store_weights = False  # set True to keep the last attention weights in `last_weights`
        self.last_weights: torch.Tensor | None = None  # (batch, src_len), detached

    def prepare_keys(self, states: torch.Tensor) -> torch.Tensor:
        """states (batch, src_len, d_model) → keys (batch, src_len, d_model) as `score` wants them."""
        return states

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (batch, d_model), keys (batch, src_len, d_model) → scores (batch, src_len)."""
        raise NotImplementedError

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, src_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (batch, d_model) reads values (batch, src_len, d_model) → (context (batch, d_model),
        weights (batch, src_len)).

        src_mask (batch, src_len) is True at real tokens. Padding scores become -inf, so their weights are
        exactly 0: an output never depends on how long the other sources in its batch happen to be.
        """
        scores = self.score(query, keys).masked_fill(~src_mask, float("-inf"))  # (batch, src_len)
        weights = scores.softmax(dim=-1)  # each query's weights over the source sum to 1
        if self.store_weights:
            self.last_weights = weights.detach()
        # (batch, 1, src_len) @ (batch, src_len, d) → (batch, d)
        context = (weights[:, None, :] @ values).squeeze(1)
        return context, weights


class AdditiveAttention(Attention):
    """Bahdanau: score(q, k) = vᵀ tanh(W q + U k).

    A small one-hidden-layer network judges each (query, key) pair, so query and key may live in
    different spaces; U k is the same for every decoder step and is computed once, in `prepare_keys`.
    """

    def __init__(self, d_model: int):
        super().__init__(d_model)
        self.query_proj = nn.Linear(d_model, d_model, bias=False)  # W
        self.key_proj = nn.Linear(d_model, d_model)  # U, and the one bias the sum needs
        self.v = nn.Linear(d_model, 1, bias=False)

    def prepare_keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key_proj(states)  # (batch, src_len, d_model): U k

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.query_proj(query)[:, None, :] + keys)  # (batch, src_len, d_model)
        return self.v(hidden).squeeze(-1)  # (batch, src_len)


class DotAttention(Attention):
    """Luong dot: score(q, k) = qᵀ k. No parameters: the decoder must learn to speak the encoder's space.

    Unlike the Transformer's attention it is not divided by √d: the recurrent states are bounded by tanh,
    and Luong et al. used it unscaled.
    """

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # (batch, src_len, d) @ (batch, d, 1) → (batch, src_len)
        return (keys @ query[:, :, None]).squeeze(-1)


class GeneralAttention(Attention):
    """Luong general: score(q, k) = qᵀ W k. A learned W maps between the decoder's and the encoder's
    spaces; W k is computed once per source, and what is left is the dot product with the query."""

    def __init__(self, d_model: int):
        super().__init__(d_model)
        self.key_proj = nn.Linear(d_model, d_model, bias=False)  # W

    def prepare_keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key_proj(states)  # (batch, src_len, d_model): W k

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # (batch, src_len, d) @ (batch, d, 1) → (batch, src_len)
        return (keys @ query[:, :, None]).squeeze(-1)


ATTENTIONS = {"additive": AdditiveAttention, "dot": DotAttention, "general": GeneralAttention}
