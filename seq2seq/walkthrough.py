"""Follow one word through a trained model, stage by stage, with each stage's real tensor and numbers.

    python -m seq2seq.walkthrough --model runs/default --word borrow
    python -m seq2seq.walkthrough --model runs/class-tf --word hesitate --seed 3 --temperature 1.0 --top-k 10

It prints the word as typed and as the model reads it, its pieces and ids, the padded batch, every stage
of the encoder, then each decoder step until EOS: the state, the logits, the five likeliest pieces with
their probabilities before and after each sampling filter, the piece drawn, the running log-probability.
Each stage is named as the function or module that computes it (`model.encoder_layers[0]`,
`decoding.top_k_filter`), so it can be found in the code.

The numbers are the model's own, not those of a copy: the encoder's stages are recorded by forward hooks
while `model.encode` runs, and the decoder loop makes the calls `decoding.generate` makes, in its order,
so the same seed draws the same pieces (tests/test_walkthrough.py checks both). `infer.py` draws many
samples at once and ranks them; this follows a single draw. docs/WALKTHROUGH.md is its output (--markdown)
for two real models.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

from seq2seq.batching import encode_source
from seq2seq.cli import ArgumentParser, run_main
from seq2seq.config import DecodeConfig, with_overrides
from seq2seq.data import normalize_text, split_answers
from seq2seq.decoding import (check_sampling, forbid, never_drawn, sampling_pick, source_ids, top_k_filter,
                               top_p_filter)
from seq2seq.model_folder import TrainedModel, load_model
from seq2seq.models import RecurrentSeq2Seq, Transformer
from seq2seq.models.base import Memory
from seq2seq.pipeline import answers_shown, encoder_inputs, load_lexicon
from tokenizer import Tokenizer

SHOWN_VALUES = 4  # values of a tensor's first row that are printed
WHOLE_TENSOR = 16  # a tensor this small is printed whole
TOP_PIECES = 5  # likeliest pieces shown at each decoder step
NAME_WIDTH = 44  # the column the shapes start in

# The parts of the journey, in order; each is a heading of the printout.
WORD, PIECES, BATCH, ENCODER = "1. The word", "2. The pieces", "3. The batch", "4. The encoder: model.encode"
DECODER_STEP, RESULT = "5. The decoder, step {step}", "6. The result"


@dataclass
class Stage:
    """One printed stage: the code that computes it, what it holds, and its tensor or text."""

    section: str  # the part of the journey it belongs to: ENCODER
    name: str  # the function or module that computes it, as the code writes it: "model.encoder_layers[0]"
    what: str = ""  # what it holds, in a few words
    tensor: torch.Tensor | None = None  # its real value, printed as its shape and first numbers
    lines: list[str] = field(default_factory=list)  # text printed below it: pieces, a table


@dataclass
class Trace:
    """The stages recorded so far; each is filed under the section current when it was added."""

    stages: list[Stage] = field(default_factory=list)
    section: str = ""

    def add(self, name: str, what: str = "", tensor: torch.Tensor | None = None,
            lines: Iterable[str] = ()) -> None:
        shown = None if tensor is None else tensor.detach().clone()  # a later in-place change cannot alter it
        self.stages.append(Stage(self.section, name, what, shown, list(lines)))


@dataclass
class Walkthrough:
    word: str  # as typed
    decode: DecodeConfig  # the sampling settings it drew with
    stages: list[Stage]
    memory: Memory  # what model.encode handed to the decoder
    # the ids drawn before EOS, as decoding.generate returns a row; None: no EOS in time
    drawn: list[int] | None
    text: str | None  # the drawn pieces as text


@torch.no_grad()
def walk(trained: TrainedModel, word: str, decode: DecodeConfig,
         lexicon: dict[str, frozenset[str]] | None = None, given: set[str] | None = None) -> Walkthrough:
    """Follow `word` from the text typed to the text drawn, with `decode`'s temperature, top-k, top-p, seed
    and max_len. `given` are correct answers from --exclude, shown when the model knows none (as infer.py)."""
    trace = Trace()
    source = source_stages(trained, word, given or set(), lexicon, trace)
    src, src_mask = batch_stages(trained, source, trace)
    memory = encoder_stages(trained.model, src, src_mask, trace)
    drawn = decoder_stages(trained, memory, decode, trace)
    text = None if drawn is None else trained.tokenizer.decode(drawn)
    trace.section = RESULT
    trace.add("tokenizer.decode", "the drawn pieces as text (EOS left out)",
              lines=[text if text is not None
                     else f"no EOS within max_len {decode.max_len}: generate returns None"])
    return Walkthrough(word, decode, trace.stages, memory, drawn, text)


# --- 1-3: from the word to the batch --------------------------------------------------------------------


def source_stages(trained: TrainedModel, word: str, given: set[str], lexicon, trace: Trace) -> str:
    """The word as typed and normalised, the correct answers it is shown with, and the text the encoder reads.

    Why the answers: a model trained with a source template reads the word beside its correct answers,
    found as `pipeline.distractors_for` finds them; without any, `encoder_inputs` refuses the word."""
    trace.section = WORD
    normalised = normalize_text(word)
    answers = answers_shown(trained, normalised, given, lexicon)
    source = encoder_inputs(trained, [normalised], [answers])[0]
    template = trained.config.data.src_template
    trace.add("--word", "as typed", lines=[repr(word)])
    trace.add("data.normalize_text", "NFKC-normalised and stripped, as infer.py reads every word",
              lines=[repr(normalised)])
    trace.add("pipeline.answers_shown", "the correct answers: the model's answers.json, else --exclude, else "
              "the JMdict rejection index; never output", lines=[" | ".join(answers) or "(none known)"])
    if template:
        trace.add("pipeline.encoder_inputs → pipeline.fitted_source",
                  f"the source template {template!r} filled with the word and as many answers as fit "
                  f"max_len {trained.config.model.max_len} pieces",
                  lines=[repr(source)])
    else:
        trace.add("pipeline.encoder_inputs", "this model has no source template: it reads the word alone",
                  lines=[repr(source)])
    return source


def batch_stages(trained: TrainedModel, source: str, trace: Trace) -> tuple[torch.Tensor, torch.Tensor]:
    """The source's pieces and ids, EOS added; then the padded batch (of one) and its mask."""
    tokenizer = trained.tokenizer
    trace.section = PIECES
    ids = encode_source(tokenizer, source)
    trace.add("batching.encode_source", "tokenizer.encode (SentencePiece pieces), then EOS",
              lines=[f"pieces {[tokenizer.piece(i) for i in ids]}", f"ids    {ids}"])
    trace.section = BATCH
    src = source_ids(trained.model, tokenizer, [source], trained.config.model.max_len)  # (1, src_len)
    src_mask = src != tokenizer.pad_id  # (1, src_len), as decoding.distinct_outputs makes it
    trace.add("decoding.source_ids",
              "the ids padded into a batch: one row per source (one here: no padding)", src)
    trace.add("src != tokenizer.pad_id", "the mask: True at real tokens, False at padding", src_mask)
    return src, src_mask


# --- 4: the encoder, watched while model.encode runs ----------------------------------------------------


@dataclass
class Watch:
    """A submodule whose call during `model.encode` becomes a stage; `shown` picks the tensor to show
    from the call's inputs and output (by default the output)."""

    module: nn.Module
    name: str
    what: str
    shown: Callable[[tuple, Any], torch.Tensor] = lambda inputs, output: output


def call_input(position: int) -> Callable[[tuple, Any], torch.Tensor]:
    return lambda inputs, output: inputs[position]


def call_output(position: int) -> Callable[[tuple, Any], torch.Tensor]:
    return lambda inputs, output: output[position]


LEARNT_VECTOR = "each piece's learnt vector: the embedding table's row of its id"
NO_DROPOUT = "model.dropout: off when not training"


def transformer_watches(model: Transformer) -> list[Watch]:
    """Transformer.encode: embed_tokens (embedding × √d_model + positions), each layer, the final
    LayerNorm."""
    scale = math.sqrt(model.config.d_model)
    table = lambda inputs, output: model.positions.table[: inputs[0].size(1)]  # (src_len, d_model)
    layer = "self-attention over the source, then feed-forward, each added to the residual stream"
    return [Watch(model.embed, "model.embed", LEARNT_VECTOR),
            Watch(model.positions, "model.embed_tokens: × math.sqrt(d_model)",
                  f"scaled by √d_model = {scale:.2f}, to the size of the position signal", call_input(0)),
            Watch(model.positions, "model.positions.table[:src_len]", "the sinusoidal position signal, a row "
                  "a position", table),
            Watch(model.positions, "model.positions", f"piece vector + its position ({NO_DROPOUT}): what the "
                  "first layer reads"),
            *[Watch(module, f"model.encoder_layers[{i}]", layer)
              for i, module in enumerate(model.encoder_layers)],
            Watch(model.encoder_norm, "model.encoder_norm",
                  "the final LayerNorm: the states handed to the decoder")]


def recurrent_watches(model: RecurrentSeq2Seq) -> list[Watch]:
    """RecurrentSeq2Seq.encode: embed_tokens (embedding × √d_model), then the bidirectional GRU/LSTM
    over the source."""
    arch, scale = model.config.arch.upper(), math.sqrt(model.config.d_model)
    return [Watch(model.embed, "model.embed", LEARNT_VECTOR),
            Watch(model.encoder, "model.embed_tokens: × math.sqrt(d_model)",
                  f"scaled by √d_model = {scale:.2f}, to entries of about unit size ({NO_DROPOUT})",
                  call_input(0)),
            Watch(model.encoder, "src_mask.sum(dim=1)", "real tokens per row: where packing stops each "
                  "direction", call_input(1)),
            Watch(model.encoder, "model.encoder: states", f"a token's left-to-right and right-to-left {arch} "
                  "states side by side (top layer)", call_output(0)),
            Watch(model.encoder, "model.encoder: final", "per layer, each direction's state after reading "
                  "the whole source", call_output(1))]


ENCODER_WATCHES = {Transformer: transformer_watches, RecurrentSeq2Seq: recurrent_watches}
MEMORY_NOTES = {"states": "one vector per source token: what the decoder attends to",
                "src_mask": "True at real tokens: the decoder never attends to padding",
                "final": "each encoder layer's last states: the decoder's first hidden state is "
                         "bridged from them"}


def encoder_stages(model: nn.Module, src: torch.Tensor, src_mask: torch.Tensor, trace: Trace) -> Memory:
    """Run `model.encode` once, recording what each watched submodule computes (forward hooks): so the
    numbers shown are those of the real computation, and the memory is the one generation reads."""
    trace.section = ENCODER
    watches = ENCODER_WATCHES[type(model)](model)
    hooks = [watch.module.register_forward_hook(recorder(watch, trace)) for watch in watches]
    try:
        memory = model.encode(src, src_mask)
    finally:
        for hook in hooks:
            hook.remove()
    for name, tensor in named_tensors(memory, "memory"):
        trace.add(f"model.encode → {name}", MEMORY_NOTES.get(name.split(".")[-1], ""), tensor)
    return memory


def recorder(watch: Watch, trace: Trace) -> Callable:
    def record(module: nn.Module, inputs: tuple, output: Any) -> None:
        trace.add(watch.name, watch.what, watch.shown(inputs, output))

    return record


def named_tensors(tree: Any, path: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of a Memory or a decoder state, with the path that reaches it:
    state.layers[0].self_kv.key."""
    if isinstance(tree, torch.Tensor):
        yield path, tree
    elif is_dataclass(tree):
        for part in fields(tree):
            yield from named_tensors(getattr(tree, part.name), f"{path}.{part.name}")
    elif isinstance(tree, (list, tuple)):
        for i, item in enumerate(tree):
            yield from named_tensors(item, f"{path}[{i}]")


# --- 5: the decoder, one step at a time -----------------------------------------------------------------


def decoder_stages(trained: TrainedModel, memory: Memory, decode: DecodeConfig,
                   trace: Trace) -> list[int] | None:
    """decoding.generate's loop for one row, every step shown.

    It calls model.decode_step, decoding.forbid and the sampling pick as generate does, in the same order,
    with one draw from the seeded generator a step; so the same seed draws the same pieces. The running
    log-probability is the model's own (softmax of the logits), as decoding.sequence_log_probs counts it.
    """
    model, tokenizer = trained.model, trained.tokenizer
    pick = sampling_pick(decode.temperature, decode.top_k, decode.top_p,
                         torch.Generator().manual_seed(decode.seed))
    prev = torch.full((1,), tokenizer.bos_id, dtype=torch.long, device=memory.states.device)  # (1,)
    state, drawn, total, seen = None, [], 0.0, {}
    for step in range(1, decode.max_len + 1):
        trace.section = DECODER_STEP.format(step=step)
        logits, state = model.decode_step(prev, memory, state)  # (1, vocab)
        next_ids = pick(forbid(logits, never_drawn(tokenizer)))  # (1,)
        trace.add("model.decode_step", f"fed {tokenizer.piece(int(prev))!r}: the logits over the vocabulary",
                  logits)
        state_stages(state, seen, trace)
        chosen, log_p = int(next_ids), float(logits.float().log_softmax(-1)[0, next_ids])
        total += log_p
        choice_stage(tokenizer, logits, decode, chosen, trace)
        trace.add("decoding.sampling_pick", f"drew {tokenizer.piece(chosen)!r} (id {chosen}) from the last "
                  f"column, seed {decode.seed}", lines=[f"log p = {log_p:.4f}; running log p = {total:.4f}"])
        if chosen == tokenizer.eos_id:
            return drawn
        drawn.append(chosen)
        prev = next_ids
    return None


def state_stages(state: Any, seen: dict[str, torch.Tensor], trace: Trace) -> None:
    """The tensors of the decoder state that this step wrote (all of them at the first step); `seen` holds
    the last step's. A Transformer's self-attention cache grows by one position a layer; its projected
    memory, and a recurrent decoder's prepared keys, are made once."""
    tensors = list(named_tensors(state, "state"))
    for name, tensor in tensors:
        if seen.get(name) is not tensor:
            trace.add(name, "", tensor)
    seen.update(tensors)


def choice_stage(tokenizer: Tokenizer, logits: torch.Tensor, decode: DecodeConfig, chosen: int,
                 trace: Trace) -> None:
    """The likeliest pieces (and the one drawn) with their probability at each move of the draw.

    sampling_pick draws among the top k directly, which is faster; the distribution is the same as
    top_p_filter(top_k_filter(·)), so the last column is what it draws from.
    """
    scaled = forbid(logits, never_drawn(tokenizer)).float() / decode.temperature  # (1, vocab)
    after_k = top_k_filter(scaled, decode.top_k)  # (1, vocab), -inf outside the top k
    after_p = top_p_filter(after_k, decode.top_p)  # (1, vocab), -inf outside the nucleus
    probs = torch.cat([column.softmax(-1)
                       for column in (logits.float(), scaled, after_k, after_p)])  # (4, vocab)
    shown = probs[0].topk(TOP_PIECES).indices.tolist()
    shown += [chosen] if chosen not in shown else []
    kept = [int((column > -math.inf).sum()) for column in (after_k, after_p)]
    header = (f"{'id':>6}  {'softmax':>8}  {'forbid ÷T':>9}  {'top_k_filter':>12}  {'top_p_filter':>12}  "
              f"piece   (T = {decode.temperature:g}: top-k keeps {kept[0]} pieces, top-p {kept[1]} of them)")
    rows = [f"{i:>6}  {probs[0, i]:8.4f}  {probs[1, i]:9.4f}  {probs[2, i]:12.4f}  {probs[3, i]:12.4f}  "
            f"{tokenizer.piece(i)!r}{'  ← drawn' if i == chosen else ''}" for i in shown]
    trace.add("decoding.forbid → ÷ temperature → decoding.top_k_filter → decoding.top_p_filter",
              "the probabilities of the likeliest pieces after each move", lines=[header, *rows])


# --- what each part means, for --markdown ------------------------------------------------------------------

SAMPLING_NOTE = (
    "The logits become the distribution drawn from in four moves: `decoding.forbid` (padding, BOS and "
    "`<unk>` are never drawn), ÷ temperature (below 1 sharpens it), `decoding.top_k_filter` (the k "
    "likeliest pieces) and `decoding.top_p_filter` (the fewest of those that hold probability p). "
    "`decoding.sampling_pick` draws from the last column with the seeded generator; log p is the model's own "
    "probability of the piece drawn (the first column), and the running log p adds them up: log p(output | "
    "word) once EOS is drawn.")
SECTION_NOTES = {
    WORD: "What infer.py does before the model sees anything. The word is normalised and its correct answers "
          "are looked up; a model trained with a source template (the default) reads the word beside them: "
          "it is shown the right answer and asked for a near miss of it, and refuses a word whose answer "
          "nobody knows.",
    PIECES: "One SentencePiece vocabulary serves both languages. A word the vocabulary lacks as a whole is "
            "spelled in smaller pieces, whose meaning together the model learns; the separator with its "
            "spaces is always one piece, and EOS (`</s>`) closes every source.",
    BATCH: "The sources of a batch are padded to the longest one, and the mask tells attention which "
           "positions are real. One word is a batch of one: nothing to pad.",
    RESULT: "`tokenizer.decode` joins the pieces drawn. This is one sample: infer.py's default method (rank) "
            "draws many at once, adds candidates from the lexicon, scores them all and keeps the best, never "
            "a correct answer.",
}
FAMILY_NOTES = {
    Transformer: {
        ENCODER: "Recorded while `model.encode` ran (forward hooks), not computed again. "
                 "`Transformer.embed_tokens` looks each id up, multiplies by √d_model and adds the "
                 "sinusoidal position signal (attention alone ignores order). Each `EncoderLayer` adds a "
                 "self-attention branch and a feed-forward branch to what it reads (pre-LN residuals), and "
                 "`encoder_norm` normalises the result: the states the decoder attends to.",
        DECODER_STEP.format(step=1):
            "`decoding.generate` feeds BOS, then each piece drawn, to `model.decode_step` until EOS. The "
            "state is one `LayerCache` per decoder layer: `self_kv` holds the keys and values of the steps "
            "so far, (batch, heads, steps, head_dim), one step longer each time; `memory_kv` is the encoder "
            "memory projected for cross-attention, once, at the first step. A step lists only the state "
            "tensors it wrote. " + SAMPLING_NOTE,
    },
    RecurrentSeq2Seq: {
        ENCODER: "Recorded while `model.encode` ran (forward hooks), not computed again. "
                 "`RecurrentSeq2Seq.embed_tokens` looks each id up and multiplies by √d_model; "
                 "`model.encoder` (a `BidirectionalEncoder`) packs the rows by length and runs a "
                 "bidirectional GRU or LSTM: a token's state is the left-to-right state (what came "
                 "before it, first half) beside the right-to-left one (what comes after, second half). "
                 "`final` holds, per layer, each direction's state after the whole source; the decoder's "
                 "first hidden state is bridged from it.",
        DECODER_STEP.format(step=1):
            "`decoding.generate` feeds BOS, then each piece drawn, to `model.decode_step` until EOS. The "
            "state holds `hidden`, each decoder layer's output (an LSTM adds `cell`); `attentional`, "
            "tanh(W_c [context; h]), which the output layer reads and the next step is fed (input feeding); "
            "and `keys`, the encoder states prepared for the attention score once, at the first step. A step "
            "lists only the state tensors it wrote. " + SAMPLING_NOTE,
    },
}


# --- printing --------------------------------------------------------------------------------------------


def tensor_line(name: str, tensor: torch.Tensor) -> str:
    """name, shape and values: a small tensor whole, else the first values of its first row."""
    shape = str(tuple(tensor.shape))
    if tensor.numel() <= WHOLE_TENSOR:
        return f"{name:<{NAME_WIDTH}} {shape:<16} = {rounded(tensor.tolist())}"
    index = "[" + "0, " * (tensor.dim() - 1) + f":{SHOWN_VALUES}]"
    first_row = tensor[(0,) * (tensor.dim() - 1)][:SHOWN_VALUES]
    return f"{name:<{NAME_WIDTH}} {shape:<16} {index} = {rounded(first_row.tolist())}"


def rounded(values: Any) -> Any:
    """Floats rounded to 4 places, in nested lists; bools and ints as they are."""
    if isinstance(values, list):
        return [rounded(value) for value in values]
    return round(values, 4) if isinstance(values, float) else values


def stage_lines(stage: Stage) -> list[str]:
    """A stage's name (with its tensor's shape and values), then what it holds and its text, indented."""
    first = tensor_line(stage.name, stage.tensor) if stage.tensor is not None else stage.name
    return [first] + [f"    {text}" for text in ([stage.what] if stage.what else []) + stage.lines]


def sections(walkthrough: Walkthrough) -> list[tuple[str, list[str]]]:
    """(section title, its printed lines), in the order the stages were recorded."""
    grouped: list[tuple[str, list[str]]] = []
    for stage in walkthrough.stages:
        if not grouped or grouped[-1][0] != stage.section:
            grouped.append((stage.section, []))
        grouped[-1][1].extend(stage_lines(stage))
    return grouped


def printed(walkthrough: Walkthrough) -> str:
    """The walkthrough as plain text: a heading per section, a line per stage."""
    return "\n\n".join(f"── {title} ──\n" + "\n".join(lines) for title, lines in sections(walkthrough)) + "\n"


def markdown(walkthrough: Walkthrough, trained: TrainedModel, folder: str, command: str) -> str:
    """The walkthrough as a Markdown section: each part of it explained, then its stages in a fenced block."""
    model, decode = trained.config.model, walkthrough.decode
    parts = [f"## `{walkthrough.word}` through `{folder}` ({model.arch}, {model.n_encoder_layers} + "
             f"{model.n_decoder_layers} layers, d_model {model.d_model}, {model.vocab_size} pieces)",
             f"Printed by `{command}`: the fenced blocks are what it prints without `--markdown`, and the "
             "prose between them is written by seq2seq/walkthrough.py too. Sampling: temperature "
             f"{decode.temperature:g}, top-k {decode.top_k}, top-p {decode.top_p:g}, seed {decode.seed}, at "
             f"most {decode.max_len} pieces."]
    notes = {**SECTION_NOTES, **FAMILY_NOTES[type(trained.model)]}
    for title, lines in sections(walkthrough):
        parts += [f"### {title}", *([notes[title]] if title in notes else []),
                  "```text\n" + "\n".join(lines) + "\n```"]
    return "\n\n".join(parts) + "\n"


# --- the command line ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m seq2seq.walkthrough", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py")
    parser.add_argument("--word", required=True, help="the English word to follow")
    parser.add_argument("--seed", type=int, help="sampling seed (default: the model's, 0)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the model's)")
    parser.add_argument("--top-k", type=int,
                        help="sample among the k likeliest pieces; 0 = all (default: the model's)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (default: the model's)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="correct answer(s), '|'-separated: shown to a model that reads the answer when "
                             "it knows none for the word (as infer.py's --exclude)")
    parser.add_argument("--lexicon", default="auto",
                        help="rejection index CSV of correct answers per word; auto: the bundled one; "
                             "none: off")
    parser.add_argument("--markdown", action="store_true",
                        help="print a Markdown section: each part explained, its stages in a fenced block "
                             "(how docs/WALKTHROUGH.md is made)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    trained = load_model(args.model)
    decode = with_overrides(trained.config, "decode", temperature=args.temperature, top_k=args.top_k,
                            top_p=args.top_p, seed=args.seed).decode
    check_sampling(decode.temperature, decode.top_k, decode.top_p)
    given = {answer for cell in args.exclude for answer in split_answers(cell)}
    walkthrough = walk(trained, args.word, decode, load_lexicon(args.lexicon), given)
    if args.markdown:
        command = shlex.join(["python", "-m", "seq2seq.walkthrough",
                              *(arg for arg in argv if arg != "--markdown")])
        sys.stdout.write(markdown(walkthrough, trained, args.model, command))
    else:
        sys.stdout.write(printed(walkthrough))


if __name__ == "__main__":
    sys.exit(run_main(main))
