"""What `infer.py --explain` shows for sample, greedy and beam: the decoding as it happened, step by step.

The recorders here are handed to decoding's own loops (`decoding.generate`, `decoding.beam_search`), which
call them with what they have just computed. So the trace is the computation that produced the answers,
not a second run that could come out differently.

For sampling and greedy, each step of each output shows the likeliest pieces with three probabilities:

    raw        softmax(logits) over the pieces that may be written (padding, BOS and <unk> never are)
    tempered   softmax(logits / temperature): sharper below 1, flatter above
    drawn from after top-k and top-p: the distribution the piece was actually drawn from (0: filtered out)

then the piece drawn and the running log-probability (the raw log p of the pieces so far, EOS included at
the end; divided by the pieces + 1 it is the score the output is listed with, up to the sliver of probability
the model puts on the forbidden pieces, which that score, computed by teacher forcing, counts). For beam
search, each step shows the hypotheses kept alive and those that ended, with their length-penalised scores.
At the end every finished output says what became of it: kept, duplicate, correct answer, not a real word,
broken bytes, or (`never ended`) no EOS within max_len.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Callable

import torch

from tokenizer import Tokenizer

TOP_SHOWN = 5  # likeliest pieces listed per step


@dataclass
class PieceProbs:
    piece: str
    raw: float  # softmax(logits)
    tempered: float | None  # softmax(logits / temperature); None for greedy
    drawn_from: float | None  # after top-k and top-p, what sampling drew from; None for greedy


@dataclass
class Step:
    """One decoding step of one output."""

    likeliest: list[PieceProbs]  # the TOP_SHOWN most likely pieces (raw), most likely first
    drawn: str  # the piece that was emitted
    log_prob: float  # running: the model's log p of the pieces emitted so far, this one included


@dataclass
class TracedOutput:
    """One finished (or unfinished) output and what became of it."""

    text: str | None  # None: no EOS within max_len
    score: float  # sample/greedy: the running log p at the end; beam: the length-penalised score
    verdict: str = ""  # "kept", or why not ("duplicate", "correct answer", …, "never ended")
    round: int = 1  # sampling round it was drawn in
    steps: list[Step] = field(default_factory=list)  # sample and greedy; empty for beam


@dataclass
class ShownHypothesis:
    """A beam hypothesis as the trace shows it."""

    text: str  # the pieces so far, decoded
    log_prob: float
    score: float  # log_prob / (pieces + 1) ** length_penalty


@dataclass
class BeamStep:
    live: list[ShownHypothesis]  # kept to be extended, best first
    ended: list[ShownHypothesis]  # chose EOS at this step


@dataclass
class WordTrace:
    """Everything one word's decoding did, in order."""

    method: str
    settings: str  # the settings in one line, e.g. "temperature 0.6, top-k 50, top-p 0.95"
    outputs: list[TracedOutput] = field(default_factory=list)
    beam_steps: list[BeamStep] = field(default_factory=list)


class StepRecorder:
    """Given to `decoding.generate`: notes every row's step as the loop computes it.

    `drawing(logits) → (ids (rows, m), probs (rows, m))` is the sampler's own distribution
    (decoding.drawing_probs); None for greedy, which draws the most likely piece.
    """

    def __init__(self, tokenizer: Tokenizer, rows: int, temperature: float | None = None,
                 drawing: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None):
        self.tokenizer, self.temperature, self.drawing = tokenizer, temperature, drawing
        self.steps: list[list[Step]] = [[] for _ in range(rows)]

    def branch(self, sources: list[int]) -> None:
        """Row r now continues the steps of row sources[r] (`decoding.sample_distinct`, where a beam's
        hypotheses branch and die)."""
        self.steps = [list(self.steps[source]) for source in sources]

    def __call__(self, logits: torch.Tensor, next_ids: torch.Tensor, running: torch.Tensor) -> None:
        """logits (running, vocab) as the pick saw them; next_ids (running,) its choice; running (running,)
        the rows of the batch they belong to (a row that has ended is no longer decoded)."""
        raw = logits.float().softmax(dim=-1)  # (rows, vocab)
        tempered = drawn_from = None
        if self.drawing is not None:
            tempered = (logits.float() / self.temperature).softmax(dim=-1)  # (rows, vocab)
            ids, probs = self.drawing(logits)  # (rows, m) each
            drawn_from = torch.zeros_like(raw).scatter(-1, ids, probs)  # (rows, vocab), 0 where filtered out
        likeliest = raw.topk(TOP_SHOWN, dim=-1).indices.tolist()  # (rows, TOP_SHOWN)
        for place, row in enumerate(running.tolist()):
            shown = [PieceProbs(self.tokenizer.piece(i), raw[place, i].item(),
                                None if tempered is None else tempered[place, i].item(),
                                None if drawn_from is None else drawn_from[place, i].item())
                     for i in likeliest[place]]
            drawn = int(next_ids[place])
            before = self.steps[row][-1].log_prob if self.steps[row] else 0.0
            self.steps[row].append(Step(shown, self.tokenizer.piece(drawn),
                                        before + raw[place, drawn].log().item()))


class BeamRecorder:
    """Given to `decoding.beam_search`: notes the live and the ended hypotheses after every step."""

    def __init__(self, tokenizer: Tokenizer, length_penalty: float):
        self.tokenizer, self.length_penalty = tokenizer, length_penalty
        self.steps: list[BeamStep] = []

    def __call__(self, live: list, ended: list) -> None:
        """live, ended: decoding.Hypothesis lists (token ids and log p)."""
        shown = lambda hypotheses: [ShownHypothesis(self.tokenizer.decode(h.tokens), h.log_prob,
                                                    h.score(self.length_penalty))
                                    for h in hypotheses]
        self.steps.append(BeamStep(shown(live), shown(ended)))


# --- as text ------------------------------------------------------------------------------------------


def trace_lines(word: str, trace: WordTrace) -> list[str]:
    """A word's trace as plain text a student can read."""
    lines = [f"\n{word}: {trace.method}, {trace.settings}"]
    if trace.method == "beam":
        lines += beam_lines(trace.beam_steps)
    for number, output in enumerate(trace.outputs, 1):
        lines += output_lines(number, output, trace.method)
    return lines


def output_lines(number: int, output: TracedOutput, method: str) -> list[str]:
    text = output.text if output.text is not None else "(no EOS)"
    where = f"round {output.round}, output {number}" if method == "sample" else f"output {number}"
    score = "score" if method == "beam" else "log p"
    lines = [f"  {where}: {text}  {score} {output.score:.2f}  → {output.verdict}"]
    if output.steps:
        probs = "p raw / tempered / drawn from" if method == "sample" else "p"
        lines.append(f"    step  drawn         log p   the {TOP_SHOWN} likeliest pieces ({probs})")
    for number_of_step, step in enumerate(output.steps, 1):
        likeliest = "  ".join(f"{p.piece} {probabilities(p)}" for p in step.likeliest)
        lines.append(f"    {number_of_step:>4}  {padded(step.drawn, 12)} {step.log_prob:>6.2f}   {likeliest}")
    return lines


def probabilities(p: PieceProbs) -> str:
    if p.tempered is None:
        return f"{p.raw:.3f}"
    return f"{p.raw:.3f}/{p.tempered:.3f}/{p.drawn_from:.3f}"


def beam_lines(steps: list[BeamStep]) -> list[str]:
    lines = ["  (text log p score) per hypothesis; score = log p / (pieces + 1)^length_penalty"]
    listed = lambda hypotheses: "  ".join(f"{h.text or '∅'} {h.log_prob:.2f} {h.score:.2f}"
                                          for h in hypotheses) or "-"
    for number, step in enumerate(steps, 1):
        lines.append(f"  step {number:>2}  live: {listed(step.live)}")
        lines.append(f"           ended: {listed(step.ended)}")
    lines.append("  finished, best score first:")
    return lines


def padded(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns: a kanji or kana takes two."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(0, width - columns)
