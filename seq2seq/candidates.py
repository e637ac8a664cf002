"""Candidates from the bundled JMdict lexicon, for the model to score beside its own samples.

    correct answers 借りる ─► kanji 借 ─► common headwords written with 借, of the answer's part of speech
                                        (借金, 借用, 借家, 拝借, …) ─► decoding.py ranks them with the model
                     借りる ─► other English keys it translates (hire, rent) ─► the model's own samples
                                        for those words (貸す, 家賃, …) join the candidates too

Why: a small model trained for minutes samples many words that fit any input, and the near misses it
knows best may never come up in a few dozen samples. Published distractor generators propose candidates
and then rank them; here the lexicon proposes look-alikes that share a kanji with the answer (the classic
confusable of Chinese and Japanese tests), and words whose answers overlap this word's (its near
synonyms in the lexicon), whose near misses the model may know from training, since it has read them.
The model, which has read the word and its answer, then decides which candidates are the near misses.
The lexicon only proposes: a candidate the model finds unlikely is never chosen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from seq2seq.data import normalize_text
from seq2seq.gloss_space import GlossSpace, GlossVectors
from seq2seq.lexicon import load_pos_table, normalize_gloss, read_table
from seq2seq.meaning import glosses_by_form
from seq2seq.metrics import char_class

REPEAT_MARK = "々"  # repeats the kanji before it: 人々; no kanji of its own


def kanji_in(text: str) -> set[str]:
    """The CJK ideographs of a text: 借り入れる → {借, 入}."""
    return {char for char in text if char_class(char) == "kanji" and char != REPEAT_MARK}


@dataclass
class CandidateLexicon:
    """Common headwords by kanji, with the parts of speech of headwords and of English keys."""

    pos_by_form: dict[str, frozenset[str]]  # headword → its coarse parts of speech
    pos_by_word: dict[str, frozenset[str]]  # normalised English key → the parts of speech of its headwords
    by_kanji: dict[str, list[str]]  # kanji → the headwords written with it, sorted
    # headword → the English keys it translates, sorted (borrow, hire, rent)
    keys_by_form: dict[str, list[str]]
    # headword → what it means in English: its JMdict glosses, or its keys when no glossary was given
    glosses: dict[str, list[str]] = field(default_factory=dict)
    tuned_spaces: dict[GlossVectors, GlossSpace] = field(default_factory=dict)  # filled by space_for

    @classmethod
    def from_pos_tables(cls, pos_by_form: dict[str, frozenset[str]], pos_by_word: dict[str, frozenset[str]],
                        keys_by_form: dict[str, list[str]] | None = None,
                        glossary: dict[str, frozenset[str]] | None = None) -> "CandidateLexicon":
        """`glossary`: gloss → the forms it glosses (the rejection index), for the headwords' glosses."""
        by_kanji: dict[str, list[str]] = {}
        for form in sorted(pos_by_form):
            for kanji in kanji_in(form):
                by_kanji.setdefault(kanji, []).append(form)
        keys_by_form = keys_by_form or {}
        glosses = glosses_by_form(glossary, pos_by_form) if glossary else keys_by_form
        return cls(pos_by_form, pos_by_word, by_kanji, keys_by_form, glosses)

    @classmethod
    def load(cls, path: str | Path, glossary: dict[str, frozenset[str]] | None = None) -> "CandidateLexicon":
        """From a lexicon table such as data/lexicon.csv.gz (English, Japanese, pos columns)."""
        frame = read_table(path, ("English", "Japanese"))
        keys_by_form: dict[str, set[str]] = {}
        for english, japanese in zip(frame["English"].map(normalize_gloss),
                                     frame["Japanese"].map(normalize_text)):
            keys_by_form.setdefault(japanese, set()).add(english)
        return cls.from_pos_tables(load_pos_table(path), load_pos_table(path, key="English"),
                                   {form: sorted(keys) for form, keys in keys_by_form.items()}, glossary)

    @cached_property
    def gloss_space(self) -> GlossSpace:
        """English words as vectors, learnt from the headwords' glosses; built (about a second) when
        ranking first asks, so sampling never pays for it."""
        return GlossSpace.build(self.glosses)

    def space_for(self, tuned: GlossVectors | None) -> GlossSpace:
        """The gloss space with a model's tuned word vectors (placed once per GlossVectors), or untuned."""
        if tuned is None:
            return self.gloss_space
        if tuned not in self.tuned_spaces:
            self.tuned_spaces[tuned] = self.gloss_space.with_vectors(tuned)
        return self.tuned_spaces[tuned]

    def wanted_pos(self, word: str, answers: Iterable[str]) -> frozenset[str]:
        """The English word's parts of speech if the lexicon knows it, else its answers'; empty: any."""
        known = self.pos_by_word.get(normalize_gloss(word))
        return known or frozenset().union(*(self.pos_by_form.get(answer, frozenset()) for answer in answers))

    def kanji_neighbours(self, answers: Iterable[str], pos: frozenset[str]) -> set[str]:
        """Headwords sharing a kanji with an answer, of a part of speech in `pos` (any when empty),
        the answers themselves left out."""
        answers = set(answers)
        return {form for kanji in kanji_in("".join(answers)) for form in self.by_kanji.get(kanji, ())
                if form not in answers and (not pos or self.pos_by_form[form] & pos)}

    def sharing_kanji(self, word: str, answers: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` kanji neighbours of the answers, of the word's part of speech.

        Most shared kanji first, then nearest in length to an answer, then by spelling, so the cut keeps
        the likeliest look-alikes and the same ones every time (人 alone is in over 800 headwords).
        """
        answers = list(answers)
        answer_kanji = kanji_in("".join(answers))
        lengths = [len(answer) for answer in answers]

        def closeness(form: str) -> tuple[int, int, str]:
            return -len(kanji_in(form) & answer_kanji), min(abs(len(form) - n) for n in lengths), form

        return sorted(self.kanji_neighbours(answers, self.wanted_pos(word, answers)), key=closeness)[:limit]

    def near_in_meaning(self, word: str, answers: Iterable[str], limit: int,
                        space: GlossSpace | None = None) -> list[str]:
        """Up to `limit` headwords whose glosses are nearest the word in meaning (in `space`; by default the
        untuned `gloss_space`), of the word's part of speech, the answers left out."""
        if limit <= 0:
            return []
        answers = set(answers)
        pos = self.wanted_pos(word, answers)
        return (space or self.gloss_space).nearest(
            word, limit, lambda form: form not in answers and (not pos or bool(self.pos_by_form[form] & pos)))

    def neighbour_words(self, word: str, answers: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` other English keys translated by one of the word's answers: borrow → hire, rent.

        Those sharing the most answers come first (the closest synonyms), then by spelling.
        """
        own = normalize_gloss(word)
        shared: dict[str, int] = {}
        for answer in set(answers):
            for key in self.keys_by_form.get(answer, ()):
                if key != own:
                    shared[key] = shared.get(key, 0) + 1
        return sorted(shared, key=lambda key: (-shared[key], key))[:limit]
