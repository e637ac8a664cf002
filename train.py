"""Train a model on a CSV of English words and Japanese targets, then print sample distractors.

    python train.py                                  # the bundled JMdict distractors, into runs/default
    python train.py --data my.csv --out runs/mine    # your own pairs
    python train.py --data data/class_verbs.csv.gz --config configs/class.toml --out runs/class   # a \
minute, in class
    python train.py --resume runs/default                    # continue a stopped run exactly (Ctrl-C saves \
one)
    torchrun --nproc_per_node=2 train.py ...                 # DistributedDataParallel, one process per \
GPU/core
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli import ArgumentParser, run_main
from seq2seq.config import Config, load_toml, with_overrides
from seq2seq.data import word_key
from seq2seq.errors import UserError
from seq2seq.sweep import SWEEP_TABLE, load_sweep, run_sweep
from seq2seq.pipeline import (TrainSummary, distractors_for, load_candidate_lexicon, load_known_words,
                              load_lexicon, resume_training, train_from_csv)

BUNDLED_DATA = Path(__file__).resolve().parent / "data" / "distractors.csv.gz"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="CSV of pairs (default: the bundled JMdict distractors)")
    parser.add_argument("--out", help="model folder to write (default: runs/default)")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    parser.add_argument("--resume", metavar="DIR",
                        help="continue the run saved in DIR (its last.pt) where it stopped")
    parser.add_argument("--config",
                        help="TOML file of settings (see configs/); options given here override it")
    parser.add_argument("--sweep", metavar="FILE",
                        help="train a grid of settings from a sweep file (see sweep.toml)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    data = parser.add_argument_group("data")
    data.add_argument("--src-col", help="source column (default English)")
    data.add_argument("--tgt-col", help="target column (default Japanese)")
    data.add_argument("--ref-col",
                      help="column of correct answers, '|'-separated (default Correct_Japanese, if present)")
    data.add_argument("--targets", choices=["auto", "correct", "distractors"],
                      help="are targets correct translations or near misses? auto: near "
                           "misses when --ref-col exists")
    data.add_argument("--src-template",
                      help='encoder input from columns, e.g. "{English} ⟨sep⟩ {Correct_Japanese}"; '
                           '"" the word alone; default auto: that template when targets are distractors')
    data.add_argument("--kinds", metavar="LIST",
                      help="train only on rows of these kinds (the CSV's kind column), comma-separated, e.g. "
                           f"semantic; '' every row (default '{DEFAULTS.data.kinds}')")
    data.add_argument("--held-out-words", metavar="CSV",
                      help="never train on the words of this CSV (e.g. a test.csv)")
    data.add_argument("--vocab-size", type=int,
                      help=f"SentencePiece vocabulary size (default {DEFAULTS.tokenizer.vocab_size})")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", choices=["transformer", "gru", "lstm"],
                       help=f"model family (default {DEFAULTS.model.arch})")
    model.add_argument("--dropout", type=float,
                       help=f"dropout probability (default {DEFAULTS.model.dropout:g})")
    train = parser.add_argument_group("training")
    for option, kind, text in TRAIN_OPTIONS:
        train.add_argument(option, type=kind,
                           help=f"{text} (default {getattr(DEFAULTS.train, field_name(option)):g})")
    train.add_argument("--schedule", choices=["inverse_sqrt", "cosine", "plateau", "constant"],
                       help=f"learning rate after warm-up (default {DEFAULTS.train.schedule})")
    train.add_argument("--metric", choices=["valid_loss", "valid_acc"],
                       help=f"validation metric for best/early stop (default {DEFAULTS.train.metric})")
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (default auto)")
    train.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                       help=f"autocast precision (default {DEFAULTS.train.precision}: bf16 on a GPU that has "
                            "it, fp32 on a CPU)")
    train.add_argument("--keep-epochs", action="store_true", default=None,
                       help="also keep each epoch's weights as epoch1.pt, epoch2.pt, … in the model folder")
    return parser.parse_args(argv)


# (option, type, help) of the numeric training settings; each sets the TrainConfig field of its name.
TRAIN_OPTIONS = [
    ("--epochs", int, "most passes over the training split"),
    ("--time-budget-minutes", float, "stop after this many minutes of training, validating first; --resume "
                                     "with a larger one continues; 0: no limit"),
    ("--batch-size", int, "pairs per batch"),
    ("--max-tokens", int, "token batching: up to this many padded tokens per batch "
                          "(instead of --batch-size)"),
    ("--accum", int, "batches per optimizer step (gradient accumulation)"),
    ("--lr", float, "peak learning rate"),
    ("--warmup-steps", int, "steps of linear warm-up"),
    ("--weight-decay", float, "AdamW weight decay"),
    ("--label-smoothing", float, "label smoothing"),
    ("--empty-source-share", float, "share of training pairs shown an empty source, so the model learns "
                                    "which outputs fit any word (ranking pushes those down)"),
    ("--patience", int, "stop after this many validations without improvement (0: never)"),
    ("--checkpoint-every", int, "also save the resumable last.pt every N steps"),
    ("--seed", int, "seed for the split, the weights, the batch order and dropout"),
    ("--gloss-epochs", int, "after training, passes over the training pairs that tune the gloss space "
                            "ranking reads (seq2seq/gloss_tuning.py); 0: rank with the untuned space"),
]
DEFAULTS = Config()  # what --help states as each option's default (a --config file may change it)


def field_name(option: str) -> str:
    """'--warmup-steps' → 'warmup_steps', the TrainConfig field the option sets."""
    return option[2:].replace("-", "_")


TRAIN_FIELDS = [field_name(option) for option, _, _ in TRAIN_OPTIONS] + ["schedule", "metric", "device",
                                                                         "precision", "keep_epochs"]


def build_config(args: argparse.Namespace) -> Config:
    config = load_toml(args.config) if args.config else Config()
    config = with_overrides(config, "data", src_col=args.src_col, tgt_col=args.tgt_col, ref_col=args.ref_col,
                            targets=args.targets, src_template=args.src_template,
                            kinds=args.kinds, held_out_words=args.held_out_words)
    config = with_overrides(config, "train", **train_changes(args))
    config = with_overrides(config, "model", arch=args.arch, dropout=args.dropout)
    return with_overrides(config, "tokenizer", vocab_size=args.vocab_size)


def train_changes(args: argparse.Namespace) -> dict:
    return {name: getattr(args, name) for name in TRAIN_FIELDS if getattr(args, name) is not None}


def resume(args: argparse.Namespace) -> TrainSummary:
    """--resume DIR: the saved settings; only some training settings may be given anew (RESUME_CHANGES)."""
    fixed = [option for option in FIXED_ON_RESUME
             if getattr(args, option[2:].replace("-", "_")) not in (None, False)]
    if fixed:
        raise UserError(f"--resume continues the saved run; {', '.join(fixed)} cannot be given with it")
    return resume_training(args.resume, train_changes(args), args.data, progress=not args.no_progress)


# Options that decide what a run computes or where it goes, so a resumed run keeps the saved ones.
FIXED_ON_RESUME = ["--config", "--out", "--overwrite", "--src-col", "--tgt-col", "--ref-col", "--targets",
                   "--src-template", "--kinds", "--held-out-words", "--vocab-size", "--arch", "--dropout"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sweep:
        return sweep(args)
    if args.resume:
        summary, out = resume(args), args.resume
    else:
        out = args.out or "runs/default"
        summary = train_from_csv(build_config(args), args.data or BUNDLED_DATA, out,
                                 progress=not args.no_progress, overwrite=args.overwrite)
    if not summary.is_main:
        return 0
    fit = summary.fit
    if fit.status == "interrupted":
        print(f"interrupted after step {fit.step}; continue with: python train.py --resume {out}",
              file=sys.stderr)
        return 130
    print(f"done ({fit.status}): {fit.epochs} epochs, {fit.step} steps in {fit.elapsed_s:.0f} s; best "
          f"{fit.metric} {fit.best_metric:.3f} at epoch {fit.best_epoch}; model in {out}")
    print_samples(summary)
    return 0


def sweep(args: argparse.Namespace) -> int:
    """--sweep FILE: every setting comes from the file; --data and --no-progress may go with it."""
    given = [option for option, value in vars(args).items()
             if value not in (None, False) and option not in ("sweep", "data", "no_progress")]
    if given:
        raise UserError(f"--sweep takes its settings from {args.sweep}; only --data and --no-progress go "
                        f"with it (not --{given[0].replace('_', '-')})")
    plan = load_sweep(args.sweep)
    table = run_sweep(plan, args.data or BUNDLED_DATA, progress=not args.no_progress)
    if table.empty:
        return 130
    print((plan.out / SWEEP_TABLE).read_text(encoding="utf-8"))
    return 0


def print_samples(summary: TrainSummary) -> None:
    """Distractors for a few validation words (never trained on), beside their correct answers."""
    trained = summary.trained
    valid_words = list(dict.fromkeys(summary.splits["valid"]["source"]))
    count = min(trained.config.train.samples_at_end, len(valid_words))
    if count == 0:
        return
    words = valid_words[:: len(valid_words) // count][:count]  # spread over the list, not just its start
    print("sample distractors for validation words:")
    lexicon = load_lexicon("auto")
    results = distractors_for(trained, words, trained.config.decode, lexicon=lexicon,
                              known_words=load_known_words("auto"),
                              candidates=load_candidate_lexicon("auto", lexicon))
    for word, found in zip(words, results):
        correct = "|".join(trained.answers.get(word_key(word), [])) or "?"
        print(f"  {word} (correct: {correct}) → {', '.join(found)}")


if __name__ == "__main__":
    sys.exit(run_main(main))
