"""Cut the class-sized corpus out of the bundled one:  python data/build_class_slice.py

data/class_verbs.csv.gz holds every row of data/distractors.csv.gz whose English word is a verb in all of
its correct answers (borrow → 借りる: near misses 貸す, 返す, …): a few thousand pairs, one part of speech,
small enough to train on in about a minute (configs/class.toml), and easy to judge by eye. Same columns
as the full corpus; same licence (LICENSE-JMdict). Reads only the shipped files; same input, same bytes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA_DIR))

from jmdict_corpus.output import write_csv_gz  # noqa: E402

SLICE = "class_verbs.csv.gz"


def verb_rows(distractors: pd.DataFrame, lexicon: pd.DataFrame) -> pd.DataFrame:
    """The distractor rows of the English words whose every correct answer in the lexicon is a verb."""
    parts_of_speech = lexicon.groupby("English")["pos"].agg(set)
    only_verbs = {word for word, pos in parts_of_speech.items() if pos == {"verb"}}
    return distractors[distractors["English"].isin(only_verbs)]


def main() -> None:
    distractors = pd.read_csv(DATA_DIR / "distractors.csv.gz", dtype=str, keep_default_na=False)
    lexicon = pd.read_csv(DATA_DIR / "lexicon.csv.gz", dtype=str, keep_default_na=False)
    rows = verb_rows(distractors, lexicon)
    count = write_csv_gz(DATA_DIR / SLICE, list(rows.columns), rows.itertuples(index=False))
    print(f"{SLICE}: {count} rows, {rows['English'].nunique()} English words")


if __name__ == "__main__":
    main()
