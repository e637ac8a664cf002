"""What counts as correct: the lexicon of common words, the rejection index, the list of all forms.

The lexicon is what a learner is quizzed on (common words, their main senses); the rejection index is
deliberately wider (every entry, every form) because a distractor must not be correct in *any* sense.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from jmdict_corpus.entries import Entry, coarse_pos, headword, is_common, reading
from seq2seq.data import normalize_text
from seq2seq.lexicon import normalize_gloss

SENSES_PER_ENTRY = 3  # later senses are rare, figurative or specialised uses
_ENGLISH_WORD = r"[a-z](?:[a-z'-]*[a-z])?"  # hyphens and apostrophes inside only: not 'methyl-'


@dataclass(frozen=True, order=True)
class LexiconRow:
    english: str  # normalised key: "borrow"
    japanese: str  # headword: "借りる"
    reading: str  # "かりる"
    pos: str  # noun / verb / adjective / adverb
    sense: int  # 1-based number of the JMdict sense the key came from


def is_english_key(key: str, max_words: int) -> bool:
    """A quiz word: 1..max_words plain words ('borrow', 'look after'), no digits or symbols."""
    return re.fullmatch(rf"{_ENGLISH_WORD}(?: {_ENGLISH_WORD}){{0,{max_words - 1}}}", key) is not None


def lexicon_rows(entries: list[Entry], max_words: int) -> list[LexiconRow]:
    """One row per (key, headword) from the first senses of common entries, sorted.

    A pair reached through several senses keeps the earliest one: its main meaning names the row.
    """
    best: dict[tuple[str, str], LexiconRow] = {}
    for entry in filter(is_common, entries):
        for row in _entry_rows(entry, max_words):
            key = (row.english, row.japanese)
            if key not in best or row.sense < best[key].sense:
                best[key] = row
    return sorted(best.values())


def _entry_rows(entry: Entry, max_words: int):
    """The rows one common entry gives: its kept senses × their usable glosses."""
    word, kana = normalize_text(headword(entry)), normalize_text(reading(entry))
    for number, sense in enumerate(entry.senses[:SENSES_PER_ENTRY], start=1):
        pos = coarse_pos(sense)
        if sense.is_skipped or pos is None:
            continue
        for gloss in sense.glosses:
            key = normalize_gloss(gloss)
            if is_english_key(key, max_words):
                yield LexiconRow(key, word, kana, pos, number)


def rejection_index(entries: list[Entry]) -> dict[str, set[str]]:
    """Normalised gloss → every form (kanji and kana) of every entry, common or not, that carries it."""
    index: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        forms = {normalize_text(form.text) for form in entry.forms}
        for sense in entry.senses:
            for gloss in sense.glosses:
                key = normalize_gloss(gloss)
                if key:
                    index[key].update(forms)
    return index


def all_forms(entries: list[Entry]) -> set[str]:
    """Every written form in JMdict, normalised: the answer to "is this a real word?"."""
    return {normalize_text(form.text) for entry in entries for form in entry.forms}
