"""infer.py's files: the words in (with each row's own correct answers), the quiz out.

    quiz.csv  English, Correct_Japanese, Notes    ─► QuizInput: words, correct answers per row, the columns
    words.txt borrow / river (one a line, or - for standard input)
    QuizInput + distractors ─► the input's columns, distractor_1..N, score_1..N  (--format csv)
                            ─► one JSON object a row: the columns, "distractors", "scores"  (--format jsonl)
                            ─► "word: d1, d2, …"  (--format text)

A row's own correct answers are the quiz's truth: they are never output, and a model that reads the
answer is shown them, whatever JMdict or the training data say.
"""
from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seq2seq.data import (FIRST_DATA_ROW, DataError, normalised_column, normalize_text, read_csv_cells,
                          read_text, require_column, split_answers)
from seq2seq.decoding import Distractor
from seq2seq.model_folder import refuse_unwritable

STANDARD_INPUT = "-"
FORMATS = ("text", "csv", "jsonl")


@dataclass
class QuizInput:
    """The words to answer, one per row, with what the input says about each."""

    name: str  # the file, or "standard input": error messages name it
    columns: pd.DataFrame  # the input's columns as read ('' where empty), kept in the output
    words: list[str]  # normalised
    correct: list[tuple[str, ...]]  # each row's own correct answers; () where it gives none

    def row(self, i: int) -> str:
        """Where word i came from, as a message says it: 'quiz.csv, row 3' (the index keeps each row's
        place)."""
        if not self.name:
            return f"--word '{self.words[i]}'"
        return f"{self.name}, row {self.columns.index[i] + FIRST_DATA_ROW}"


def from_words(words: list[str], src_col: str, name: str = "") -> QuizInput:
    """Words with no correct answers of their own: those given with --word (no `name`), or a word list's."""
    words = [normalize_text(word) for word in words]
    return QuizInput(name, pd.DataFrame({src_col: words}), words, [()] * len(words))


def load_quiz(source: str, src_col: str = "English", ref_col: str = "Correct_Japanese") -> QuizInput:
    """A CSV with a `src_col` column and optionally `ref_col` ('|'-separated correct answers); or plain
    text, one word a line: a .txt file, or standard input ('-'), whose first line does not name `src_col`."""
    name = "standard input" if source == STANDARD_INPUT else source
    if source != STANDARD_INPUT and Path(source).suffix != ".txt":
        return quiz_from_table(read_csv_cells(source, name, "--input"), name, src_col, ref_col)
    text = sys.stdin.read() if source == STANDARD_INPUT else read_text(Path(source), source, "--input")
    lines = text.splitlines()
    if lines and src_col in (cell.strip() for cell in lines[0].split(",")):
        return quiz_from_table(read_csv_cells(io.StringIO(text), name), name, src_col, ref_col)
    words = [line for line in lines if line.strip()]
    if not words:
        raise DataError(f"{name}: no words; give one English word a line, or a CSV with a '{src_col}' column")
    return from_words(words, src_col, name)


def quiz_from_table(frame: pd.DataFrame, name: str, src_col: str, ref_col: str) -> QuizInput:
    require_column(frame, name, src_col, "--src-col")
    words = list(normalised_column(frame, name, src_col))
    if not words:
        raise DataError(f"{name}: no rows under the header; add at least one word")
    correct = ([split_answers(cell) for cell in frame[ref_col]] if ref_col in frame.columns
               else [()] * len(words))
    return QuizInput(name, frame, words, correct)


# --- the quiz out -------------------------------------------------------------------------------------------


def quiz_table(quiz: QuizInput, results: list[list[Distractor]], n: int) -> pd.DataFrame:
    """The input's columns, then distractor_1..n and score_1..n ('' where fewer were found)."""
    table = quiz.columns.reset_index(drop=True).copy()
    for place in range(n):
        table[f"distractor_{place + 1}"] = [found[place] if place < len(found) else "" for found in results]
    for place in range(n):
        table[f"score_{place + 1}"] = [f"{found[place].score:.4f}" if place < len(found) else ""
                                       for found in results]
    return table


def formatted(quiz: QuizInput, results: list[list[Distractor]], n: int, form: str) -> str:
    """The whole output as text, in `form` (one of FORMATS)."""
    if form == "csv":
        return quiz_table(quiz, results, n).to_csv(index=False)
    if form == "jsonl":
        rows = quiz.columns.reset_index(drop=True).to_dict("records")
        return "".join(json.dumps({**row, "distractors": list(map(str, found)),
                                   "scores": [round(d.score, 4) for d in found]}, ensure_ascii=False) + "\n"
                       for row, found in zip(rows, results))
    if len(results) == 1:
        return "".join(f"{d}\n" for d in results[0])
    return "".join(f"{word}: {', '.join(found)}\n" for word, found in zip(quiz.words, results))


def check_file_can_be_written(path: str | Path, option: str) -> None:
    """Refuse, before any work, a file that `option` names but that cannot be written: a folder, or a file in
    a folder that does not exist."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; {option} takes a file name, e.g. {path / 'out.csv'}")
    if not path.parent.is_dir():
        raise DataError(f"{path}: there is no folder {path.parent}; make it first, or "
                        f"choose another {option}")
    refuse_unwritable(path.parent, path, option)


def write_output(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically: a temporary file, then a rename, so no half-written quiz is left."""
    path = Path(path)
    check_file_can_be_written(path, "--output")
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write ({err.strerror}); choose another --output") from None
