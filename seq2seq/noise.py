"""Noise augmentation (ノイズ付き訓練): copies of (English, correct Japanese) pairs whose targets are,
with probability p, swapped for a related-but-different word, never for a known correct answer.

    python -m seq2seq.noise --input pairs.csv --related data/related.csv.gz --output noisy.csv \
        --p 0.5 --k 2 --seed 1 [--rejection data/rejection.csv.gz]

Why: a model trained on such targets learns to put its probability on words *near* the correct one,
which is what a distractor generator needs. The output has columns English, Japanese,
Correct_Japanese, so `python train.py --data noisy.csv` trains on it directly, and the correct answers
stay known for exclusion. The related table is a CSV `word,related` (data/related.csv.gz pairs each
JMdict headword with the distractors mined for its English keys).
"""
from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path

import pandas as pd

from seq2seq.cli import ArgumentParser, run_main
from seq2seq.data import (
    ANSWER_SEPARATOR,
    FIRST_DATA_ROW,
    DataError,
    correct_answers_by_word,
    load_pairs,
    normalize_text,
    read_csv_cells,
    word_key,
)
from seq2seq.errors import UserError
from seq2seq.lexicon import load_rejection_index, normalize_gloss


def load_related(path: str | Path) -> dict[str, list[str]]:
    """CSV word,related → {word: sorted related words}; a word is never related to itself."""
    frame = read_csv_cells(path)
    for column in ("word", "related"):
        if column not in frame.columns:
            raise DataError(f"{path}: no column '{column}'; a related table has columns word,related")
    related: dict[str, set[str]] = defaultdict(set)
    for row, (word, other) in enumerate(zip(frame["word"], frame["related"]), start=FIRST_DATA_ROW):
        word, other = normalize_text(word), normalize_text(other)
        if not word or not other:
            raise DataError(f"{path}, row {row}: empty cell in column '{'word' if not word else 'related'}'")
        if other != word:
            related[word].add(other)
    return {word: sorted(others) for word, others in related.items()}


def add_noise(
    pairs: pd.DataFrame,
    related: dict[str, list[str]],
    p: float,
    k: int,
    seed: int,
    rejection: dict[str, frozenset[str]] | None = None,
) -> pd.DataFrame:
    """k copies of every pair (source, target, correct); in each, the target is replaced with probability p.

    A replacement is drawn from the target's related words less every known correct answer for the
    source: the targets and Correct_Japanese of all its rows, and the rejection index's forms for it.
    Where no related word is left the target stays. Same pairs, table and seed give the same rows.
    """
    _check_options(p, k)
    answers = correct_answers_by_word(pairs, targets_are_correct=True)
    rng = random.Random(seed)
    rows = []
    for source, target in zip(pairs["source"], pairs["target"]):
        known = answers[word_key(source)]
        excluded = set(known) | (rejection or {}).get(normalize_gloss(source), frozenset())
        choices = [word for word in related.get(target, ()) if word not in excluded]
        for _ in range(k):
            replace = rng.random() < p and bool(choices)
            rows.append((source, rng.choice(choices) if replace else target, ANSWER_SEPARATOR.join(known)))
    return pd.DataFrame(rows, columns=["English", "Japanese", "Correct_Japanese"])


def _check_options(p: float, k: int) -> None:
    if not 0 <= p <= 1:
        raise UserError(f"--p {p}: a probability must lie in [0, 1]")
    if k < 1:
        raise UserError(f"--k {k}: need at least one copy per row")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m seq2seq.noise", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path,
                        help="CSV with English, Japanese (correct) columns")
    parser.add_argument("--src-col", default="English",
                        help="input column of English words (default English)")
    parser.add_argument("--tgt-col", default="Japanese",
                        help="input column of correct Japanese (default Japanese)")
    parser.add_argument("--related", required=True, type=Path, help="CSV word,related")
    parser.add_argument("--output", required=True, type=Path,
                        help="CSV to write: English, Japanese, Correct_Japanese")
    parser.add_argument("--p", type=float, default=0.5,
                        help="probability of replacing a target (default 0.5)")
    parser.add_argument("--k", type=int, default=1, help="copies per input row (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--rejection", type=Path, help="also exclude its forms, e.g. data/rejection.csv.gz")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _check_options(args.p, args.k)
    for option in ("input", "related", "rejection"):
        path = getattr(args, option)
        if path is not None and not path.is_file():
            raise UserError(f"--{option} {path}: file not found")
    pairs = load_pairs(args.input, args.src_col, args.tgt_col)
    rejection = load_rejection_index(args.rejection) if args.rejection else None
    noisy = add_noise(pairs, load_related(args.related), args.p, args.k, args.seed, rejection)
    try:
        noisy.to_csv(args.output, index=False, encoding="utf-8")
    except OSError as err:
        raise DataError(f"{args.output}: cannot write ({err.strerror})") from None
    replaced = int((noisy["Japanese"] != pairs["target"].repeat(args.k).to_numpy()).sum())
    print(f"{args.output}: {len(noisy)} rows, {replaced} with a replaced target")


if __name__ == "__main__":
    raise SystemExit(run_main(main))
