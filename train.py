"""Train a model on a CSV of English words and Japanese targets, then print sample distractors.

    python train.py                                  # the bundled JMdict distractors, into runs/default
    python train.py --data my.csv --out runs/mine    # your own pairs
    python train.py --config configs/tiny.toml --epochs 2
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli import run_main
from seq2seq.config import Config, load_toml, with_overrides
from seq2seq.data import word_key
from seq2seq.pipeline import TrainSummary, distractors_for, load_known_words, load_lexicon, train_from_csv

BUNDLED_DATA = Path(__file__).resolve().parent / "data" / "distractors.csv.gz"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(BUNDLED_DATA), help="CSV of pairs (default: the bundled JMdict distractors)")
    parser.add_argument("--out", default="runs/default", help="model folder to write (default: runs/default)")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    parser.add_argument("--config", help="TOML file of settings; options given here override it")
    parser.add_argument("--src-col", help="source column (default English)")
    parser.add_argument("--tgt-col", help="target column (default Japanese)")
    parser.add_argument("--ref-col", help="column of correct answers, '|'-separated (default Correct_Japanese, if present)")
    parser.add_argument("--targets", choices=["auto", "correct", "distractors"],
                        help="are targets correct translations or near misses? auto: near misses when --ref-col exists")
    parser.add_argument("--arch", choices=["transformer", "gru", "lstm"], help="model family (default transformer)")
    parser.add_argument("--epochs", type=int, help="passes over the training split")
    parser.add_argument("--batch-size", type=int, help="pairs per step")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="seed for the split, the weights and the batch order")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (default auto)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], help="autocast precision")
    parser.add_argument("--vocab-size", type=int, help="SentencePiece vocabulary size")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    config = load_toml(args.config) if args.config else Config()
    config = with_overrides(config, "data", src_col=args.src_col, tgt_col=args.tgt_col, ref_col=args.ref_col,
                            targets=args.targets)
    config = with_overrides(config, "train", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            device=args.device, precision=args.precision)
    config = with_overrides(config, "model", arch=args.arch)
    return with_overrides(config, "tokenizer", vocab_size=args.vocab_size)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary = train_from_csv(build_config(args), args.data, args.out, progress=not args.no_progress,
                             overwrite=args.overwrite)
    fit = summary.fit
    print(f"done: {fit.epochs} epochs in {fit.elapsed_s:.0f} s; best valid loss {fit.valid_loss:.3f} "
          f"at epoch {fit.best_epoch}; model in {args.out}")
    print_samples(summary)


def print_samples(summary: TrainSummary) -> None:
    """Distractors for a few validation words (never trained on), beside their correct answers."""
    trained = summary.trained
    valid_words = list(dict.fromkeys(summary.splits["valid"]["source"]))
    count = min(trained.config.train.samples_at_end, len(valid_words))
    if count == 0:
        return
    words = valid_words[:: len(valid_words) // count][:count]  # spread over the list, not just its start
    print("sample distractors for validation words:")
    results = distractors_for(trained, words, trained.config.decode, lexicon=load_lexicon("auto"),
                              known_words=load_known_words("auto"))
    for word, found in zip(words, results):
        correct = "|".join(trained.answers.get(word_key(word), [])) or "?"
        print(f"  {word} (correct: {correct}) → {', '.join(found)}")


if __name__ == "__main__":
    sys.exit(run_main(main))
