"""A Markdown summary of the shipped tables: counts, POS and script mix, and example words.

data/README.md quotes it; rebuilding prints it again, so the README's numbers can be checked.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

EXAMPLE_WORDS = ("dog", "adopt", "economic", "abandon", "river", "happy", "borrow", "doctor", "quickly",
                 "decide", "weather", "expensive", "accept", "bridge", "protect")
_SCRIPTS = (
    ("kanji (with or without kana)", re.compile(r"[\u3400-\u9fff々]")),
    ("hiragana only", re.compile(r"^[\u3041-\u309f]+$")),
    ("katakana only", re.compile(r"^[\u30a0-\u30ffー]+$")),
)


def summary(data_dir: Path) -> str:
    """The whole summary as Markdown text."""
    lexicon = _read(data_dir / "lexicon.csv.gz")
    distractors = _read(data_dir / "distractors.csv.gz")
    parts = [
        _counts(data_dir, lexicon, distractors),
        _share_table("coarse POS of lexicon pairs", lexicon["pos"]),
        _share_table("script of lexicon headwords", lexicon["Japanese"].drop_duplicates().map(script)),
        _share_table("distractor rows by kind", distractors["kind"]),
        _examples(distractors),
    ]
    return "\n\n".join(parts) + "\n"


def script(word: str) -> str:
    """Which writing system a headword uses: kanji, hiragana only, katakana only, or other (mixed, Latin)."""
    return next(
        (name for name, pattern in _SCRIPTS if pattern.search(word)), "other (mixed kana, Latin, digits)"
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _counts(data_dir: Path, lexicon: pd.DataFrame, distractors: pd.DataFrame) -> str:
    rows = [
        ("English keys in the lexicon", lexicon["English"].nunique()),
        ("(key, correct headword) pairs", len(lexicon)),
        ("distinct correct headwords", lexicon["Japanese"].nunique()),
        ("keys with distractors", distractors["English"].nunique()),
        ("distractor rows", len(distractors)),
        ("most keys one distractor serves", distractors["Japanese"].value_counts().max()),
    ]
    sizes = [(path.name, f"{path.stat().st_size / 1e6:.2f} MB") for path in sorted(data_dir.glob("*.gz"))]
    return "\n".join(
        ["| count | value |", "|---|---:|", *(f"| {name} | {value:,} |" for name, value in rows), "",
         "| file | size |", "|---|---:|", *(f"| `{name}` | {size} |" for name, size in sizes)]
    )


def _share_table(title: str, values: pd.Series) -> str:
    counts = values.value_counts()
    lines = [f"| {title} | count | share |", "|---|---:|---:|"]
    lines += [f"| {name} | {count:,} | {count / len(values):.1%} |" for name, count in counts.items()]
    return "\n".join(lines)


def _examples(distractors: pd.DataFrame) -> str:
    lines = [
        "Distractors of 15 example words (s: semantic, o: orthographic, h: homophone):",
        "",
        "| English | correct (Correct_Japanese) | distractors (kind) |",
        "|---|---|---|",
    ]
    for word in EXAMPLE_WORDS:
        rows = distractors[distractors["English"] == word]
        if rows.empty:
            lines.append(f"| {word} | (not in the lexicon) | |")
            continue
        found = ", ".join(f"{japanese} ({kind[0]})" for japanese, kind in zip(rows["Japanese"], rows["kind"]))
        lines.append(f"| {word} | {rows['Correct_Japanese'].iloc[0].replace('|', '・')} | {found} |")
    return "\n".join(lines)
