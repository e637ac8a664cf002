"""Attention: scaled dot-product, its masks, multi-head attention and the key/value cache.

Attention lets every query position take a weighted average of value vectors, the weights saying how well
the query matches each key:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d + mask) V

Masks here are boolean and mean "may attend": True where a query may look at a key, False where it may not
(padding, or a future target token). They broadcast to (batch, heads, q_len, k_len).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q kᵀ / √head_dim, masked) v.

    q (batch, heads, q_len, head_dim); k and v (batch, heads, k_len, head_dim).

    Why divide by √head_dim: a dot product of two vectors with unit-variance entries has variance head_dim.
    Unscaled, the scores grow with the width, the softmax saturates onto one key and its gradients vanish.

    mask: bool, True = may attend, broadcastable to (batch, heads, q_len, k_len). Masked scores become -inf,
    so their weights are exactly 0. Every query row needs at least one True, or its weights are undefined.

    Returns (output (batch, heads, q_len, head_dim), weights (batch, heads, q_len, k_len) or None).
    With need_weights=True the equation is computed step by step below and the weights (before dropout)
    are returned, e.g. for attention maps; otherwise PyTorch's fused kernel computes the same thing faster.
    """
    if not need_weights:
        output = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        return output, None
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (batch, heads, q_len, k_len)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # each query's weights over the keys sum to 1
    output = F.dropout(weights, p=dropout_p) @ v  # (batch, heads, q_len, head_dim)
    return output, weights


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
        self.store_weights = False  # set True to keep the last attention weights in `last_weights`
        self.last_weights: torch.Tensor | None = None  # (batch, heads, q_len, k_len), detached

    def forward(
        self, query: torch.Tensor, key_value: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """query (batch, q_len, d_model) attends over key_value (batch, k_len, d_model).

        Returns (batch, q_len, d_model).

        Self-attention passes the same tensor twice; cross-attention passes the encoder memory as key_value.
        """
        return self.attend(query, self.project_kv(key_value), mask)

    def extend(self, query: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """Self-attention for new decoder steps during generation, reusing the steps already computed.

        query (batch, new_len, d_model): the new steps. Their keys/values are appended to `cache`, and they
        attend to all cached steps and to each other causally. Returns (output, the longer cache).
        """
        cache = cache.append(self.project_kv(query))
        new_len = query.size(1)
        # The new steps are the last rows of a causal mask over the whole cache.
        mask = causal_mask(cache.length, query.device)[:, :, -new_len:] if new_len > 1 else None
        return self.attend(query, cache, mask), cache

    def project_kv(self, key_value: torch.Tensor) -> KVCache:
        """key_value (batch, k_len, d_model) → keys and values, each (batch, heads, k_len, head_dim)."""
        return KVCache(self.split_heads(self.k_proj(key_value)), self.split_heads(self.v_proj(key_value)))

    def attend(self, query: torch.Tensor, kv: KVCache, mask: torch.Tensor | None = None) -> torch.Tensor:
        """query (batch, q_len, d_model) attends over projected keys/values → (batch, q_len, d_model)."""
        q = self.split_heads(self.q_proj(query))  # (batch, heads, q_len, head_dim)
        dropout_p = self.dropout if self.training else 0.0
        output, weights = scaled_dot_product_attention(
            q, kv.key, kv.value, mask, dropout_p, need_weights=self.store_weights
        )
        if self.store_weights:
            self.last_weights = weights.detach()
        return self.out_proj(self.merge_heads(output))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, len, d_model) → (batch, heads, len, head_dim): each head gets its own slice of the width."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, heads, len, head_dim) → (batch, len, d_model): the heads' outputs side by side again."""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.n_heads * self.head_dim)
