"""The recurrent encoder-decoder with attention (Bahdanau et al., 2015; Luong et al., 2015), GRU or LSTM.

    source ids ─► embed ─► bidirectional GRU/LSTM × N ─► states (one vector per source token)
                                      └─► final states ─► bridge ─► decoder's first hidden state
    prev id ─► embed ⊕ previous attentional vector ─► GRU/LSTM cell × N ─► h
                                    h attends over the states ─► context c
                                    tanh(W_c [c; h]) = attentional vector ─► output (tied) ─► logits

A recurrent network reads a sequence one token at a time and carries what it has read in a hidden state.
The encoder reads the source both ways, so each token's vector knows its left and its right context.
The decoder writes the target one token at a time; at each step attention lets it look back at every
source vector instead of squeezing the whole word through one final state. Input feeding hands the
attentional vector of one step to the next, so the decoder knows where it looked last time.

Training and generation run the very same decoder step (`InputFeedingDecoder.step`): `decoder_outputs`
loops it over the target, and `forward` then applies the output layer to every position at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seq2seq.config import ModelConfig
from seq2seq.models.attention import ATTENTIONS
from seq2seq.models.base import Memory, Seq2SeqModel, first_rows, select_batch

# arch → (encoder, decoder step)
RECURRENT_LAYERS = {"gru": (nn.GRU, nn.GRUCell), "lstm": (nn.LSTM, nn.LSTMCell)}


# --- encoder --------------------------------------------------------------------------------------------


@dataclass
class RecurrentMemory(Memory):
    """What the recurrent encoder hands over: the per-token states, and what it knew at each end."""

    # (batch, encoder layers, d_model) per layer: the forward state at the last real token beside the
    # backward state at the first, i.e. each direction after reading the whole source
    final: torch.Tensor


class BidirectionalEncoder(nn.Module):
    """A GRU/LSTM reading left to right and another reading right to left, d_model/2 wide each.

    A token's state is the two directions side by side (d_model): what came before it and what comes after.
    Sources are packed by length, so each direction stops (or starts) at the last real token: padding
    never enters a state, and the backward direction starts from the word's true end.
    """

    def __init__(self, arch: str, d_model: int, n_layers: int, dropout: float):
        super().__init__()
        rnn_class, _ = RECURRENT_LAYERS[arch]
        self.rnn = rnn_class(d_model, d_model // 2, n_layers, batch_first=True, bidirectional=True,
                             dropout=dropout if n_layers > 1 else 0.0)  # dropout acts between layers

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, src_len, d_model) embedded source; lengths (batch,) real tokens per row, padding last.

        Returns (states (batch, src_len, d_model), zero at padding; final (batch, layers, d_model)).
        """
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_states, last = self.rnn(packed)  # last: (layers · 2 directions, batch, d_model/2)
        # (batch, src_len, d_model): both directions side by side, zero at padding
        states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=x.size(1))
        hidden = last[0] if isinstance(last, tuple) else last  # an LSTM returns (hidden, cell): keep hidden
        layers_x2, batch, half = hidden.shape  # (layers · 2 directions, batch, d_model/2)
        by_layer = hidden.view(layers_x2 // 2, 2, batch, half)  # (layers, direction, batch, d_model/2)
        # (batch, layers, d_model)
        final = by_layer.permute(2, 0, 1, 3).reshape(batch, layers_x2 // 2, 2 * half)
        return states, final


# --- decoder --------------------------------------------------------------------------------------------


@dataclass
class DecoderState:
    """What `RecurrentSeq2Seq.decode_step` carries from one step to the next; batch first in every tensor.

    PyTorch's recurrent layers keep hidden states as (layers, batch, d); here they are (batch, layers, d)
    so that `select_batch` can reorder or repeat hypotheses along dim 0 like every other state.
    """

    hidden: torch.Tensor  # (batch, decoder layers, d_model) each layer's output at the last step
    cell: torch.Tensor | None  # (batch, decoder layers, d_model) an LSTM's cell memory; None for a GRU
    attentional: torch.Tensor  # (batch, d_model) the last step's attentional vector, fed into the next step
    keys: torch.Tensor  # (batch, src_len, d_model) the source states prepared for scoring, once per source


class InputFeedingDecoder(nn.Module):
    """A stack of GRU/LSTM cells, one step at a time, attending to the source after each step (Luong).

    The first cell reads the previous token's embedding beside the previous attentional vector, so the
    decoder knows what it attended to a step ago (and can avoid translating the same piece twice).
    """

    def __init__(self, arch: str, d_model: int, n_layers: int, n_encoder_layers: int, dropout: float,
                 attention: str):
        super().__init__()
        _, cell_class = RECURRENT_LAYERS[arch]
        self.layers = nn.ModuleList(cell_class(2 * d_model if i == 0 else d_model, d_model)
                                    for i in range(n_layers))
        # Decoder layer i starts from encoder layer i; a deeper decoder's extra layers start from the top one.
        self.bridged_layer = [min(i, n_encoder_layers - 1) for i in range(n_layers)]
        self.bridge = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers))
        self.attention = ATTENTIONS[attention](d_model)
        self.combine = nn.Linear(2 * d_model, d_model, bias=False)  # W_c in tanh(W_c [c; h])
        self.dropout = nn.Dropout(dropout)

    def step(self, embedded: torch.Tensor, memory: RecurrentMemory,
             state: DecoderState) -> tuple[torch.Tensor, DecoderState]:
        """One step: embedded (batch, d_model), the previous token → (attentional vector (batch, d_model),
        the state after this step)."""
        x = torch.cat([embedded, state.attentional], dim=-1)  # (batch, 2·d_model): input feeding
        hiddens, cells = [], []  # each layer's new hidden (and LSTM cell) state, (batch, d_model) each
        for i, layer in enumerate(self.layers):
            if state.cell is None:  # a GRU carries its hidden state alone
                hidden, cell = layer(x, state.hidden[:, i]), None  # (batch, d_model)
            else:  # an LSTM carries a cell memory beside it
                hidden, cell = layer(x, (state.hidden[:, i], state.cell[:, i]))  # (batch, d_model) each
            hiddens.append(hidden)
            cells.append(cell)
            x = self.dropout(hidden)  # (batch, d_model): the input of the layer above
        top = hiddens[-1]  # (batch, d_model): the top layer's output is the query
        context, _ = self.attention(top, state.keys, memory.states, memory.src_mask)  # (batch, d_model)
        attentional = torch.tanh(self.combine(torch.cat([context, top], dim=-1)))  # (batch, d_model)
        hidden = torch.stack(hiddens, dim=1)  # (batch, layers, d_model)
        cell = torch.stack(cells, dim=1) if state.cell is not None else None  # (batch, layers, d_model)
        return attentional, DecoderState(hidden, cell, attentional, state.keys)


# --- the whole model ------------------------------------------------------------------------------------


class RecurrentSeq2Seq(Seq2SeqModel):
    """Bidirectional GRU/LSTM encoder, attention, input-feeding decoder; one vocabulary for all of it.

    config.arch picks the recurrent layer ("gru" or "lstm"), config.attention the score ("additive",
    "dot" or "general"); d_model is the embedding and decoder width, n_*_layers the recurrent depths.
    """

    renamed_parameters = {"embedding.weight": "embed.weight"}  # as the Transformer names it (2026-12-02)

    def __init__(self, config: ModelConfig):
        super().__init__()
        check_config(config)
        self.config = config
        d = config.d_model
        self.embed = nn.Embedding(config.vocab_size, d)  # shared by source, target and output
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = BidirectionalEncoder(config.arch, d, config.n_encoder_layers, config.dropout)
        self.decoder = InputFeedingDecoder(config.arch, d, config.n_decoder_layers, config.n_encoder_layers,
                                           config.dropout, config.attention)
        self.output = nn.Linear(d, config.vocab_size, bias=False)
        self.output.weight = self.embed.weight  # tied: a piece is read and written with the same vector
        # Small embeddings (as in the Transformer) keep the tied output's first logits near unit variance;
        # `embed_tokens` scales them by √d_model so the recurrent layers read entries of unit size.
        nn.init.normal_(self.embed.weight, std=d**-0.5)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (batch, …) → (batch, …, d_model), scaled to entries of about unit size, with dropout."""
        return self.dropout(self.embed(ids) * math.sqrt(self.config.d_model))

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> RecurrentMemory:
        """src_ids (batch, src_len); src_mask (batch, src_len), True at real tokens,
        padding last → memory."""
        lengths = src_mask.sum(dim=1)  # (batch,)
        longest = int(lengths.max())
        if longest > self.config.max_len:
            raise ValueError(
                f"source of {longest} pieces is longer than max_len={self.config.max_len}, the longest this "
                "model accepts; shorten the input or train a model with a larger max_len"
            )
        # (batch, src_len, d), (batch, layers, d)
        states, final = self.encoder(self.embed_tokens(src_ids), lengths)
        return RecurrentMemory(states=states, src_mask=src_mask, final=final)

    def start_state(self, memory: RecurrentMemory) -> DecoderState:
        """The state before the first target token.

        The bridge, h₀ = tanh(W final + b) per layer, turns what the encoder knew at the two ends of the
        source into the decoder's first hidden state, so generation starts from the source's summary
        rather than from zero. An LSTM's cell starts at zero: its gates write into it from the first step.
        The attentional vector starts at zero: nothing has been attended to yet.
        """
        decoder = self.decoder
        final = memory.final[:, decoder.bridged_layer]  # (batch, decoder layers, d_model)
        hidden = torch.stack([torch.tanh(bridge(final[:, i])) for i, bridge in enumerate(decoder.bridge)],
                             dim=1)  # (batch, decoder layers, d_model)
        cell = torch.zeros_like(hidden) if self.config.arch == "lstm" else None
        attentional = torch.zeros_like(hidden[:, 0])  # (batch, d_model)
        return DecoderState(hidden, cell, attentional, decoder.attention.prepare_keys(memory.states))

    def decode_step(
        self, prev_ids: torch.Tensor, memory: RecurrentMemory, state: DecoderState | None = None
    ) -> tuple[torch.Tensor, DecoderState]:
        """prev_ids (batch,) → logits (batch, vocab) for the next token, and the state after this step."""
        attentional, state = self.attend_step(prev_ids, memory, state)  # (batch, d_model)
        return self.output_logits(self.dropout(attentional)), state

    def attend_step(self, prev_ids: torch.Tensor, memory: RecurrentMemory,
                    state: DecoderState | None) -> tuple[torch.Tensor, DecoderState]:
        """One decoder step up to the attentional vector (batch, d_model), before the output layer."""
        if state is None:
            state = self.start_state(memory)
        return self.decoder.step(self.embed_tokens(prev_ids), memory, state)

    def decoder_outputs(self, tgt_in_ids: torch.Tensor, memory: RecurrentMemory) -> torch.Tensor:
        """Teacher forcing: tgt_in_ids (batch, tgt_len) → attentional vectors (batch, tgt_len, d_model),
        zero at padding; `forward` applies the output layer (once for all positions: one large matrix
        product is faster than one per step).

        A recurrent decoder cannot take all target positions at once, since each step needs the last
        one's state, so training feeds the true previous tokens through the same step as `decode_step`,
        one at a time. Targets are sorted longest first, so the rows still running at step t are the
        first few: each step runs only those, and a short target's padding costs nothing (in the bundled
        corpus about 40% of a batch's target positions are padding).
        """
        batch, tgt_len = tgt_in_ids.shape
        lengths = (tgt_in_ids != self.config.pad_id).sum(dim=1)  # (batch,) BOS and the pieces
        order = lengths.argsort(descending=True)  # longest first
        memory, tgt_in_ids = select_batch(memory, order), tgt_in_ids[order]
        # (tgt_len,): how many targets are still running at each step
        running = (lengths[order][None, :] > torch.arange(tgt_len, device=lengths.device)[:, None]).sum(dim=1)
        state, steps = None, []
        for t, n in enumerate(running.tolist()):  # n: targets still running at step t, (tgt_len,) in all
            step, state = self.attend_step(tgt_in_ids[:n, t], first_rows(memory, n), first_rows(state, n))
            steps.append(nn.functional.pad(step, (0, 0, 0, batch - n)))  # (batch, d_model), zero where ended
        outputs = torch.stack(steps, dim=1)  # (batch, tgt_len, d_model), longest first
        return self.dropout(outputs[order.argsort()])  # back in the batch's own order


def check_config(config: ModelConfig) -> None:
    """Refuse settings the recurrent model cannot be built from, saying which and why."""
    if config.arch not in RECURRENT_LAYERS:
        raise ValueError(f"arch '{config.arch}' is not a recurrent model; "
                         f"choose one of: {', '.join(RECURRENT_LAYERS)}")
    if config.attention not in ATTENTIONS:
        raise ValueError(f"attention '{config.attention}' is not known; "
                         f"choose one of: {', '.join(ATTENTIONS)}")
    if config.vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive (set it from the tokenizer), got {config.vocab_size}")
    if config.d_model % 2:
        raise ValueError(f"d_model ({config.d_model}) must be even: "
                         "the encoder gives each direction half of it")
    if config.n_encoder_layers < 1 or config.n_decoder_layers < 1:
        raise ValueError("n_encoder_layers and n_decoder_layers must each be at least 1 "
                         "for a recurrent model")
