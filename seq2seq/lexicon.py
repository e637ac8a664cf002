"""The reference lexicon: one English-key normaliser, and loaders for the shipped JMdict tables.

The corpus builder (data/build_corpus.py) stores every English gloss under the key `normalize_gloss`
makes of it, so inference and evaluation must make keys the same way to find what is stored: this is
the one place that says how. Kept free of torch so the builder and small scripts can import it cheaply.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd

from seq2seq.data import ANSWER_SEPARATOR, DataError, normalize_text, read_csv_cells

_INNERMOST_PARENTHESES = re.compile(r"\([^()]*\)")
_LEADING_TO = re.compile(r"^to\s+")
_LEADING_ARTICLE = re.compile(r"^(?:a|an|the)\s+")
_WHITESPACE = re.compile(r"\s+")


def normalize_gloss(text: str) -> str:
    """'To borrow (money)' → 'borrow'; 'the Dog (Canis (lupus))' → 'dog'.

    Why each step: JMdict writes verbs as 'to borrow' and nouns sometimes as 'a dog', and puts usage
    notes in parentheses; a learner types 'borrow' or 'dog'. NFKC first, so full-width letters match too.
    """
    text = normalize_text(text).lower()
    text = _without_parentheses(text)
    text = _WHITESPACE.sub(" ", text).strip()
    text = _LEADING_TO.sub("", text)
    text = _LEADING_ARTICLE.sub("", text)
    return text.strip()


def _without_parentheses(text: str) -> str:
    """Remove parenthesised notes, innermost first so nested ones go too; a stray bracket is dropped."""
    while True:
        shorter = _INNERMOST_PARENTHESES.sub(" ", text)
        if shorter == text:
            return shorter.replace("(", " ").replace(")", " ")
        text = shorter


def load_rejection_index(path: str | Path) -> dict[str, frozenset[str]]:
    """rejection.csv.gz → {normalised gloss: every Japanese form, of any JMdict entry, that carries it}.

    This is what "correct" means when answers are excluded or judged: a distractor for 'borrow' must
    not be any form in index['borrow'].
    """
    frame = read_table(path, ("English", "Japanese"))
    return {
        english: frozenset(frame_forms.split(ANSWER_SEPARATOR))
        for english, frame_forms in zip(frame["English"], frame["Japanese"])
    }


def load_forms(path: str | Path) -> frozenset[str]:
    """ja_forms.txt.gz → every Japanese form in JMdict, for "is this a real word?" checks.

    Read as lines, not as CSV: a form may hold a comma or a quote, which a CSV reader would split.
    """
    path = _existing(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def load_pos_table(path: str | Path, key: str = "Japanese") -> dict[str, frozenset[str]]:
    """lexicon.csv.gz → {headword: its coarse parts of speech}: 借りる → {verb}; with key="English",
    {normalised English key: the parts of speech of its correct headwords}: borrow → {verb}.

    For judging whether a distractor is the same part of speech as the answer, and for drawing random
    words of the answer's part of speech. By English key, a kana answer that is also another word (なす,
    "accomplish", is also the noun 'eggplant') does not lend the English word that other POS. Only common
    headwords are in the lexicon, so many rare words are absent: unknown, which is not disagreeing.
    """
    frame = read_table(path, (key, "pos"))
    keys = frame[key].map(normalize_gloss if key == "English" else normalize_text)
    table: dict[str, set[str]] = {}
    for name, pos in zip(keys, frame["pos"].map(normalize_text)):
        if name and pos:
            table.setdefault(name, set()).add(pos)
    return {name: frozenset(pos) for name, pos in table.items()}


def read_table(path: str | Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a shipped CSV (plain or .gz) as strings, or say in one line which column is missing."""
    frame = read_csv_cells(_existing(path))
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; rebuild with data/build_corpus.py")
    return frame


def _existing(path: str | Path) -> Path:
    """The path, or a DataError that names it when there is no such file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; the shipped tables live in data/ (see data/README.md)")
    return path
