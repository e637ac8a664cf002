"""Reading the user's CSV: choose columns, check every cell, normalise, de-duplicate, split by word.

The result is a plain DataFrame with three columns, whatever the CSV called them:

    source   the English word (or phrase)                       "borrow"
    target   what the model learns to produce for it             "貸す"
    correct  the known correct answers, a tuple (may be empty)  ("借りる",)

Row numbers in error messages count like a spreadsheet: the header is row 1, the first pair row 2.
"""
from __future__ import annotations

import io
import string
import unicodedata
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from seq2seq.errors import UserError
from tokenizer.tokenizer import SEPARATOR

ANSWER_SEPARATOR = "|"  # several correct answers in one cell: "借りる|借用する"
FIRST_DATA_ROW = 2  # spreadsheet numbering: row 1 is the header


class DataError(UserError):
    """A CSV the user must fix; the message names the file, and the row and column where it can."""


def normalize_text(text: str) -> str:
    """NFKC-normalise and strip: full-width ASCII (ＡＢＣ１２３) becomes ABC123, odd spaces become plain."""
    return unicodedata.normalize("NFKC", text).strip()


def split_answers(cell: str) -> tuple[str, ...]:
    """'借りる | 借用する' → ('借りる', '借用する'), each normalised, empty parts dropped."""
    answers = (normalize_text(part) for part in cell.split(ANSWER_SEPARATOR))
    return tuple(answer for answer in answers if answer)


def read_csv_cells(source: str | Path | io.StringIO, name: str | None = None, option: str = "--data") -> pd.DataFrame:
    """Every cell as a string ('' for an empty one), or a DataError saying why the input cannot be read.

    `source` is a path, or text already read (standard input, as a StringIO); messages call it `name`
    (the path by default) and say which `option` gives another file.
    """
    name = name or str(source)
    if not isinstance(source, io.StringIO) and not Path(source).is_file():
        raise DataError(f"{name}: file not found; pass an existing CSV with {option}")
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; save the file as CSV UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: file is empty; it needs a header row and at least one row") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{name}: not a valid CSV ({str(err).strip()})") from None


def require_column(frame: pd.DataFrame, path: str | Path, column: str, option: str) -> None:
    if column not in frame.columns:
        have = ", ".join(repr(name) for name in frame.columns)
        raise DataError(f"{path}: no column '{column}' (columns: {have}); choose one with {option}")


def normalised_column(frame: pd.DataFrame, path: str | Path, column: str) -> pd.Series:
    """The column NFKC-normalised; an empty cell is an error naming its row."""
    values = frame[column].map(normalize_text)
    empty = np.flatnonzero(values.to_numpy() == "")
    if len(empty):
        row = int(empty[0]) + FIRST_DATA_ROW
        raise DataError(f"{path}, row {row}: column '{column}' is empty")
    return values


def load_pairs(
    path: str | Path, src_col: str = "English", tgt_col: str = "Japanese", ref_col: str | None = "Correct_Japanese"
) -> pd.DataFrame:
    """Read, check and normalise a CSV of pairs → DataFrame(source, target, correct).

    `ref_col` is optional: when the CSV has no such column, `correct` is empty for every row.
    Exact duplicate (source, target) pairs are dropped, keeping the first.
    """
    path = Path(path)
    frame = read_csv_cells(path)
    require_column(frame, path, src_col, "--src-col")
    require_column(frame, path, tgt_col, "--tgt-col")
    if len(frame) == 0:
        raise DataError(f"{path}: no rows under the header; add at least one pair")
    pairs = pd.DataFrame(
        {"source": normalised_column(frame, path, src_col), "target": normalised_column(frame, path, tgt_col)}
    )
    has_refs = bool(ref_col) and ref_col in frame.columns
    pairs["correct"] = frame[ref_col].map(split_answers) if has_refs else [()] * len(frame)
    return pairs.drop_duplicates(subset=["source", "target"]).reset_index(drop=True)


def word_key(source: str) -> str:
    """The key that groups rows of one source word: 'Dog' and 'dog' are the same word."""
    return source.casefold()


def split_by_word(
    pairs: pd.DataFrame, valid_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Split into train/valid/test so that no source word appears in two splits.

    Why by word: the corpus has several rows per English word; a random row split would put the same word
    in train and test, and test scores would measure memory, not generalisation.
    Reproducible: the same pairs and seed give the same split.
    """
    if not 0 <= valid_fraction < 1 or not 0 <= test_fraction < 1 or valid_fraction + test_fraction >= 1:
        raise DataError(f"valid_fraction {valid_fraction} and test_fraction {test_fraction} must lie in [0, 1) "
                        "and leave words for training")
    keys = pairs["source"].map(word_key)
    words = np.array(sorted(keys.unique()))
    np.random.default_rng(seed).shuffle(words)
    n_test = _share(len(words), test_fraction)
    n_valid = _share(len(words), valid_fraction)
    if n_test + n_valid >= len(words):
        raise DataError(f"only {len(words)} distinct source words: too few to hold out valid and test words")
    split_of = {word: "test" for word in words[:n_test]}
    split_of.update({word: "valid" for word in words[n_test : n_test + n_valid]})
    assigned = keys.map(lambda key: split_of.get(key, "train"))
    return {name: pairs[assigned == name].reset_index(drop=True) for name in ("train", "valid", "test")}


def _share(n_words: int, fraction: float) -> int:
    """Words for a held-out split: the fraction rounded, but at least one when the fraction is not zero."""
    return 0 if fraction == 0 else max(1, round(n_words * fraction))


def template_fields(template: str) -> list[str]:
    """The placeholders of a source template: "{English} ⟨sep⟩ {Correct_Japanese}" → [English, Correct_Japanese]."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise UserError(f"source template {template!r}: {err}; write placeholders as {{English}}") from None


AUTO_TEMPLATE = "auto"


def answer_template(src_col: str, ref_col: str) -> str:
    """The template that shows the word beside its correct answers: "{English} ⟨sep⟩ {Correct_Japanese}"."""
    return f"{{{src_col}}} {SEPARATOR} {{{ref_col}}}"


def resolved_template(template: str, src_col: str, ref_col: str, targets_are_correct: bool) -> str:
    """The template a run uses. "auto" shows the correct answers when the targets are distractors: on the
    bundled corpus that made the distractors closer (docs/RESULTS.md). In translation mode the answer is
    the target, so "auto" is the word alone."""
    if template != AUTO_TEMPLATE:
        return template
    return "" if targets_are_correct else answer_template(src_col, ref_col)


def check_template(template: str, src_col: str, ref_col: str) -> None:
    """A template may name the source column and the correct-answers column, nothing else."""
    for name in template_fields(template):
        if name not in (src_col, ref_col):
            raise UserError(f"source template {template!r}: unknown placeholder {{{name}}}; use {{{src_col}}} "
                            f"and {{{ref_col}}}")


def source_text(template: str, word: str, correct: Iterable[str], src_col: str, ref_col: str) -> str:
    """What the encoder reads for a word: the word itself, or (with a template) the template filled with
    the word and its correct answers, sorted and '|'-joined so training and inference write them alike.

    Why a template: "borrow ⟨sep⟩ 借りる" shows the model what its answer must be near.
    """
    if not template:
        return word
    return template.format(**{src_col: word, ref_col: ANSWER_SEPARATOR.join(sorted(correct))})


def correct_answers_by_word(pairs: pd.DataFrame, targets_are_correct: bool) -> dict[str, list[str]]:
    """word key → sorted known correct answers: the `correct` column, plus the targets in translation mode."""
    answers: dict[str, set[str]] = {}
    for source, target, correct in pairs[["source", "target", "correct"]].itertuples(index=False):
        known = answers.setdefault(word_key(source), set())
        known.update(correct)
        if targets_are_correct:
            known.add(target)
    return {word: sorted(known) for word, known in sorted(answers.items()) if known}


def pairs_to_csv(pairs: pd.DataFrame) -> str:
    """Pairs back to the CSV that load_pairs reads: English, Japanese, Correct_Japanese ('|'-joined)."""
    frame = pd.DataFrame({"English": pairs["source"], "Japanese": pairs["target"],
                          "Correct_Japanese": pairs["correct"].map(ANSWER_SEPARATOR.join)})
    return frame.to_csv(index=False)


def load_words(path: str | Path, column: str = "English") -> list[str]:
    """The words to generate for, one per row of `column`, normalised; an empty cell names its row."""
    path = Path(path)
    frame = read_csv_cells(path)
    require_column(frame, path, column, "--src-col")
    return list(normalised_column(frame, path, column))
