"""Turning a trained model into words: greedy, beam search, and sampling with temperature, top-k and top-p.

Written once against the model interface (`encode`, `decode_step`), so it serves every model family.

Sampling is how distractors are made: a model trained on near misses (or on correct translations)
puts probability on many plausible words; drawing from that distribution gives many different close
answers. Drawn one at a time, the likeliest come back again and again, so they are drawn without
replacement (`sample_distinct`: k different outputs in one pass). Known correct answers are thrown away,
and words not in JMdict, until N remain.

From the command line to one sampled piece, in order (`python infer.py --model M --word borrow --method
sample`):

    infer.py main                      reads the words and their correct answers
    api.DistractorModel.distractors_many   the Python API: settings → DecodeConfig
    pipeline.distractors_for           what the encoder reads for each word (encoder_inputs: word ⟨sep⟩
                                       answers) and what must never be output (correct answers)
    decoding.distinct_outputs          words in chunks of about the same source length, per method
    decoding._sample_rounds            rounds of draws without replacement, 1.5·n more per unfinished word
                                       each round, until n allowed ones are kept; each round takes the
                                       words still short together, encoded afresh
    decoding.sample_distinct           a beam of k hypotheses per word, one piece a step, the k largest
                                       perturbed log-probabilities kept (Gumbel-top-k); a hypothesis that
                                       ends keeps its place, one that drops out leaves the batch
    model.decode_step                  one step of the model (transformer.py, rnn.py)
      Transformer: DecoderLayer.step → MultiHeadAttention.extend (self-attention, cache grows by one)
                   and MultiHeadAttention.forward over the memory projected once (cross-attention)
      GRU/LSTM:    InputFeedingDecoder.step → the cells, then attention over the source
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

import torch

from seq2seq.batching import encode_source, pad
from seq2seq.config import DecodeConfig
from seq2seq.data import normalize_text
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossQuestion
from seq2seq.models.base import Memory, Seq2SeqModel, select_batch
from seq2seq.trace import BeamRecorder, StepRecorder, TracedOutput, WordTrace
from tokenizer import Tokenizer

PickNext = Callable[[torch.Tensor], torch.Tensor]  # logits (batch, vocab) → next ids (batch,)
WORDS_PER_CHUNK = 64  # source words encoded together; bounds memory when generating for a long list
# hypotheses sampled together: 64 words' beams of 15 (n = 10); a round's larger beams take fewer words
HYPOTHESES_PER_CHUNK = 960
SCORE_BATCH = 256  # candidates scored in one teacher-forced pass when ranking (256 beat 512 by 1.27×)
OUTPUT_PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}  # --output-precision, besides auto


# --- choosing the next token -------------------------------------------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (ties with the k-th are kept too); the rest become -inf."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    kth_largest = logits.topk(k, dim=-1).values[..., -1:]  # (batch, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the fewest most-likely tokens whose probabilities add up to at least p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (batch, vocab)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # probability of all tokens ranked above this one
    drop_sorted = mass_before >= p  # the set was already full before this token
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def greedy_pick() -> PickNext:
    return lambda logits: logits.argmax(dim=-1)


def sampling_pick(temperature: float, top_k: int, top_p: float, generator: torch.Generator) -> PickNext:
    """Sample from softmax(logits / temperature), restricted to the top-k and then the top-p tokens."""
    check_sampling(temperature, top_k, top_p)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        ids, probs = drawing_probs(logits, temperature, top_k, top_p)  # (batch, m) each
        return ids.gather(-1, torch.multinomial(probs, 1, generator=generator)).squeeze(-1)

    return pick


def drawing_probs(logits: torch.Tensor, temperature: float, top_k: int,
                  top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, probs), each (batch, m): the pieces sampling draws among and their probabilities, after the
    temperature, top-k and top-p. m is k when top-k limits the draw, else the whole vocabulary.

    A logit and its log-probability differ by the same amount across a row, so either may be given.
    """
    logits = logits.float()  # (batch, vocab)
    if 0 < top_k < logits.size(-1):  # only the k best can be drawn: filter and draw among them, far faster
        best, ids = logits.topk(top_k, dim=-1)  # (batch, k), best first; the temperature keeps the order
        return ids, top_p_filter(best / temperature, top_p).softmax(dim=-1)
    every = torch.arange(logits.size(-1), device=logits.device).expand_as(logits)  # (batch, vocab)
    return every, top_p_filter(logits / temperature, top_p).softmax(dim=-1)


def check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    """The sampling settings, each refused in one line naming its option of infer.py."""
    if not 0 < temperature < math.inf:  # written so, NaN is refused too
        raise UserError(f"--temperature must be > 0 and finite (got {temperature}); "
                        "use --method greedy for the most likely output")
    if top_k < 0:
        raise UserError(f"--top-k must be at least 0 (got {top_k}); 0 means no limit")
    if not 0 < top_p <= 1:
        raise UserError(f"--top-p must lie in (0, 1] (got {top_p}); 1 means no limit")


def check_decode_settings(config: DecodeConfig) -> None:
    """Every count and sampling setting, whatever the method, so a bad one is refused before any work.

    Messages name infer.py's options; from Python, a setting is its option without the dashes
    (top_k: --top-k).
    """
    for option, value in (("--n", config.n), ("--beam-size", config.beam_size),
                          ("--max-attempts", config.max_attempts), ("--rank-samples", config.rank_samples)):
        if value < 1:
            raise UserError(f"{option} must be at least 1 (got {value})")
    check_sampling(config.temperature, config.top_k, config.top_p)
    if config.output_precision not in ("auto", *OUTPUT_PRECISIONS):
        raise UserError(f"--output-precision must be auto, {' or '.join(OUTPUT_PRECISIONS)} "
                        f"(got {config.output_precision!r})")
    if not math.isfinite(config.length_penalty):
        raise UserError(f"--length-penalty must be a number (got {config.length_penalty}); 0 means none")


def never_drawn(tokenizer: Tokenizer) -> tuple[int, ...]:
    """The ids no output may contain: padding, BOS and <unk>."""
    return tokenizer.pad_id, tokenizer.bos_id, tokenizer.unk_id


def forbid(logits: torch.Tensor, token_ids: Iterable[int]) -> torch.Tensor:
    """Tokens that must never be produced (padding, BOS, <unk>) get probability 0."""
    logits = logits.clone()
    logits[:, list(token_ids)] = float("-inf")
    return logits


def choose_output_dtype(setting: str, device: torch.device) -> torch.dtype:
    """The output layer's dtype while generating (`DecodeConfig.output_precision`, infer.py
    --output-precision). `auto` is bf16 where it is computed natively: a GPU that has it, or a CPU with
    AVX512-BF16 or AMX (elsewhere bf16 is emulated, and slower than fp32); else fp32."""
    if setting != "auto":
        return OUTPUT_PRECISIONS[setting]
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:  # these checks are private to torch and have been renamed; missing means "not known to have it"
        native = any(getattr(torch.cpu, check, lambda: False)()
                     for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return torch.bfloat16 if native else torch.float32


@contextlib.contextmanager
def output_precision(model: Seq2SeqModel, dtype: torch.dtype):
    """Within the block, `model.decode_step` computes its output layer in `dtype` (`output_logits`)."""
    before, model.output_dtype = model.output_dtype, dtype
    try:
        yield
    finally:
        model.output_dtype = before


# --- the decoding loops -------------------------------------------------------------------------------


def source_pieces(tokenizer: Tokenizer, sources: list[str], max_len: int | None = None) -> list[list[int]]:
    """Each source string's ids, EOS included; with `max_len`, a longer one is a clear error."""
    ids = [encode_source(tokenizer, text) for text in sources]
    for text, pieces in zip(sources, ids):
        if max_len is not None and len(pieces) > max_len:
            raise UserError(f"source '{text[:40]}' is {len(pieces)} pieces long; "
                            f"this model reads at most {max_len}")
    return ids


def padded_sources(model: Seq2SeqModel, tokenizer: Tokenizer, pieces: list[list[int]],
                   chunk: Sequence[int]) -> torch.Tensor:
    """(words, src_len) the source ids of the words at places `chunk`, padded to the longest of them."""
    return pad([pieces[i] for i in chunk], tokenizer.pad_id).to(next(model.parameters()).device)


def source_ids(model: Seq2SeqModel, tokenizer: Tokenizer, sources: list[str],
               max_len: int | None = None) -> torch.Tensor:
    """(batch, src_len) padded ids of the source strings; with `max_len`, a longer one is a clear error."""
    return padded_sources(model, tokenizer, source_pieces(tokenizer, sources, max_len), range(len(sources)))


def chunks_by_length(pieces: list[list[int]], size: int = WORDS_PER_CHUNK) -> list[list[int]]:
    """The places of the sources, in chunks of `size` of about the same length, shortest first.

    Why: a chunk's sources are padded to its longest, and the decoder attends over every position of it,
    at every step of every hypothesis. A source is the word with its correct answers, so one word with a
    dozen answers makes its chunk 50 pieces long where most sources are 9. Sorted by length, the chunks of a
    1,000-word quiz file hold 3.7 times fewer positions (docs/BENCHMARKS.md). Padding never changes what a
    word gets (the attention gives it weight 0), only how long it takes.
    """
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))  # stable: equal lengths keep their order
    return [order[start : start + size] for start in range(0, len(order), size)]


def encode_sources(model: Seq2SeqModel, tokenizer: Tokenizer, sources: list[str],
                   max_len: int | None = None) -> Memory:
    """Encode a list of source strings together; with `max_len`, a longer one is a clear error."""
    src = source_ids(model, tokenizer, sources, max_len)  # (batch, src_len)
    return model.encode(src, src != tokenizer.pad_id)


@torch.no_grad()
def generate(model: Seq2SeqModel, memory: Memory, tokenizer: Tokenizer, max_len: int, pick: PickNext,
             record: StepRecorder | None = None) -> list[list[int] | None]:
    """Extend every row of `memory` one token at a time until EOS; None for a row that never ended.

    A row that has ended leaves the batch: later steps decode only the rows still running, their memory and
    decoder state cut down with `select_batch`. Most outputs are two or three pieces long, so feeding the
    ended rows padding until the longest ends would spend half the steps on rows that are done.
    `record` (infer.py --explain) is shown every step's logits and choices, with the rows they belong to.
    """
    batch = memory.states.size(0)
    device = memory.states.device
    tokens = torch.full((batch, max_len), tokenizer.pad_id, dtype=torch.long, device=device)
    running = torch.arange(batch, device=device)  # (running,) each running row's place in the batch
    prev = torch.full((batch,), tokenizer.bos_id, dtype=torch.long, device=device)  # (running,)
    state = None
    for step in range(max_len):
        logits, state = model.decode_step(prev, memory, state)  # (running, vocab)
        logits = forbid(logits, never_drawn(tokenizer))
        next_ids = pick(logits)  # (running,)
        if record is not None:
            record(logits, next_ids, running)
        tokens[running, step] = next_ids
        going = (next_ids != tokenizer.eos_id).nonzero().flatten()  # (still running,) places among running
        if len(going) == 0:
            break
        if len(going) < len(running):
            running, memory, state = running[going], select_batch(memory, going), select_batch(state, going)
        prev = next_ids[going]
    return [until_eos(row, tokenizer.eos_id) for row in tokens.tolist()]  # tokens (batch, max_len)


def until_eos(ids: list[int], eos_id: int) -> list[int] | None:
    """The pieces before the first EOS; None when there is none (the output never ended)."""
    return ids[: ids.index(eos_id)] if eos_id in ids else None


# --- sampling without replacement: k different outputs per word in one pass ---------------------------


def gumbel_noise(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise, −log(E) with E ~ Exponential(1): adding it to log-probabilities and taking
    the largest is the same as sampling (the Gumbel-max trick)."""
    return -torch.empty(shape).exponential_(generator=generator).log()


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 − exp(x)) for x ≤ 0, accurate at both ends (Mächler's two branches)."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def conditioned_gumbels(child_log_q: torch.Tensor, parent_gumbel: torch.Tensor,
                        generator: torch.Generator) -> torch.Tensor:
    """Perturbed log-probabilities of every child of each prefix, drawn so that the largest child's equals
    its parent's. child_log_q (rows, m): log q of prefix + piece; parent_gumbel (rows,).

    A prefix's perturbed value is the largest of its completions' (each completion's log q plus its own
    Gumbel noise). So the children's values are drawn freely, then shifted, in a way that keeps their
    order, until their largest equals what the parent already drew: G̃ = −log(e^−T − e^−Z + e^−G)
    with T the parent's value, Z the children's largest, G the child's free draw.
    """
    free = child_log_q + gumbel_noise(child_log_q.shape, generator).to(child_log_q.device)  # (rows, m)
    largest = free.max(dim=-1, keepdim=True).values  # (rows, 1)
    parent = parent_gumbel[:, None]  # (rows, 1)
    # the same formula, written so that no exponential overflows: T − softplus(T − G + log(1 − e^(G − Z)))
    return parent - torch.nn.functional.softplus(parent - free + log1mexp(free - largest))


@dataclass
class Slots:
    """The k slots of every word that `sample_distinct` carries from step to step; flattened, slot j of
    word w is row w·k + j."""

    pieces: torch.Tensor  # (words, k, max_len) the pieces so far, padded
    log_q: torch.Tensor  # (words, k) log-probability under the sampling distribution, which the draw follows
    log_p: torch.Tensor  # (words, k) the model's own log-probability (no temperature, no filter): the score
    gumbel: torch.Tensor  # (words, k) the perturbed log q that decides the draw; -inf: an empty slot
    ended: torch.Tensor  # (words, k) True once the slot's output has its EOS

    @classmethod
    def start(cls, words: int, k: int, max_len: int, pad_id: int, device: torch.device) -> "Slots":
        """One hypothesis per word, the empty prefix, in slot 0; the other slots empty."""
        gumbel = torch.full((words, k), float("-inf"), device=device)
        gumbel[:, 0] = 0.0
        return cls(torch.full((words, k, max_len), pad_id, dtype=torch.long, device=device),
                   torch.zeros(words, k, device=device), torch.zeros(words, k, device=device), gumbel,
                   torch.zeros(words, k, dtype=torch.bool, device=device))


@torch.no_grad()
def sample_distinct(model: Seq2SeqModel, memory: Memory, tokenizer: Tokenizer, k: int, max_len: int,
                    temperature: float, top_k: int, top_p: float, generator: torch.Generator,
                    record: StepRecorder | None = None) -> list[list[tuple[list[int] | None, float]]]:
    """Up to k *different* outputs for every row of `memory`, drawn without replacement from the sampling
    distribution (temperature, then top-k and top-p, as `sampling_pick` draws), in the order drawn, each
    with the model's log p(output | word) (EOS included; no temperature or filter).

    Why: a model trained on near misses puts most of its probability on a few outputs, so drawing one
    output at a time gives the same ones again and again (two draws in three were repeats at the defaults).
    Stochastic beam search (Kool, van Hoof and Welling, 2019) draws k different ones in one pass. Every
    hypothesis carries a perturbed log-probability, its log q plus Gumbel noise; each child's is drawn so
    that the largest child's equals its parent's (`conditioned_gumbels`); each step keeps the k largest
    per word, finished ones included. The k finished at the end are a sample of k without replacement,
    largest (first drawn) first. A word whose distribution allows fewer than k outputs gets all of them;
    an output still running at max_len comes back as None.
    `record` (infer.py --explain) gets every step of every hypothesis; its rows are the words' slots.
    """
    words, device = memory.states.size(0), memory.states.device
    slots = Slots.start(words, k, max_len, tokenizer.pad_id, device)
    live = torch.arange(words, device=device) * k  # (live,) the slot each decoded row holds
    prev = torch.full((words,), tokenizer.bos_id, dtype=torch.long, device=device)  # (live,)
    state = None
    for step in range(max_len):
        logits, state = model.decode_step(prev, select_batch(memory, live // k), state)  # (live, vocab)
        # the model's own log p, normalised over every piece, as teacher forcing scores it; then the pieces
        # never drawn get -inf in place (`forbid` would copy every row, and no output's log p reads theirs)
        log_p = logits.float().log_softmax(-1)  # (live, vocab)
        log_p[:, list(never_drawn(tokenizer))] = float("-inf")
        ids, probs = drawing_probs(log_p, temperature, top_k, top_p)  # (live, m) each
        child_log_q = slots.log_q.flatten()[live, None] + probs.log()  # (live, m)
        child_log_p = slots.log_p.flatten()[live, None] + log_p.gather(-1, ids)  # (live, m)
        child_gumbel = conditioned_gumbels(child_log_q, slots.gumbel.flatten()[live], generator)  # (live, m)
        best, parent, child, is_child = _k_largest(slots, live, child_gumbel, k)  # (words, k) each
        row_of_slot = torch.full((words * k,), -1, dtype=torch.long, device=device)
        row_of_slot[live] = torch.arange(len(live), device=device)
        parent_row = row_of_slot[parent].clamp(min=0)  # (words, k) the parent's decoded row, if it has one
        piece = torch.where(is_child, ids[parent_row, child], tokenizer.pad_id)  # (words, k)
        carried = lambda of_child, of_slot: torch.where(is_child, of_child[parent_row, child],
                                                        of_slot.flatten()[parent])  # (words, k)
        pieces = slots.pieces.flatten(0, 1)[parent.flatten()].view(words, k, max_len)
        pieces[..., step] = torch.where(is_child, piece, pieces[..., step])
        occupied = best > float("-inf")  # (words, k) False where a word has fewer than k options
        slots = Slots(pieces, carried(child_log_q, slots.log_q), carried(child_log_p, slots.log_p), best,
                      occupied & (~is_child | (piece == tokenizer.eos_id)))
        if record is not None:
            record.branch(parent.flatten().tolist())
            grown = (is_child & occupied).flatten().nonzero().flatten()  # (grown,) slots given a piece now
            record(log_p[parent_row.flatten()[grown]], piece.flatten()[grown], grown)
        going = (occupied & ~slots.ended).flatten()  # (words · k,)
        if not going.any():
            break
        live = going.nonzero().flatten()  # (live,)
        state = select_batch(state, parent_row.flatten()[live])
        prev = piece.flatten()[live]
    occupied = (slots.gumbel > float("-inf")).tolist()  # (words, k); the occupied slots come first
    return [[(until_eos(ids, tokenizer.eos_id), log_p) for ids, log_p, here in zip(*word) if here]
            for word in zip(slots.pieces.tolist(), slots.log_p.tolist(), occupied)]


def _k_largest(slots: Slots, live: torch.Tensor, child_gumbel: torch.Tensor,
               k: int) -> tuple[torch.Tensor, ...]:
    """Each word's k largest options: its finished outputs as they are, and every child of its live slots.

    child_gumbel (live, m). Returns, each (words, k), largest first: the perturbed values (-inf: no option
    left for that slot), the slot each continues (flattened, word·k + j), the child's place among its
    parent's m, and whether it is a child (else a finished output kept as it was).
    """
    words, m = slots.gumbel.size(0), child_gumbel.size(1)
    children = torch.full((words * k, m), float("-inf"), device=child_gumbel.device)
    children[live] = child_gumbel
    finished = slots.gumbel.masked_fill(~slots.ended, float("-inf"))  # (words, k)
    best, chosen = torch.cat([finished, children.view(words, k * m)], dim=1).topk(k, dim=1)  # (words, k)
    is_child = chosen >= k
    own_slot = torch.where(is_child, (chosen - k) // m, chosen)  # (words, k) among the word's own k
    parent = torch.arange(words, device=chosen.device)[:, None] * k + own_slot
    return best, parent, (chosen - k).clamp(min=0) % m, is_child


@dataclass
class Hypothesis:
    tokens: list[int]  # generated so far, without BOS
    log_prob: float  # sum of log-probabilities of the tokens (and of EOS once finished)

    def score(self, length_penalty: float) -> float:
        """Log-probability per token^length_penalty: without it, beam search favours the shortest outputs."""
        return self.log_prob / (len(self.tokens) + 1) ** length_penalty


@torch.no_grad()
def beam_search(
    model: Seq2SeqModel, memory: Memory, tokenizer: Tokenizer, beam_size: int, max_len: int,
    length_penalty: float = 1.0, record: BeamRecorder | None = None,
) -> list[Hypothesis]:
    """The `beam_size` best finished outputs for ONE source (memory batch of 1), best first by
    `Hypothesis.score(length_penalty)`.

    Each step extends every live hypothesis by every token, keeps the `beam_size` best continuations,
    and moves those that chose EOS to the finished list. Stops when `beam_size` have finished.
    `record` (infer.py --explain) is shown the live and the ended hypotheses after every step.
    """
    live = [Hypothesis([], 0.0)]
    finished: list[Hypothesis] = []
    rows = torch.zeros(1, dtype=torch.long, device=memory.states.device)  # which live beam each row continues
    state, prev = None, torch.tensor([tokenizer.bos_id], device=memory.states.device)
    for _ in range(max_len):
        beam_memory = select_batch(memory, torch.zeros_like(rows))
        logits, state = model.decode_step(prev, beam_memory, select_batch(state, rows))
        log_probs = forbid(logits, never_drawn(tokenizer)).float().log_softmax(-1)
        # (live, vocab)
        totals = torch.tensor([h.log_prob for h in live], device=log_probs.device)[:, None] + log_probs
        next_live, next_rows, ended = best_continuations(live, totals, beam_size, tokenizer.eos_id)
        finished += ended
        if record is not None:
            record(next_live, ended)
        if len(finished) >= beam_size or not next_live:
            break
        live = next_live
        rows = torch.tensor(next_rows, device=log_probs.device)
        prev = torch.tensor([h.tokens[-1] for h in live], device=log_probs.device)
    return sorted(finished, key=lambda h: h.score(length_penalty), reverse=True)[:beam_size]


def best_continuations(live: list[Hypothesis], totals: torch.Tensor, beam_size: int,
                       eos_id: int) -> tuple[list[Hypothesis], list[int], list[Hypothesis]]:
    """Go through the 2·beam_size best (hypothesis, next token) pairs of `totals` (live, vocab), best first:
    one ending in EOS is finished; the others extend their hypothesis, up to beam_size of them.
    Returns (the new live hypotheses, the live row each continues, those that ended)."""
    best = totals.flatten().topk(min(2 * beam_size, totals.numel()))
    next_live, rows, ended = [], [], []
    for total, flat_index in zip(best.values.tolist(), best.indices.tolist()):
        beam, token = divmod(flat_index, totals.size(1))
        if total == float("-inf"):  # a forbidden piece: too few possible continuations to fill the beam
            break
        if token == eos_id:
            ended.append(Hypothesis(live[beam].tokens, total))
        elif len(next_live) < beam_size:
            next_live.append(Hypothesis(live[beam].tokens + [token], total))
            rows.append(beam)
    return next_live, rows, ended


# --- N distinct answers per word ----------------------------------------------------------------------


class Distractor(str):
    """One output: its text (a str, so it prints, compares and joins as the text), with the `score` that
    placed it, higher better: the ranking score for method "rank", else the model's log p(d | word) per
    piece (EOS included), as beam search weighs its hypotheses, so a longer output is not marked down for
    its length alone."""

    score: float

    def __new__(cls, text: str, score: float) -> "Distractor":
        made = super().__new__(cls, text)
        made.score = score
        return made

    def __reduce__(self):  # copy and pickle keep the score (str's own would drop it)
        return Distractor, (str(self), self.score)

    def __repr__(self) -> str:
        return f"Distractor({str(self)!r}, score={self.score:.3f})"


@dataclass
class AnswerSets:
    """The distinct allowed answers found so far, one list per source word.

    An answer is allowed when it is well-formed, not a known correct answer of its word, not found
    already, and (given a word list) a real word. U+FFFD appears when sampled byte pieces do not form
    valid UTF-8: such text is no word.
    """

    excluded: list[set[str]]  # per source: known correct answers, normalised
    n: int  # answers wanted per source
    known_words: frozenset[str] | None = None  # if given, only these strings are allowed
    found: list[list[str]] = field(init=False)
    scores: list[list[float | None]] = field(init=False)  # aligned with `found`; None until scored

    def __post_init__(self):
        self.found = [[] for _ in self.excluded]
        self.scores = [[] for _ in self.excluded]

    def is_full(self, i: int) -> bool:
        return len(self.found[i]) >= self.n

    def allows(self, i: int, text: str) -> bool:
        """Whether `text` (normalised) may be an answer of source i at all, found already or not."""
        return self.refusal(i, text) is None

    def refusal(self, i: int, text: str) -> str | None:
        """Why `text` (normalised) can never be an answer of source i, or None when it can."""
        if not text:
            return "empty"
        if "\ufffd" in text:
            return "broken bytes"  # sampled byte pieces that are not valid UTF-8
        if text in self.excluded[i]:
            return "correct answer"
        if self.known_words is not None and text not in self.known_words:
            return "not a real word"
        return None

    def offer(self, i: int, text: str, score: float | None = None) -> str:
        """Add `text` to source i's answers if it may be one; returns "kept" or why it was not."""
        text = normalize_text(text)
        if text in self.found[i]:
            return "duplicate"
        if self.is_full(i):
            return "rank"  # enough better ones were kept first
        refusal = self.refusal(i, text)
        if refusal is not None:
            return refusal
        self.found[i].append(text)
        self.scores[i].append(score)
        return "kept"

    def forget(self, i: int) -> None:
        """Drop source i's answers, to choose them again."""
        self.found[i], self.scores[i] = [], []

    def best_first(self) -> list[list[Distractor]]:
        """Each source's answers with their scores, the highest score first."""
        return [sorted(map(Distractor, texts, scores), key=lambda d: -d.score)
                for texts, scores in zip(self.found, self.scores)]


@torch.no_grad()
def distinct_outputs(
    model: Seq2SeqModel, tokenizer: Tokenizer, sources: list[str], excluded: list[set[str]],
    n: int, config: DecodeConfig,
    max_source_len: int | None = None, known_words: frozenset[str] | None = None,
    proposals: list[list[tuple[str, str]]] | None = None,
    neighbour_sources: list[list[str]] | None = None,
    reverse: "ReverseQuestion | None" = None, explain: list | None = None,
    meanings: GlossQuestion | None = None,
) -> list[list[Distractor]]:
    """Up to `n` distinct outputs per source, best first, none in that source's `excluded` set (and, given
    `known_words`, each one of them).

    Sampling draws different outputs, 1.5·n more per unfinished word each round, for at most
    `config.max_attempts` rounds, so it always ends; a word whose model cannot produce n distinct allowed
    answers gets fewer. Ranking scores `config.rank_samples` samples per word, `config.neighbour_samples`
    for each of its `neighbour_sources` (inputs of related words) and the word's `proposals` (candidates
    from elsewhere, e.g. the lexicon, each as (text, where it came from)), all by how likely the model finds
    them for this word, (given `reverse`) by how likely it finds this word's answer for them, and (given
    `meanings`) by how near their glosses are to the word, and keeps the n best. Given `explain`, one entry
    per word is appended there: for ranking, every candidate with its scores and what became of it
    (`RankedCandidate`s); for the other methods, the decoding step by step (`trace.WordTrace`).
    Each output carries its score: ranking's, or for the other methods log p(d | word) per piece, scored
    once the outputs are found (`Distractor`).
    """
    check_decode_settings(replace(config, n=n))  # n is given apart from the other settings
    answers = AnswerSets([{normalize_text(text) for text in known} for known in excluded], n, known_words)
    generator = torch.Generator().manual_seed(config.seed)
    # ranking's extra rounds: the first draws stay as they were
    top_up = torch.Generator().manual_seed(config.seed + 1)
    if config.method == "rank":
        check_rank_settings(config)
    traces = [WordTrace(config.method, _settings(config)) for _ in sources] if explain is not None else None
    tables = [[] for _ in sources] if explain is not None else None  # ranking's, for `explain`
    if config.method not in ("rank", "sample", "greedy", "beam"):
        raise UserError(f"decoding method '{config.method}' is not known; use rank, sample, greedy or beam")
    pieces = source_pieces(tokenizer, sources, max_source_len)
    # the output layer in bf16 where the processor computes it natively (Seq2SeqModel.output_logits)
    dtype = choose_output_dtype(config.output_precision, next(model.parameters()).device)
    with output_precision(model, dtype):
        if config.method == "sample":  # its rounds take the words still short from every chunk together
            _sample_rounds(model, tokenizer, pieces, answers, config, generator, traces)
        else:
            for chunk in chunks_by_length(pieces):
                src = padded_sources(model, tokenizer, pieces, chunk)  # (words, src_len)
                memory = model.encode(src, src != tokenizer.pad_id)
                if config.method == "rank":
                    found = _candidates(model, tokenizer, memory, chunk, config, generator, max_source_len,
                                        proposals, neighbour_sources)
                    _rank_until_full(model, tokenizer, src, memory, chunk, found, answers, config, top_up,
                                     reverse, max_source_len, tables, meanings)
                else:
                    _search_each(model, tokenizer, memory, chunk, answers, config, traces)
                    _score_found(model, tokenizer, src, chunk, answers)  # sampling scores as it draws
    if explain is not None:
        explain.extend(tables if config.method == "rank" else traces)
    return answers.best_first()


def _settings(config: DecodeConfig) -> str:
    """The settings a method's trace depends on, in one line."""
    if config.method == "sample":
        return (f"temperature {config.temperature:g}, top-k {config.top_k}, top-p {config.top_p:g}, "
                f"seed {config.seed}")
    return "the most likely piece at every step"


def _score_found(model, tokenizer, src: torch.Tensor, chunk: Sequence[int], answers: AnswerSets) -> None:
    """log p(d | word) per piece (EOS included) for every answer found for the words of `chunk`, in one
    scoring pass."""
    owner = [offset for offset, i in enumerate(chunk) for _ in answers.found[i]]
    if not owner:
        return
    ids = [tokenizer.encode(text) for i in chunk for text in answers.found[i]]
    # (answers,)
    log_probs = sequence_log_probs(model, tokenizer, src, torch.tensor(owner, device=src.device), ids)
    pieces = torch.tensor([len(piece_ids) + 1 for piece_ids in ids], dtype=log_probs.dtype,
                          device=log_probs.device)
    scores = iter((log_probs / pieces).tolist())
    for i in chunk:
        answers.scores[i] = [next(scores) for _ in answers.found[i]]


def _sample_rounds(model, tokenizer, pieces: list[list[int]], answers: AnswerSets, config, generator,
                   traces: list[WordTrace] | None = None) -> None:
    """Rounds of draws without replacement (`sample_distinct`) for every word that still needs answers:
    1.5·n different outputs per word in round 1, 3·n in round 2, and so on. Each round draws afresh, so
    its larger beam reaches past the outputs found already; 1.5·n, since about a third of the outputs are
    correct answers or not real words. A word whose sampling distribution allows fewer outputs than its
    beam has given all it has, and drops out. `pieces` holds each word's source ids; `traces` (--explain)
    gets every output step by step.

    A round takes the words still short from the whole list together, in chunks of about
    `HYPOTHESES_PER_CHUNK` hypotheses, so that the few words of each chunk fill a step's matrices together.
    """
    drawing = lambda logits: drawing_probs(logits, config.temperature, config.top_k, config.top_p)
    spent: set[int] = set()  # words that have given all they have
    for round_number in range(1, config.max_attempts + 1):
        waiting = [i for i in range(len(pieces)) if not answers.is_full(i) and i not in spent]
        if not waiting:
            return
        beam = (3 * answers.n + 1) // 2 * round_number
        for places in chunks_by_length([pieces[i] for i in waiting], max(1, HYPOTHESES_PER_CHUNK // beam)):
            chunk = [waiting[place] for place in places]
            src = padded_sources(model, tokenizer, pieces, chunk)  # (words, src_len)
            record = (StepRecorder(tokenizer, len(chunk) * beam, config.temperature, drawing)
                      if traces is not None else None)
            drawn = sample_distinct(model, model.encode(src, src != tokenizer.pad_id), tokenizer, beam,
                                    config.max_len, config.temperature, config.top_k, config.top_p, generator,
                                    record)
            for offset, (i, outputs) in enumerate(zip(chunk, drawn)):
                steps = record.steps[offset * beam : (offset + 1) * beam] if record is not None else None
                _offer_drawn(tokenizer, answers, i, outputs, traces, steps, round_number)
                if len(outputs) < beam:
                    spent.add(i)


def _offer_drawn(tokenizer, answers: AnswerSets, i: int, outputs: list[tuple[list[int] | None, float]],
                 traces: list[WordTrace] | None, steps: list | None, round_number: int) -> None:
    """Offer word i the outputs drawn for it, scored by log p per piece (EOS included); with `traces`, note
    each one with its `steps` and what became of it."""
    for slot, (ids, log_p) in enumerate(outputs):
        text = tokenizer.decode(ids) if ids is not None else None
        verdict = "never ended" if text is None else answers.offer(i, text, log_p / (len(ids) + 1))
        if traces is not None:
            _note_output(traces[i], text, verdict, steps[slot], round_number)


def _search_each(model, tokenizer, memory: Memory, chunk: Sequence[int], answers: AnswerSets, config,
                 traces: list[WordTrace] | None = None) -> None:
    """Greedy gives one answer per word; beam search gives its best distinct allowed beams. `traces`
    (--explain) gets greedy's steps, or beam search's hypotheses step by step."""
    for offset, i in enumerate(chunk):
        one = select_batch(memory, torch.tensor([offset], device=memory.states.device))
        if config.method == "greedy":
            outputs, beam_steps = _greedy(model, tokenizer, one, config, traces is not None)
        else:
            # room for the answers it drops
            beam_size = max(config.beam_size, answers.n + len(answers.excluded[i]))
            outputs, beam_steps = _beam(model, tokenizer, one, beam_size, config, traces is not None)
            if traces is not None:
                traces[i].settings = f"beam size {beam_size}, length penalty {config.length_penalty:g}"
        for ids, steps, score in outputs:
            text = tokenizer.decode(ids) if ids is not None else None
            verdict = answers.offer(i, text) if text is not None else "never ended"
            if traces is not None:
                _note_output(traces[i], text, verdict, steps, score=score)
        if traces is not None:
            traces[i].beam_steps = beam_steps


def _greedy(model, tokenizer, one: Memory, config, tracing: bool) -> tuple[list[tuple], list]:
    """([(ids or None, its steps, None)], []): greedy's one output; traced, its steps are recorded."""
    record = StepRecorder(tokenizer, 1) if tracing else None
    [ids] = generate(model, one, tokenizer, config.max_len, greedy_pick(), record)
    return [(ids, record.steps[0] if record else [], None)], []


def _beam(model, tokenizer, one: Memory, beam_size: int, config, tracing: bool) -> tuple[list[tuple], list]:
    """([(ids, [], score)] best first, the beam's steps when traced)."""
    record = BeamRecorder(tokenizer, config.length_penalty) if tracing else None
    found = beam_search(model, one, tokenizer, beam_size, config.max_len, config.length_penalty, record)
    return [(h.tokens, [], h.score(config.length_penalty)) for h in found], (record.steps if record else [])


def _note_output(trace: WordTrace, text: str | None, verdict: str, steps: list, round_number: int = 1,
                 score: float | None = None) -> None:
    """Add one output (None: it never ended) to its word's trace; its score is the running log p unless
    given (beam)."""
    if score is None:
        score = steps[-1].log_prob if steps else 0.0
    trace.outputs.append(TracedOutput(text, score, OFFER_VERDICTS.get(verdict, verdict), round_number, steps))


# AnswerSets.offer's word for it, when not ranking
OFFER_VERDICTS = {"rank": "not needed: n answers were found already"}


# --- ranking: many candidates, scored by how specific they are to this word ----------------------------


@torch.no_grad()
def sequence_log_probs(model: Seq2SeqModel, tokenizer: Tokenizer, src: torch.Tensor, src_index: torch.Tensor,
                       candidates: list[list[int]]) -> torch.Tensor:
    """log p(candidate | source) for each candidate (its pieces, then EOS), by teacher forcing.

    src (sources, src_len) holds each source once; src_index (candidates,) says which one a candidate
    continues. Scored SCORE_BATCH candidates at a time, so a long list never holds all the logits at once.
    """
    totals = []
    for first in range(0, len(candidates), SCORE_BATCH):
        part = candidates[first : first + SCORE_BATCH]
        # (part, len)
        tgt_in = pad([[tokenizer.bos_id] + ids for ids in part], tokenizer.pad_id).to(src.device)
        # (part, len)
        tgt_out = pad([ids + [tokenizer.eos_id] for ids in part], tokenizer.pad_id).to(src.device)
        real = tgt_out != tokenizer.pad_id  # (part, len)
        logits = model(src, tgt_in, src_index[first : first + SCORE_BATCH], real)  # (real tokens, vocab)
        # (real tokens,)
        token_log_probs = logits.float().log_softmax(-1).gather(-1, tgt_out[real][:, None]).squeeze(-1)
        # (part, len)
        per_position = torch.zeros(real.shape, device=src.device).masked_scatter(real, token_log_probs)
        totals.append(per_position.sum(dim=1))  # (part,)
    return torch.cat(totals) if totals else torch.zeros(0)


def check_rank_settings(config: DecodeConfig) -> None:
    for option, value in (("--rank-lexicon", config.rank_lexicon), ("--rank-meaning", config.rank_meaning)):
        if value < 0:
            raise UserError(f"{option} must be at least 0 (got {value}); 0 means none")
    if config.generic_weight < 0:
        raise UserError(f"generic weight must be at least 0 (got {config.generic_weight})")
    if config.reverse_weight < 0:
        raise UserError(f"reverse weight must be at least 0 (got {config.reverse_weight})")
    if config.closeness_weight < 0:
        raise UserError(f"closeness weight must be at least 0 (got {config.closeness_weight})")
    if config.gloss_weight < 0:
        raise UserError(f"gloss weight must be at least 0 (got {config.gloss_weight})")
    if config.reverse_keys < 1:
        raise UserError(f"reverse keys must be at least 1 (got {config.reverse_keys})")


def _sampled_texts(model, tokenizer, memory: Memory, owners: list[int], count: int, words: int, config,
                   generator) -> list[list[str]]:
    """`count` different samples from each source of `memory` (drawn without replacement,
    `sample_distinct`), as text (unfinished ones dropped), gathered by the word each source serves:
    `owners[row]`, one of `words`."""
    drawn = sample_distinct(model, memory, tokenizer, count, config.max_len, config.temperature, config.top_k,
                            config.top_p, generator)
    texts: list[list[str]] = [[] for _ in range(words)]
    for owner, outputs in zip(owners, drawn):
        texts[owner] += [tokenizer.decode(ids) for ids, _ in outputs if ids is not None]
    return texts


# where candidates come from
SAMPLE, RELATED = "sample", "related word's sample"
SHARES_KANJI, NEAR_IN_MEANING = "lexicon, shares a kanji", "lexicon, near in meaning"


def _candidates(model, tokenizer, memory: Memory, chunk: Sequence[int], config, generator,
                max_source_len: int | None,
                proposals: list[list[tuple[str, str]]] | None,
                neighbour_sources: list[list[str]] | None) -> list[list[tuple[str, str]]]:
    """Each word's candidates as (text, origin): its own samples, samples for its related words' sources,
    and its proposals."""
    found = [[(text, SAMPLE) for text in texts] for texts in
             _sampled_texts(model, tokenizer, memory, list(range(len(chunk))), config.rank_samples,
                            len(chunk), config, generator)]
    related_sources = [neighbour_sources[i] if neighbour_sources else [] for i in chunk]
    # the word each one serves
    owners = [offset for offset, texts in enumerate(related_sources) for _ in texts]
    if owners:
        texts = [text for sources in related_sources for text in sources]
        related = encode_sources(model, tokenizer, texts, max_source_len)
        for mine, theirs in zip(found, _sampled_texts(model, tokenizer, related, owners,
                                                      config.neighbour_samples, len(chunk),
                                                      config, generator)):
            mine.extend((text, RELATED) for text in theirs)
    return [mine + (proposals[i] if proposals else [])
            for mine, i in zip(found, chunk)]


def _rank_until_full(model, tokenizer, src: torch.Tensor, memory: Memory, chunk: Sequence[int],
                     found: list[list[tuple[str, str]]], answers: AnswerSets, config, generator, reverse,
                     max_source_len: int | None, explain: list[list["RankedCandidate"]] | None,
                     meanings: GlossQuestion | None = None) -> None:
    """Rank each word's candidates. A word left with fewer than n allowed ones (a well-fitted model repeats
    itself, and an answer without kanji has no look-alikes) draws fresh samples, `config.rank_samples`
    more each round and at temperature 1 or above, so that they reach beyond the words already seen, and
    all its candidates are ranked again, for at most `config.max_attempts` rounds. `explain` (one entry
    per word of the whole list) gets each word's last ranking in its place."""
    waiting = list(range(len(chunk)))  # offsets of the words still to rank
    wider = replace(config, temperature=max(config.temperature, 1.0))
    for attempt in range(config.max_attempts):
        if attempt:  # the words still short: fresh samples beside their old candidates, all ranked again
            fresh = _sampled_texts(model, tokenizer,
                                   select_batch(memory, torch.tensor(waiting, device=src.device)),
                                   list(range(len(waiting))), config.rank_samples * (attempt + 1),
                                   len(waiting), wider, generator)
            for offset, texts in zip(waiting, fresh):
                found[offset] = found[offset] + [(text, SAMPLE) for text in texts]
                answers.forget(chunk[offset])
        explained = [] if explain is not None else None
        _rank(model, tokenizer, src[torch.tensor(waiting, device=src.device)],
              [chunk[offset] for offset in waiting],
              [found[offset] for offset in waiting], answers, config, reverse, max_source_len, explained,
              meanings)
        for offset, table in zip(waiting, explained or []):
            explain[chunk[offset]] = table
        waiting = [offset for offset in waiting if not answers.is_full(chunk[offset])]
        if not waiting:
            break


@dataclass
class RankedCandidate:
    """One candidate that ranking considered, with the numbers that placed it: what `infer.py --explain`
    prints. Scores are None where a term was not computed (its weight is 0, or the candidate was refused
    before scoring)."""

    text: str
    origin: str  # SAMPLE, RELATED, SHARES_KANJI or NEAR_IN_MEANING (the first, when several gave it)
    verdict: str  # "kept", or why not: "rank" (enough better ones), "correct answer", "not a real word", …
    forward: float | None = None  # log p(d | word)
    generic: float | None = None  # log p(d | no word)
    reverse: float | None = None  # log p(answer | d's own input)
    closeness: float | None = None  # cosine of the encoder's readings of the word and of d's own input
    gloss: float | None = None  # cosine of the word and d's nearest gloss, in the dictionary's word vectors
    score: float | None = None  # forward − λ·generic + μ·reverse + ν·closeness + ρ·gloss


def _rank(model, tokenizer, src: torch.Tensor, chunk: Sequence[int], candidates: list[list[tuple[str, str]]],
          answers: AnswerSets, config, reverse: "ReverseQuestion | None" = None,
          max_source_len: int | None = None,
          explain: list[list[RankedCandidate]] | None = None,
          meanings: GlossQuestion | None = None) -> None:
    """Score every allowed candidate of each word and offer them best first; with `explain`, append each
    word's candidates there, best first, the refused ones last.

    score = log p(d | word) − λ·log p(d | empty source) + μ·log p(answer | d) + ν·closeness(word, d)
            + ρ·gloss(word, d),
    λ = config.generic_weight, μ = config.reverse_weight, ν = config.closeness_weight,
    ρ = config.gloss_weight. The second term is what the model expects when it knows nothing of the word
    (the training's empty sources taught it): a word likely everywhere (どこ, ある) loses what it gains from
    being generic. The third asks the question the other way round, and the fourth compares how the
    encoder reads the two (`ReverseQuestion`). The fifth asks the dictionary whether d's glosses mean what
    the word means (`gloss_space.GlossQuestion`): the model's own sense of meaning comes from a few minutes
    of near misses, the dictionary's from every headword's glosses.
    """
    origins = [{} for _ in chunk]  # per word: normalised text → where it first came from
    for seen, pairs in zip(origins, candidates):
        for text, origin in pairs:
            seen.setdefault(normalize_text(text), origin)
    allowed = [sorted(text for text in seen if answers.allows(i, text)) for i, seen in zip(chunk, origins)]
    owner = torch.tensor([offset for offset, texts in enumerate(allowed) for _ in texts], dtype=torch.long)
    flat = [text for texts in allowed for text in texts]
    ids = [tokenizer.encode(text) for text in flat]
    forward = sequence_log_probs(model, tokenizer, src, owner.to(src.device), ids)  # (candidates,)
    scores, generic, asked_back = forward, None, None
    if config.generic_weight:
        empty = torch.full((1, 1), tokenizer.eos_id, dtype=torch.long, device=src.device)  # EOS alone
        no_word = torch.zeros(len(ids), dtype=torch.long, device=src.device)
        generic = sequence_log_probs(model, tokenizer, empty, no_word, ids)
        scores = scores - config.generic_weight * generic
    if reverse is not None and config.reverse_weight:
        asked = [reverse.answers[chunk[offset]] for offset in owner.tolist()]
        asked_back = reverse.log_probs(model, tokenizer, flat, asked, max_source_len)
        scores = scores + config.reverse_weight * asked_back
    closeness = None
    if reverse is not None and config.closeness_weight:
        closeness = reverse.closeness(model, tokenizer, src, owner, flat, max_source_len)
        scores = scores + config.closeness_weight * closeness
    gloss = None
    if meanings is not None and config.gloss_weight:
        gloss = gloss_closeness(meanings, [chunk[offset] for offset in owner.tolist()], flat)
        scores = scores + config.gloss_weight * gloss
    owners, totals = owner.tolist(), scores.tolist()
    ranked = sorted(range(len(flat)), key=lambda k: (owners[k], -totals[k], flat[k]))
    verdicts = [answers.offer(chunk[owners[k]], flat[k], totals[k]) for k in ranked]
    if explain is not None:
        terms = [None if term is None else term.tolist()
                 for term in (forward, generic, asked_back, closeness, gloss)]
        explain.extend(_explained(chunk, answers, origins, flat, owners, ranked, verdicts, terms, totals))


def _explained(chunk: Sequence[int], answers: AnswerSets, origins: list[dict[str, str]], flat: list[str],
               owners: list[int], ranked: list[int], verdicts: list[str], terms: list[list[float] | None],
               totals: list[float]) -> list[list[RankedCandidate]]:
    """Each word's candidates as ranking weighed them, best first, then those refused before scoring.
    `terms` holds the forward, generic, reverse, closeness and gloss scores of every candidate
    (None: not computed)."""
    explained = [[] for _ in chunk]
    for k, verdict in zip(ranked, verdicts):
        offset = owners[k]
        mine = [None if term is None else term[k] for term in terms]
        explained[offset].append(RankedCandidate(flat[k], origins[offset][flat[k]], verdict, *mine,
                                                 totals[k]))
    for offset, i in enumerate(chunk):
        explained[offset] += [RankedCandidate(text, origin, answers.refusal(i, text))
                              for text, origin in origins[offset].items() if not answers.allows(i, text)]
    return explained


@dataclass
class ReverseQuestion:
    """What ranking asks of a candidate's own input: would the model, shown the candidate as the answer,
    propose this word's answer as *its* near miss (`log_probs`)? And does the encoder read the two alike
    (`closeness`)?

    A near miss works both ways: 貸す (lend) is a near miss of borrow (借りる) as 借りる is one of
    lend. Training taught the model the first direction for many words (lend ⟨sep⟩ 貸す → 借りる is
    a training row when the corpus mined 借りる for lend). A word it never saw still has an answer,
    and candidates whose own input makes that answer likely are near it in meaning, however the word
    itself is spelled.

    Why this question works where log p(d | word) alone does not: here the target is fixed (the word's
    answer) and only the input changes, so a candidate gains nothing from being a likely output in
    general; comparing log p(d | word) across candidates d also compares how common each d is.

    `answers` holds each source word's correct answers; `inputs_of` gives a candidate's own encoder inputs
    (English words it translates, each with that word's answers; empty when nothing is known of it).
    """

    answers: list[list[str]]
    inputs_of: Callable[[str], tuple[str, ...]]

    def log_probs(self, model: Seq2SeqModel, tokenizer: Tokenizer, candidates: list[str],
                  answers: list[list[str]], max_source_len: int | None = None) -> torch.Tensor:
        """max over the candidate's inputs s and the word's answers a of log p(a | s), per candidate.

        The best of several inputs counts: 貸す translates lend and loan, and the corpus may have mined the
        answer for only one of them. A candidate with no input of its own gets the lowest score of the
        candidates beside it: unknown is not evidence for it.
        """
        owner, sources, targets = [], [], []  # one row per (candidate, its input, the word's answer)
        for i, (candidate, mine) in enumerate(zip(candidates, answers)):
            for source in self.inputs_of(candidate):
                for answer in mine:
                    owner.append(i)
                    sources.append(source)
                    targets.append(answer)
        return best_per_candidate(owner, pair_log_probs(model, tokenizer, sources, targets, max_source_len),
                                  len(candidates))

    @torch.no_grad()
    def closeness(self, model: Seq2SeqModel, tokenizer: Tokenizer, src: torch.Tensor, word_of: torch.Tensor,
                  candidates: list[str], max_source_len: int | None = None) -> torch.Tensor:
        """max over the candidate's inputs s of cos(the encoder's reading of the word, its reading of s), per
        candidate (`readings`). src (words, src_len) holds the words' own inputs, and word_of (candidates,)
        the word each candidate is ranked for. A candidate with no input of its own gets the lowest score
        beside it.
        """
        owner, sources = [], []  # one row per (candidate, one of its inputs)
        for i, candidate in enumerate(candidates):
            for source in self.inputs_of(candidate):
                owner.append(i)
                sources.append(source)
        if not sources:
            return best_per_candidate(owner, torch.zeros(0), len(candidates))
        distinct = sorted(set(sources))
        row_of = {text: row for row, text in enumerate(distinct)}
        words = readings(model.encode(src, src != tokenizer.pad_id))  # (words, d_model)
        inputs = torch.cat([readings(encode_sources(model, tokenizer, distinct[first : first + SCORE_BATCH],
                                                    max_source_len))
                            for first in range(0, len(distinct), SCORE_BATCH)])  # (distinct inputs, d_model)
        word_rows = word_of.to(src.device)[torch.tensor(owner, device=src.device)]  # (rows,)
        cosines = (words[word_rows] * inputs[[row_of[text] for text in sources]]).sum(-1)  # (rows,)
        return best_per_candidate(owner, cosines.cpu(), len(candidates))


def gloss_closeness(meanings: GlossQuestion, word_of: list[int], candidates: list[str]) -> torch.Tensor:
    """(candidates,): each candidate's gloss closeness to its word (`GlossQuestion`); one the dictionary
    cannot place gets the lowest score beside it, as in `best_per_candidate`."""
    found = meanings.closeness(word_of, candidates)
    known = [k for k, value in enumerate(found) if value is not None]
    return best_per_candidate(known, torch.tensor([found[k] for k in known]), len(candidates))


def best_per_candidate(owner: list[int], values: torch.Tensor, count: int) -> torch.Tensor:
    """(count,): the largest of `values` (rows,) owned by each candidate (owner[row] = its index); a candidate
    with no rows gets the lowest best among the others: unknown is not evidence for it."""
    best = torch.full((count,), -torch.inf)
    best.scatter_reduce_(0, torch.tensor(owner, dtype=torch.long), values.float(), reduce="amax")
    known = best > -torch.inf
    floor = best[known].min() if known.any() else torch.tensor(0.0)
    return torch.where(known, best, floor)


def readings(memory: Memory) -> torch.Tensor:
    """(batch, d_model): each source's encoder states averaged over its real tokens, scaled to length 1.

    Why a model-made measure of meaning: training pushes words with the same near misses towards the same
    outputs, and the decoder sees a word only through these states, so two words the encoder reads alike
    tend to have the same near misses, and to mean nearly the same. Their cosine costs one encoder pass.
    """
    real = memory.src_mask.unsqueeze(-1).float()  # (batch, src_len, 1)
    mean = (memory.states.float() * real).sum(dim=1) / real.sum(dim=1)  # (batch, d_model)
    return torch.nn.functional.normalize(mean, dim=-1)


@torch.no_grad()
def pair_log_probs(model: Seq2SeqModel, tokenizer: Tokenizer, sources: list[str], targets: list[str],
                   max_source_len: int | None = None) -> torch.Tensor:
    """log p(target | source) for each (source, target) pair of texts.

    The pairs are sorted by source and scored SCORE_BATCH at a time, each batch encoding only its own
    distinct sources, so a long list of pairs never encodes a source more than a few times. Sorted by
    length first, a batch's sources are about as long as each other: each is padded to the longest of its
    batch, and every target step attends over all of it (ranking 100 words took 74 s with the pairs
    sorted by text alone, 64 s so, docs/BENCHMARKS.md).
    """
    order = sorted(range(len(sources)), key=lambda i: (len(sources[i]), sources[i]))
    result = torch.zeros(len(sources))
    for first in range(0, len(order), SCORE_BATCH):
        part = order[first : first + SCORE_BATCH]
        distinct = sorted({sources[i] for i in part})
        row_of = {text: row for row, text in enumerate(distinct)}
        src = source_ids(model, tokenizer, distinct, max_source_len)  # (distinct sources, src_len)
        src_index = torch.tensor([row_of[sources[i]] for i in part], device=src.device)
        scores = sequence_log_probs(model, tokenizer, src, src_index,
                                    [tokenizer.encode(targets[i]) for i in part])
        result[part] = scores.cpu()
    return result
