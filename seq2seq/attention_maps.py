"""Attention maps: where the decoder looked in the source while it wrote each piece of a target.

    source text ─► pieces ─► encode ──────────────────────────┐
    target text ─► BOS + pieces ─► decode_step, one piece at a time (teacher-forced) ─► cross-attention
                                   weights of every step ─► AttentionMap ─► draw_attention_map ─► PNG

The weights are the model's own: the same `decode_step` that generation runs, with the cross-attention
modules' `store_weights` switch on, so each step leaves its softmax weights in `last_weights`. A row of a
map is one written piece (the target's pieces, then EOS) and sums to 1 over the source pieces; a source's
padding gets exactly 0. The Transformer has one map per decoder layer and head; a GRU/LSTM decoder
attends once per step, so it has one.

    python infer.py --model runs/class --word tighten --plot-attention tighten.png
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch
from torch import nn

from seq2seq.api import DistractorModel
from seq2seq.data import normalize_text
from seq2seq.decoding import source_ids
from seq2seq.errors import UserError
from seq2seq.model_folder import TrainedModel
from seq2seq.models.base import Seq2SeqModel
from seq2seq.models.transformer import Transformer
from seq2seq.pipeline import answers_read, encoder_inputs
from seq2seq.plotting import japanese_text, new_figure, save_png

CELL_INCHES = 0.32  # the side of one weight's square in a drawn map
MIN_WIDTH_INCHES = 7.0  # room for the title above a short source's single map


@dataclass
class AttentionMap:
    """The cross-attention of one (source, target) pair, as the model computed it while writing the target."""

    family: str  # the model's arch: "transformer", "gru" or "lstm"
    source: str  # the text the encoder read, e.g. 'tighten ⟨sep⟩ 引き締める|張る|突っ張る|締める'
    target: str  # the text the decoder wrote, e.g. '和らげる'
    source_pieces: list[str]  # what the encoder read, piece by piece, ending with '</s>'
    target_pieces: list[str]  # what the decoder wrote, one piece a step, ending with '</s>'
    weights: torch.Tensor  # (layers, heads, tgt_len, src_len); (1, 1, tgt_len, src_len) for a GRU/LSTM


def cross_attention_modules(model: Seq2SeqModel) -> list[nn.Module]:
    """The modules whose weights say where the decoder reads the source: each Transformer decoder layer's
    cross-attention, or the recurrent decoder's one attention."""
    if isinstance(model, Transformer):
        return [layer.cross_attn for layer in model.decoder_layers]
    return [model.decoder.attention]


@contextmanager
def keeping_weights(modules: list[nn.Module]) -> Iterator[None]:
    """Inside this block each module keeps its last attention weights; afterwards each switch is put back
    as it was, even when the block fails, so later calls do not pay for weights nobody reads."""
    before = [module.store_weights for module in modules]
    for module in modules:
        module.store_weights = True
    try:
        yield
    finally:
        for module, stored in zip(modules, before):
            module.store_weights = stored


@torch.no_grad()
def cross_attention(model: Seq2SeqModel, src_ids: torch.Tensor, tgt_in_ids: torch.Tensor) -> torch.Tensor:
    """The decoder's attention over the source at every step of teacher-forced decoding.

    src_ids (batch, src_len), padded with pad_id; tgt_in_ids (batch, tgt_len), BOS then the target's
    pieces. Returns weights (batch, layers, heads, tgt_len, src_len): row t is the step that read
    tgt_in_ids[:, t] and predicted the piece after it. Rows past a shorter target's end are those of
    padding fed as input: not meaningful.
    """
    modules = cross_attention_modules(model)
    memory = model.encode(src_ids, src_ids != model.config.pad_id)
    state, steps = None, []
    with keeping_weights(modules):
        for t in range(tgt_in_ids.size(1)):
            _, state = model.decode_step(tgt_in_ids[:, t], memory, state)
            steps.append(torch.stack([by_head(module.last_weights) for module in modules], dim=1))
    # steps of (batch, layers, heads, src_len) → (batch, layers, heads, tgt_len, src_len)
    return torch.stack(steps, dim=3)


def by_head(weights: torch.Tensor) -> torch.Tensor:
    """One step's stored weights → (batch, heads, src_len): the Transformer's (batch, heads, 1, src_len)
    loses its single query position; the recurrent (batch, src_len) becomes one head."""
    return weights.reshape(weights.size(0), -1, weights.size(-1))


def attention_map(trained: TrainedModel, source: str, target: str) -> AttentionMap:
    """The cross-attention while the model writes `target` for the encoder input `source` (the text it
    reads, e.g. from `word_source`), one piece at a time and then EOS."""
    tokenizer, model = trained.tokenizer, trained.model
    src = source_ids(model, tokenizer, [source], trained.config.model.max_len)  # (1, src_len)
    pieces = tokenizer.encode(target)
    tgt_in = torch.tensor([[tokenizer.bos_id] + pieces], device=src.device)  # (1, tgt_len)
    weights = cross_attention(model, src, tgt_in)[0]  # (layers, heads, tgt_len, src_len)
    return AttentionMap(trained.config.model.arch, source, target, [tokenizer.piece(i) for i in src[0]],
                        [tokenizer.piece(i) for i in pieces + [tokenizer.eos_id]], weights.cpu())


def word_source(trained: TrainedModel, word: str, correct: Iterable[str] = (), exclude: Iterable[str] = (),
                lexicon: dict[str, frozenset[str]] | None = None) -> str:
    """What the encoder reads for `word` when infer.py answers it: the word, with the correct answers a
    template model is shown (its own `correct`, else those stored with the model, `exclude`, the
    lexicon's)."""
    word = normalize_text(word)
    own = {normalize_text(answer) for answer in correct}
    return encoder_inputs(trained, [word], [answers_read(trained, word, own, set(exclude), lexicon)])[0]


def draw_attention_map(attention: AttentionMap, path: str | Path) -> Path:
    """Draw the map as a PNG at `path`: one panel per decoder layer (rows) and head (columns), source pieces
    along the bottom, written pieces down the side, one colour scale for all panels."""
    layers, heads, tgt_len, src_len = attention.weights.shape
    width = max(MIN_WIDTH_INCHES, 1.6 + heads * (1.0 + CELL_INCHES * src_len))
    figure = new_figure(width, 1.2 + layers * (1.0 + CELL_INCHES * tgt_len))
    with japanese_text():
        panels = figure.subplots(layers, heads, squeeze=False)
        highest = float(attention.weights.max())
        for layer in range(layers):
            for head in range(heads):
                image = draw_panel(panels[layer][head], attention, layer, head, highest)
        figure.colorbar(image, ax=panels, shrink=0.8, label="attention weight")
        figure.supxlabel("the pieces the encoder read", fontsize=10)
        figure.supylabel("the piece written at each step", fontsize=10)
        figure.suptitle(f"{attention.family}: where the decoder looked while writing 「{attention.target}」\n"
                        f"for the source 「{attention.source}」")
        return save_png(figure, path)


def draw_panel(axes, attention: AttentionMap, layer: int, head: int, highest: float):
    """One layer's and head's weights (tgt_len, src_len) as an image; returns it for the colour bar."""
    image = axes.imshow(attention.weights[layer, head].numpy(), cmap="viridis", vmin=0.0, vmax=highest)
    axes.set_xticks(range(len(attention.source_pieces)), attention.source_pieces, rotation=90)
    axes.set_yticks(range(len(attention.target_pieces)), attention.target_pieces)
    if attention.family == "transformer":
        axes.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
    return image


def plot_word_attention(model: DistractorModel, word: str, correct: Iterable[str], exclude: Iterable[str],
                        found: list[str], path: str | Path) -> str:
    """infer.py --plot-attention: draw the cross-attention of `word` and its best distractor (the first of
    `found`) at `path`, the source read as infer.py read it; returns the line that says so."""
    if not found:
        raise UserError(f"--plot-attention: no distractor was found for '{word}', so "
                        "there is nothing to draw")
    source = word_source(model.trained, word, correct, exclude, model.lexicon)
    written = draw_attention_map(attention_map(model.trained, source, str(found[0])), path)
    return f"wrote the attention map of '{word}' → {found[0]} to {written}"
