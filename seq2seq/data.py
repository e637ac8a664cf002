"""Reading the user's CSV: choose columns, check every cell, normalise, de-duplicate, split by word.

The result is a plain DataFrame with three columns, whatever the CSV called them:

    source   the English word (or phrase)                       "borrow"
    target   what the model learns to produce for it             "貸す"
    correct  the known correct answers, a tuple (may be empty)  ("借りる",)

Row numbers in error messages count like a spreadsheet: the header is row 1, the first pair row 2.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import itertools
import string
import unicodedata
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from seq2seq.errors import UserError
from tokenizer.tokenizer import SEPARATOR

ANSWER_SEPARATOR = "|"  # several correct answers in one cell: "借りる|借用する"
FIRST_DATA_ROW = 2  # spreadsheet numbering: row 1 is the header
KIND_COLUMN = "kind"  # optional: how a distractor was found (bundled: semantic, orthographic, homophone)
DELIMITERS = (",", "\t", ";")  # what may separate cells: the first of them that the header row holds
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
SAVE_AS_UTF8 = "save it as 'CSV UTF-8' (Excel: File > Save As)"
# What pandas, numpy, R and Excel write into a cell that has no value. None of them is a Japanese word.
MISSING_VALUE_TEXT = ("nan", "NaN", "NA", "None", "null", "#N/A")
# kana, kanji
JAPANESE_SCRIPT = r"[\u3040-\u30ff\u31f0-\u31ff\u3005\u3006\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
LETTER = r"[^\W\d_]"  # a letter of any script: a word character that is neither a digit nor '_'


class DataError(UserError):
    """A CSV the user must fix; the message names the file, and the row and column where it can."""


def normalize_text(text: str) -> str:
    """Drop invisible characters, NFKC-normalise and strip: full-width ASCII (ＡＢＣ１２３) becomes ABC123,
    odd spaces become plain ones.

    Why drop them: a zero-width space or a stray control character, pasted from a web page or a PDF, makes
    'dog' another word than 'dog' without anyone seeing the difference.
    """
    if not text.isprintable():  # the rare text with a control, format or odd space character: look at each
        text = "".join(map(visible, text))
    return unicodedata.normalize("NFKC", text).strip()


def visible(char: str) -> str:
    """A space for any whitespace (tab, newline, ideographic space); nothing for the other control and format
    characters (BEL, NUL, zero-width space, byte-order mark, direction marks); else the character itself."""
    if char.isspace():
        return " "
    return "" if unicodedata.category(char) in ("Cc", "Cf") else char


def split_answers(cell: str) -> tuple[str, ...]:
    """'借りる | 借用する' → ('借りる', '借用する'), each normalised, empty parts dropped."""
    answers = (normalize_text(part) for part in cell.split(ANSWER_SEPARATOR))
    return tuple(answer for answer in answers if answer)


def read_csv_cells(source: str | Path | io.StringIO, name: str | None = None,
                   option: str = "--data") -> pd.DataFrame:
    """Every cell as a string ('' for an empty one), or a DataError saying why the input cannot be read.

    `source` is a path, or text already read (standard input, as a StringIO); messages call it `name`
    (the path by default) and say which `option` gives another file. The text may be UTF-8 (with or
    without a byte-order mark) or UTF-16 that starts with one (Excel's "Unicode Text"), its cells separated
    by commas, tabs or semicolons, whichever the header row uses. Rows whose every cell is empty are
    skipped; the others keep their place as index, so a row's number is its index + FIRST_DATA_ROW.
    """
    name = name or str(source)
    text = source.getvalue() if isinstance(source, io.StringIO) else read_text(Path(source), name, option)
    delimiter = next((mark for mark in DELIMITERS if mark in text.partition("\n")[0]), ",")
    return cells_table(csv_rows(text, delimiter, name), delimiter, name)


def read_text(path: Path, name: str, option: str) -> str:
    """A file's text (decompressed first when it ends in .gz), or a DataError saying what to do."""
    if path.is_dir():
        raise DataError(f"{name}: is a folder; pass the file itself with {option}")
    if not path.is_file():
        raise DataError(f"{name}: file not found; pass an existing file with {option}")
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        raise DataError(f"{name}: a spreadsheet, not a CSV file; {SAVE_AS_UTF8} and "
                        f"pass that file with {option}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"{name}: cannot read it ({err.strerror})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):  # not gzip, cut short, or corrupted
            raise DataError(f"{name}: damaged .gz file (cut short?); compress the CSV again, or pass it "
                            "uncompressed") from None
    return decoded(raw, name)


def decoded(raw: bytes, name: str) -> str:
    """UTF-8, or UTF-16 when the bytes start with its byte-order mark; any other encoding is refused.

    Why not guess another: bytes in one Japanese encoding often decode without error in another, as
    different characters, and the model would learn those without a word of warning.
    """
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        # utf-8-sig: drops a byte-order mark if there is one
        return raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as err:
        raise not_text(raw, err.start, "UTF-16" if utf16 else "UTF-8", name) from None


def not_text(raw: bytes, bad_byte: int, expected: str, name: str) -> DataError:
    """The error for bytes that are not `expected` text: it says what to do, above all for a Shift-JIS
    (cp932) file, which is what Excel saves on Japanese Windows."""
    if expected == "UTF-8" and decodes(raw, "cp932"):
        return DataError(f"{name}: not UTF-8 but Shift-JIS (cp932) text, as Excel saves Japanese CSV files; "
                         f"{SAVE_AS_UTF8}, or convert it: iconv -f cp932 -t utf-8 IN > OUT")
    line = raw.count(b"\n", 0, bad_byte) + 1
    return DataError(f"{name}, line {line}: not {expected} text; {SAVE_AS_UTF8}, or save "
                     "it as UTF-8 from your editor")


def decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def csv_rows(text: str, delimiter: str, name: str) -> list[list[str]]:
    """The rows of a CSV text, each a list of its cells; a quote left open is an error naming its row."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows.extend(reader)  # on an error, `rows` holds the rows read before it
    except csv.Error as err:
        raise DataError(f"{name}, row {len(rows) + 1}: not a valid CSV ({err}); a cell that "
                        "starts with a double quote must end with one, and a quote inside "
                        "it is written twice (\"\")") from None
    return rows


def cells_table(rows: list[list[str]], delimiter: str, name: str) -> pd.DataFrame:
    """The rows under the header as a table of strings; rows with every cell empty (a blank line, or an
    unused spreadsheet row such as ',,') are dropped, keeping the others' places."""
    if not any(map(any, rows)):
        raise DataError(f"{name}: file is empty; it needs a header row and at least one row")
    columns = column_names(rows[0], name)
    width = len(columns)
    cells = [row if len(row) == width else fitted(row, width, number, delimiter, name)
             for number, row in enumerate(rows[1:], start=FIRST_DATA_ROW)]
    kept = [number for number, row in enumerate(cells) if "".join(row).strip()]
    if len(kept) == len(cells):  # the usual case: no blank row to drop
        return pd.DataFrame(cells, columns=columns, dtype=str)
    return pd.DataFrame([cells[number] for number in kept], columns=columns, index=kept, dtype=str)


def fitted(row: list[str], width: int, number: int, delimiter: str, name: str) -> list[str]:
    """Row `number` made as wide as the header: a short one gets empty cells (spreadsheets leave them out);
    a long one is an error, unless its extra cells are empty."""
    if any(cell.strip() for cell in row[width:]):
        shown = "a tab" if delimiter == "\t" else f"'{delimiter}'"
        raise DataError(f"{name}, row {number}: {len(row)} cells, but the header names {width} columns; a "
                        f"cell that holds {shown} must be put in double quotes")
    return row[:width] + [""] * (width - len(row))


def column_names(header: list[str], name: str) -> list[str]:
    """The header's names, normalised (' English' is English); an unnamed column is called 'Unnamed: N' (its
    place from 0) as pandas calls it, and a name given twice is an error."""
    if not any(cell.strip() for cell in header):
        raise DataError(f"{name}, row 1: empty; the first row must name the columns, e.g. English,Japanese")
    names = [normalize_text(cell) or f"Unnamed: {place}" for place, cell in enumerate(header)]
    repeated = sorted({column for column in names if names.count(column) > 1})
    if repeated:
        raise DataError(f"{name}: the header names column '{repeated[0]}' twice; give "
                        "each column its own name")
    return names


def require_column(frame: pd.DataFrame, path: str | Path, column: str, option: str) -> None:
    """A missing column is an error that lists those there are, and suggests the nearest name."""
    if column in frame.columns:
        return
    have = ", ".join(repr(name) for name in frame.columns)
    close = difflib.get_close_matches(column, list(frame.columns), n=1)
    fix = f"did you mean '{close[0]}'? pass {option} '{close[0]}'" if close else f"choose one with {option}"
    raise DataError(f"{path}: no column '{column}' (columns: {have}); {fix}")


def normalised_column(frame: pd.DataFrame, path: str | Path, column: str) -> pd.Series:
    """The column NFKC-normalised; an empty cell is an error naming its row."""
    values = frame[column].map(normalize_text)
    empty = values.index[values == ""]
    if len(empty):
        raise DataError(f"{path}, row {empty[0] + FIRST_DATA_ROW}: column '{column}' is empty")
    return values


def require_words(values: pd.Series, path: str | Path, column: str, option: str) -> None:
    """A source column without one letter in any row holds numbers or codes: it is the wrong column."""
    if not values.str.contains(LETTER).any():
        raise DataError(f"{path}: column '{column}' holds no words, only numbers or signs (row "
                        f"{values.index[0] + FIRST_DATA_ROW}: '{values.iloc[0]}'); choose the column "
                        f"of English words with {option}")


def refuse_missing_values(values: pd.Series, path: str | Path, column: str) -> None:
    """A Japanese cell that reads 'nan' or '#N/A' is a missing value a program wrote out as text: refused,
    because the model would learn it as a word."""
    written = values.index[values.isin(MISSING_VALUE_TEXT)]
    if len(written):
        raise DataError(f"{path}, row {written[0] + FIRST_DATA_ROW}: column '{column}' holds "
                        f"'{values[written[0]]}', a missing value written out as text; fill in the cell")


def lacks_japanese(texts: pd.Series) -> bool:
    """True when no text holds a kana or a kanji: the target column is probably the wrong one."""
    return not texts.str.contains(JAPANESE_SCRIPT).any()


def load_pairs(
    path: str | Path, src_col: str = "English", tgt_col: str = "Japanese",
    ref_col: str | None = "Correct_Japanese"
) -> pd.DataFrame:
    """Read, check and normalise a CSV of pairs → DataFrame(source, target, correct[, kind]).

    `ref_col` is optional: when the CSV has no such column, `correct` is empty for every row. A `kind`
    column, where there is one, is kept (`rows_of_kinds` trains on some kinds only).
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
    require_words(pairs["source"], path, src_col, "--src-col")
    refuse_missing_values(pairs["target"], path, tgt_col)
    has_refs = bool(ref_col) and ref_col in frame.columns
    pairs["correct"] = correct_column(frame, path, ref_col) if has_refs else [()] * len(frame)
    if KIND_COLUMN in frame.columns:
        pairs[KIND_COLUMN] = frame[KIND_COLUMN].map(normalize_text)
    return pairs.drop_duplicates(subset=["source", "target"]).reset_index(drop=True)


def correct_column(frame: pd.DataFrame, path: Path, column: str) -> pd.Series:
    """Each row's correct answers, a tuple (empty where the cell is)."""
    cells = frame[column].map(normalize_text)
    refuse_missing_values(cells, path, column)
    return cells.map(split_answers)


def word_key(source: str) -> str:
    """The key that groups rows of one source word: 'Dog' and 'dog' are the same word."""
    return source.casefold()


def split_by_word(
    pairs: pd.DataFrame, valid_fraction: float, test_fraction: float, seed: int, name: str = "the pairs"
) -> dict[str, pd.DataFrame]:
    """Split into train/valid/test so that no source word appears in two splits.

    Why by word: the corpus has several rows per English word; a random row split would put the same word
    in train and test, and test scores would measure memory, not generalisation.
    Reproducible: the same pairs and seed give the same split. Messages call the pairs `name` (their file).
    """
    if not 0 <= valid_fraction < 1 or not 0 <= test_fraction < 1 or valid_fraction + test_fraction >= 1:
        raise DataError(f"valid_fraction {valid_fraction} and test_fraction {test_fraction} must lie in "
                        "[0, 1) and leave words for training")
    keys = pairs["source"].map(word_key)
    words = np.array(sorted(keys.unique()))
    np.random.default_rng(seed).shuffle(words)
    n_test = _share(len(words), test_fraction)
    n_valid = _share(len(words), valid_fraction)
    if n_test + n_valid >= len(words):
        needed = fewest_words(valid_fraction, test_fraction)
        raise DataError(f"{name}: only {len(words)} distinct source word(s), in {len(pairs)} distinct "
                        f"pair(s); splitting by word needs at least {needed} (valid and test each hold "
                        "out whole words): add more words")
    split_of = {word: "test" for word in words[:n_test]}
    split_of.update({word: "valid" for word in words[n_test : n_test + n_valid]})
    assigned = keys.map(lambda key: split_of.get(key, "train"))
    return {name: pairs[assigned == name].reset_index(drop=True) for name in ("train", "valid", "test")}


def wanted_kinds(pairs: pd.DataFrame, kinds: str, name: str) -> list[str] | None:
    """The kinds of row to train on, from `kinds` (comma-separated), each checked to occur in the pairs;
    None (every row) when `kinds` is "" or the pairs have no kind column.

    Why: the bundled corpus mixes near misses in meaning (borrow → 貸す) with look-alikes in English
    spelling (borrow → narrow → 狭まる) and same-sounding kanji (橋 → 箸); a model trained on all of them
    offers look-alikes that are far in meaning for words it never saw (docs/RESULTS.md).
    """
    wanted = [kind.strip() for kind in kinds.split(",") if kind.strip()]
    if not wanted or KIND_COLUMN not in pairs.columns:
        return None
    present = set(pairs[KIND_COLUMN])
    unknown = [kind for kind in wanted if kind not in present]
    if unknown:
        raise DataError(f"{name}: no row of kind '{unknown[0]}' in column '{KIND_COLUMN}' (kinds there: "
                        f"{', '.join(sorted(present))}); fix --kinds, or pass --kinds '' for every row")
    return wanted


def rows_of_kinds(pairs: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    """The rows whose `kind` is one of `kinds` (as `wanted_kinds` gives them)."""
    return pairs[pairs[KIND_COLUMN].isin(kinds)].reset_index(drop=True)


def _share(n_words: int, fraction: float) -> int:
    """Words for a held-out split: the fraction rounded, but at least one when the fraction is not zero."""
    return 0 if fraction == 0 else max(1, round(n_words * fraction))


def fewest_words(valid_fraction: float, test_fraction: float) -> int:
    """The fewest distinct source words that leave at least one for training beside the held-out ones."""
    return next(n for n in itertools.count(1) if _share(n, valid_fraction) + _share(n, test_fraction) < n)


def template_fields(template: str) -> list[str]:
    """The placeholders of a source template: "{English} ⟨sep⟩ {Correct_Japanese}" →
    [English, Correct_Japanese]."""
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
            raise UserError(f"source template {template!r}: unknown placeholder {{{name}}}; use "
                            f"{{{src_col}}} and {{{ref_col}}}")


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


def load_words(path: str | Path, column: str = "English", option: str = "--held-out-words") -> list[str]:
    """The words of a CSV, one per row of `column`, normalised; an empty cell names its row. Messages say
    which `option` gives another file."""
    path = Path(path)
    frame = read_csv_cells(path, option=option)
    require_column(frame, path, column, "--src-col")
    return list(normalised_column(frame, path, column))
