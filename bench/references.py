"""The yardsticks the speed benchmarks measure our models against: the same models built from PyTorch's own
layers, written the way a PyTorch user would write them.

- `ReferenceTransformer`: `nn.Transformer` with our embedding, positions and tied output.
- `ReferenceRecurrent`: our GRU/LSTM model with the decoder built from `nn.GRU`/`nn.LSTM`, run one step at
  a time over every row of the batch, with our very attention module.

Both have exactly our parameter count, take the same batches and return the same logits; what differs is
only how the work is done. Given `positions`, they apply the output layer only there, as ours does; the
benchmark also runs them without, computing logits at every target position, padding included, and
leaving the padding to the loss, as most code on PyTorch's layers does.
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seq2seq.config import ModelConfig  # noqa: E402
from seq2seq.models.attention import ATTENTIONS  # noqa: E402
from seq2seq.models.rnn import RECURRENT_LAYERS  # noqa: E402
from seq2seq.models.transformer import PositionalEncoding  # noqa: E402


def at_positions(outputs: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """(batch, tgt_len, d_model) decoder outputs → all of them, or (positions.sum(), d_model) those at
    `positions`, which are all the output layer then sees, as in our models."""
    return outputs if positions is None else outputs[positions]


class ReferenceTransformer(nn.Module):
    """nn.Transformer with the same embedding, positions and tied output as ours."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.positions = PositionalEncoding(config.d_model, config.max_len)
        with warnings.catch_warnings():  # its note that norm_first layers cannot use nested tensors
            warnings.filterwarnings("ignore", message="enable_nested_tensor")
            self.core = nn.Transformer(config.d_model, config.n_heads, config.n_encoder_layers,
                                       config.n_decoder_layers, config.d_ff, config.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
        self.output = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.output.weight = self.embed.weight

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.positions(self.embed(ids) * math.sqrt(self.config.d_model))  # (batch, len, d_model)

    def forward(self, src_ids, tgt_in_ids, src_index=None, positions=None):
        """As ours: each distinct source encoded once, then every target reads its own (src_index)."""
        causal = self.core.generate_square_subsequent_mask(tgt_in_ids.size(1), dtype=torch.bool)
        padding = src_ids == self.config.pad_id  # (sources, src_len) True = ignore, PyTorch's convention
        memory = self.core.encoder(self.embed_tokens(src_ids), src_key_padding_mask=padding)
        if src_index is not None:
            memory, padding = memory.index_select(0, src_index), padding.index_select(0, src_index)
        hidden = self.core.decoder(self.embed_tokens(tgt_in_ids), memory, tgt_mask=causal,
                                   memory_key_padding_mask=padding, tgt_is_causal=True)
        return self.output(at_positions(hidden, positions))  # (batch, tgt_len, vocab) without positions


class ReferenceRecurrent(nn.Module):
    """Our recurrent model (bidirectional encoder, bridge, input feeding, attention, tied output) with the
    decoder written on `nn.GRU`/`nn.LSTM`: every row runs every step, padding included."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        encoder_class, _ = RECURRENT_LAYERS[config.arch]
        self.embed = nn.Embedding(config.vocab_size, d)
        self.encoder = encoder_class(d, d // 2, config.n_encoder_layers, batch_first=True, bidirectional=True)
        self.bridge = nn.ModuleList(nn.Linear(d, d) for _ in range(config.n_decoder_layers))
        self.decoder = encoder_class(2 * d, d, config.n_decoder_layers, batch_first=True)
        self.attention = ATTENTIONS[config.attention](d)
        self.combine = nn.Linear(2 * d, d, bias=False)
        self.output = nn.Linear(d, config.vocab_size, bias=False)
        self.output.weight = self.embed.weight

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids) * math.sqrt(self.config.d_model)

    def encode(self, src_ids: torch.Tensor):
        """→ states (sources, src_len, d), final (encoder layers, sources, d): each layer's two ends."""
        lengths = (src_ids != self.config.pad_id).sum(dim=1)
        packed = pack_padded_sequence(self.embed_tokens(src_ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        packed_states, last = self.encoder(packed)
        states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=src_ids.size(1))
        hidden = last[0] if isinstance(last, tuple) else last  # (layers · 2, sources, d/2)
        final = torch.cat([hidden[0::2], hidden[1::2]], dim=-1)  # (layers, sources, d): forward ⊕ backward
        return states, final

    def forward(self, src_ids, tgt_in_ids, src_index=None, positions=None):
        states, final = self.encode(src_ids)
        src_mask = src_ids != self.config.pad_id
        if src_index is not None:
            states, final, src_mask = states[src_index], final[:, src_index], src_mask[src_index]
        bridged = [final[min(i, final.size(0) - 1)] for i in range(len(self.bridge))]
        # (layers, batch, d)
        hidden = torch.stack([torch.tanh(bridge(h)) for bridge, h in zip(self.bridge, bridged)])
        carried = (hidden, torch.zeros_like(hidden)) if self.config.arch == "lstm" else hidden
        keys = self.attention.prepare_keys(states)
        attentional = torch.zeros_like(hidden[0])  # (batch, d)
        outputs = []
        for t in range(tgt_in_ids.size(1)):
            # (batch, 1, 2d)
            step_input = torch.cat([self.embed_tokens(tgt_in_ids[:, t]), attentional], dim=-1)[:, None]
            top, carried = self.decoder(step_input, carried)  # (batch, 1, d)
            context, _ = self.attention(top[:, 0], keys, states, src_mask)
            attentional = torch.tanh(self.combine(torch.cat([context, top[:, 0]], dim=-1)))  # (batch, d)
            outputs.append(attentional)
        # (batch, tgt_len, vocab) without
        return self.output(at_positions(torch.stack(outputs, dim=1), positions))

    def load_ours(self, ours: nn.Module) -> None:
        """Take the weights of our RecurrentSeq2Seq, so both compute the very same function."""
        state = {}
        for name, value in ours.state_dict().items():
            if name.startswith("decoder.layers."):  # our stack of cells → nn.GRU's per-layer parameters
                _, _, layer, weight = name.split(".")
                name = f"decoder.{weight}_l{layer}"
            state[name.replace("encoder.rnn.", "encoder.").replace("decoder.bridge.", "bridge.")
                  .replace("decoder.attention.", "attention.")
                  .replace("decoder.combine.", "combine.")] = value
        self.load_state_dict(state)


def build_reference(config: ModelConfig) -> nn.Module:
    return ReferenceTransformer(config) if config.arch == "transformer" else ReferenceRecurrent(config)
