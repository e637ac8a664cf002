"""Distractors from Python: what infer.py prints, as a call for a notebook or a program.

    from seq2seq import load_model

    model = load_model("runs/default")
    model.distractors("borrow")                                   # 5 Distractors, best first
    model.distractors("borrow", n=3, correct=["借りる"])            # your own answer: shown, never output
    model.distractors_many(["borrow", "river"], method="sample", temperature=1.0)
    [(d, round(d.score, 2)) for d in model.distractors("river")]  # a Distractor is its text, with a score

infer.py is a thin layer over this class, so the two give the same answers for the same settings and seed.
The bundled JMdict lists (correct answers to exclude, real words, ranking's candidates) are loaded once,
when the model is.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable

from seq2seq.candidates import CandidateLexicon
from seq2seq.config import DecodeConfig, with_overrides
from seq2seq.decoding import Distractor, RankedCandidate
from seq2seq.model_folder import TrainedModel, load_model as load_trained
from seq2seq.pipeline import distractors_for, load_candidate_lexicon, load_known_words, load_lexicon
from seq2seq.trace import WordTrace

DECODING_SETTINGS = frozenset(f.name for f in fields(DecodeConfig))


@dataclass
class DistractorModel:
    """A trained model with the lists it answers with: `distractors` for one word,
    `distractors_many` for many."""

    trained: TrainedModel
    lexicon: dict[str, frozenset[str]] | None  # English gloss → every correct JMdict form: never output
    known_words: frozenset[str] | None  # what counts as a real word; None: anything the model writes
    candidates: CandidateLexicon | None  # headwords ranking scores beside the model's samples

    def distractors(self, word: str, n: int | None = None, correct: Iterable[str] | None = None,
                    **decoding) -> list[Distractor]:
        """Up to n distinct near misses of `word`, best first. `correct`: the word's correct answers, if you
        know them; decoding settings (method, temperature, seed, …) as in `DecodeConfig`."""
        return self.distractors_many([word], n, None if correct is None else [correct], **decoding)[0]

    def distractors_many(self, words: list[str], n: int | None = None,
                         correct: list[Iterable[str] | None] | None = None,
                         exclude: Iterable[str] = (),
                         explain: list[list[RankedCandidate] | WordTrace] | None = None,
                         **decoding) -> list[list[Distractor]]:
        """Near misses for each word, in one batched pass: much faster than one call a word.

        `correct` has one entry per word (None where unknown); `exclude` is left out for every word;
        `explain` receives one entry per word (infer.py --explain): for method "rank", its candidates with
        their scores; for the others, its decoding step by step (`seq2seq.trace.WordTrace`).
        n and the decoding settings default to those the model was trained with (`DecodeConfig`).
        """
        unknown = sorted(set(decoding) - DECODING_SETTINGS)
        if unknown:
            raise TypeError(f"unknown decoding setting {unknown[0]!r}; use one of "
                            f"{', '.join(sorted(DECODING_SETTINGS))}")
        decode = with_overrides(self.trained.config, "decode", n=n, **decoding).decode
        own = [set(mine or ()) for mine in (correct or [None] * len(words))]
        if len(own) != len(words):
            raise ValueError(f"correct has {len(own)} entries for {len(words)} words; give "
                             "one per word (None: unknown)")
        return distractors_for(self.trained, words, decode, [set(exclude) for _ in words], self.lexicon,
                               self.known_words, self.candidates, explain, own)


def load_model(folder: str | Path, lexicon: str = "auto", known_words: str = "auto",
               candidates: str = "auto") -> DistractorModel:
    """A model folder written by train.py, ready to answer. Each list is 'auto' (the bundled one), 'none'
    or a path, as infer.py's --lexicon, --known-words and --candidates."""
    return with_lists(load_trained(folder), lexicon, known_words, candidates)


def with_lists(trained: TrainedModel, lexicon: str = "auto", known_words: str = "auto",
               candidates: str = "auto") -> DistractorModel:
    """A loaded model with the lists it answers with, each given as `load_model` takes them. Only ranking
    reads the candidate lexicon: infer.py passes 'none' for the other methods, a second and a half less
    to load."""
    glossary = load_lexicon(lexicon)
    return DistractorModel(trained, glossary, load_known_words(known_words),
                           load_candidate_lexicon(candidates, glossary))
