"""The Transformer encoder-decoder (Vaswani et al., 2017), written out layer by layer, with pre-LayerNorm.

    source ids ─► embed + positions ─► EncoderLayer × N ─► LayerNorm ─► memory
    target ids ─► embed + positions ─► DecoderLayer × N ─► LayerNorm ─► output ─► logits
                                             ▲ attends to memory        (tied)

Each layer adds what its sublayers compute to a residual stream: x = x + sublayer(LayerNorm(x)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from seq2seq.config import ModelConfig
from seq2seq.models.attention import KVCache, MultiHeadAttention, causal_mask, padding_mask
from seq2seq.models.base import Memory, Seq2SeqModel


class PositionalEncoding(nn.Module):
    """Adds a fixed sinusoidal position signal, because attention by itself ignores word order.

    Dimension pair (2i, 2i+1) at position pos holds sin and cos of pos / 10000^(2i / d_model): wavelengths
    from 2π to 10000·2π, so each position gets a distinct pattern and a fixed offset is a linear map of it.
    """

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                              * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)  # (max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        # A buffer, not a parameter: it moves with .to(device) but is never trained, and as it is
        # recomputed from the config it is left out of the state dict.
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (batch, len, d_model) holding positions start … start+len-1
        → x plus their position signal."""
        end = start + x.size(1)
        if end > self.table.size(0):
            raise ValueError(
                f"sequence of {end} pieces is longer than max_len={self.table.size(0)}, the longest the "
                "positional table covers; shorten the input or train a model with a larger max_len"
            )
        return x + self.table[start:end].to(x.dtype)


class FeedForward(nn.Module):
    """Position-wise two-layer network: widen to d_ff, GELU, back to d_model. Applied to each token alone."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(nn.functional.gelu(self.linear1(x)))  # (batch, len, d_ff) inside


class EncoderLayer(nn.Module):
    """Self-attention over the source, then a feed-forward network, each as a pre-LN residual branch.

    Why pre-LN (normalise the branch input, not the sum): the residual path stays an identity from the
    embeddings to the last layer, so gradients reach every layer unchanged and training is stable without
    a long learning-rate warm-up; the stack's output is normalised once by a final LayerNorm.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (batch, src_len, d_model); mask (batch, 1, 1, src_len) hides padding
        → (batch, src_len, d_model)."""
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, mask))
        x = x + self.dropout(self.ff(self.norm2(x)))
        return x


@dataclass
class LayerCache:
    """One decoder layer's cache during generation."""

    self_kv: KVCache  # keys/values of the target steps so far: (batch, heads, steps, head_dim)
    memory_kv: KVCache  # the encoder memory projected once per source: (batch, heads, src_len, head_dim)


class DecoderLayer(nn.Module):
    """Causal self-attention over the target so far, cross-attention to the source, then feed-forward."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.norm3 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """All target positions at once (training).

        x (batch, tgt_len, d_model); memory (batch, src_len, d_model); tgt_mask (1, 1, tgt_len, tgt_len)
        causal; memory_mask (batch, 1, 1, src_len) hides source padding → (batch, tgt_len, d_model).
        """
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, tgt_mask))
        x = x + self.dropout(self.cross_attn(self.norm2(x), memory, memory_mask))
        x = x + self.dropout(self.ff(self.norm3(x)))
        return x

    def start_cache(self, memory: torch.Tensor) -> LayerCache:
        """An empty self-attention cache and the projected memory, for a new generation."""
        memory_kv = self.cross_attn.project_kv(memory)  # keys, values: (batch, heads, src_len, head_dim)
        empty = memory_kv.key[:, :, :0]  # (batch, heads, 0, head_dim)
        return LayerCache(self_kv=KVCache(empty, empty), memory_kv=memory_kv)

    def step(
        self, x: torch.Tensor, memory_mask: torch.Tensor, cache: LayerCache
    ) -> tuple[torch.Tensor, LayerCache]:
        """The same computation as forward for one new step x (batch, 1, d_model), reading the cache.

        The new step attends to every cached step and itself: there is no future to hide yet.
        """
        # attended (batch, 1, d_model); self_kv one step longer: (batch, heads, steps + 1, head_dim)
        attended, self_kv = self.self_attn.extend(self.norm1(x), cache.self_kv)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.cross_attn(self.norm2(x), cache.memory_kv, memory_mask))
        x = x + self.dropout(self.ff(self.norm3(x)))
        return x, replace(cache, self_kv=self_kv)


@dataclass
class DecoderState:
    """What `Transformer.decode_step` carries from one step to the next: one cache per decoder layer."""

    layers: list[LayerCache]

    @property
    def steps(self) -> int:
        """Target tokens fed so far, which is also the position of the next one."""
        return self.layers[0].self_kv.length


class Transformer(Seq2SeqModel):
    """Encoder-decoder Transformer over one vocabulary shared by source and target."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.vocab_size <= 0:
            raise ValueError("vocab_size must be positive (set it from the tokenizer), "
                             f"got {config.vocab_size}")
        if config.n_decoder_layers < 1:
            raise ValueError(f"n_decoder_layers must be at least 1, got {config.n_decoder_layers}")
        self.config = config
        d = config.d_model
        layer_args = (d, config.n_heads, config.d_ff, config.dropout)
        self.embed = nn.Embedding(config.vocab_size, d)  # shared by source, target and output
        self.positions = PositionalEncoding(d, config.max_len)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(config.n_encoder_layers))
        self.encoder_norm = nn.LayerNorm(d)
        self.decoder_layers = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(config.n_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.output = nn.Linear(d, config.vocab_size, bias=False)
        self.output.weight = self.embed.weight  # tied: a piece is read and written with the same vector
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier for linears (keeps activation variance layer to layer), zero biases; embeddings get std
        d_model**-0.5, so that after the √d_model scaling token vectors have unit size like the positions,
        and the tied output starts with logits of about unit variance."""
        for module in self.modules():
            if isinstance(module, nn.Linear) and module is not self.output:
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.embed.weight, std=self.config.d_model**-0.5)

    def embed_tokens(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """ids (batch, len) at positions start… → (batch, len, d_model).

        The embedding is multiplied by √d_model because its entries are small (std d_model**-0.5): scaled,
        a token vector is as large as the position signal added to it, so neither drowns the other.
        """
        x = self.embed(ids) * math.sqrt(self.config.d_model)  # (batch, len, d_model)
        return self.dropout(self.positions(x, start))

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> Memory:
        """src_ids (batch, src_len); src_mask (batch, src_len), True at real tokens → Memory."""
        x = self.embed_tokens(src_ids)  # (batch, src_len, d_model)
        mask = padding_mask(src_mask)  # (batch, 1, 1, src_len)
        for layer in self.encoder_layers:
            x = layer(x, mask)
        return Memory(states=self.encoder_norm(x), src_mask=src_mask)

    def decoder_outputs(self, tgt_in_ids: torch.Tensor, memory: Memory) -> torch.Tensor:
        """All target positions at once: tgt_in_ids (batch, tgt_len) → (batch, tgt_len, d_model), which
        `forward` turns into logits.

        Only the causal mask is needed on the target: padding comes after the real tokens, so no real
        position can see it, and the loss ignores what the padded positions predict.
        """
        x = self.embed_tokens(tgt_in_ids)  # (batch, tgt_len, d_model)
        tgt_mask = causal_mask(tgt_in_ids.size(1), tgt_in_ids.device)  # (1, 1, tgt_len, tgt_len)
        memory_mask = padding_mask(memory.src_mask)  # (batch, 1, 1, src_len)
        for layer in self.decoder_layers:
            x = layer(x, memory.states, tgt_mask, memory_mask)
        return self.decoder_norm(x)

    def start_state(self, memory: Memory) -> DecoderState:
        """The state before the first target token: empty self-attention caches, memory projected once."""
        return DecoderState([layer.start_cache(memory.states) for layer in self.decoder_layers])

    def decode_step(
        self, prev_ids: torch.Tensor, memory: Memory, state: DecoderState | None = None
    ) -> tuple[torch.Tensor, DecoderState]:
        """prev_ids (batch,) → logits (batch, vocab) for the next token, and the state grown by one step."""
        if state is None:
            state = self.start_state(memory)
        x = self.embed_tokens(prev_ids[:, None], start=state.steps)  # (batch, 1, d_model)
        memory_mask = padding_mask(memory.src_mask)  # (batch, 1, 1, src_len)
        caches = []
        for layer, cache in zip(self.decoder_layers, state.layers):
            x, cache = layer.step(x, memory_mask, cache)
            caches.append(cache)
        return self.output_logits(self.decoder_norm(x)[:, 0]), DecoderState(caches)  # (batch, vocab)
