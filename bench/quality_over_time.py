"""How the distractors' near-miss rate grows with training time, from one run kept with --keep-epochs.

    python train.py --out runs/long --epochs 10 --keep-epochs
    python bench/quality_over_time.py runs/long --epochs 1,2,3,5,10 --out docs/results-time

Each chosen epoch's weights (epochN.pt) are scored on the run's test words exactly as evaluate.py scores
a model (its decoding settings, N = 5), beside the kanji and corpus baselines, and the near-miss rate
is plotted against training minutes. Minutes are the epoch number times the run's median epoch length
(metrics.csv), so an epoch slowed by another job on the machine does not bend the curve; the table
gives both. Writes quality_over_time.md, quality_over_time.csv, quality_over_time.png (matplotlib, if
installed) and evaluate.py's four files into --out.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.cli import run_main  # noqa: E402
from seq2seq.errors import UserError  # noqa: E402
from seq2seq.evaluation import evaluate, markdown_rows  # noqa: E402
from seq2seq.model_folder import EPOCH_WEIGHTS, METRICS  # noqa: E402

BASELINES = ["kanji", "corpus"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="model folder trained with --keep-epochs")
    parser.add_argument("--epochs", required=True, help="comma-separated epochs to score, e.g. 1,2,3,5,10")
    parser.add_argument("--out", default="runs/quality-over-time", help="output folder")
    return parser.parse_args(argv)


def epoch_minutes(run: Path) -> tuple[pd.DataFrame, float]:
    """metrics.csv with each epoch's own length, and the median epoch length in minutes."""
    metrics = pd.read_csv(run / METRICS)
    metrics["epoch_s"] = metrics["elapsed_s"].diff().fillna(metrics["elapsed_s"])
    return metrics, statistics.median(metrics["epoch_s"]) / 60


def curve_rows(run: Path, epochs: list[int], results, metrics: pd.DataFrame,
               minutes_per_epoch: float) -> pd.DataFrame:
    by_epoch = metrics.set_index("epoch")
    rows = []
    for epoch, result in zip(epochs, results):
        summary = result.scores.summary
        rows.append({"epoch": epoch, "minutes": round(epoch * minutes_per_epoch, 1),
                     "elapsed_minutes": round(by_epoch.loc[epoch, "elapsed_s"] / 60, 1),
                     "valid_loss": by_epoch.loc[epoch, "valid_loss"], "near_miss": summary["near_miss"],
                     "meaning": summary["meaning"], "same_pos": summary["same_pos"],
                     "shared": summary["shared"]})
    return pd.DataFrame(rows).astype({"near_miss": float, "meaning": float})  # None (no meaning model) → NaN


def plot(curve: pd.DataFrame, baselines: dict[str, float], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(curve["minutes"], curve["near_miss"], marker="o", label="model (epochs marked)")
    for minutes, near, epoch in zip(curve["minutes"], curve["near_miss"], curve["epoch"]):
        axes.annotate(str(epoch), (minutes, near), textcoords="offset points", xytext=(4, 4), fontsize=8)
    for name, value in baselines.items():
        axes.axhline(value, linestyle="--", linewidth=1, color="grey")
        axes.annotate(name, (curve["minutes"].max(), value), textcoords="offset points", xytext=(-60, 3),
                      fontsize=8)
    axes.set_xlabel("minutes of training (epochs × median epoch length)")
    axes.set_ylabel("near miss (share of 5 slots)")
    axes.set_title("Near-miss rate on unseen test words against training time")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run, out = Path(args.run), Path(args.out)
    try:
        epochs = [int(epoch) for epoch in args.epochs.split(",")]
    except ValueError:
        raise UserError(f"--epochs '{args.epochs}': give whole numbers separated by commas, "
                        "e.g. 1,2,5") from None
    missing = [EPOCH_WEIGHTS.format(epoch=epoch) for epoch in epochs
               if not (run / EPOCH_WEIGHTS.format(epoch=epoch)).is_file()]
    if missing:
        raise UserError(f"{run}: no {', '.join(missing)}; train with --keep-epochs "
                        "(or --resume it with --keep-epochs)")
    command = shlex.join(["python", "bench/quality_over_time.py", *(sys.argv[1:] if argv is None else argv)])
    systems = [f"{run}@weights={EPOCH_WEIGHTS.format(epoch=epoch)}" for epoch in epochs]
    evaluation = evaluate(systems, baselines=BASELINES, out=out, command=command)
    metrics, minutes_per_epoch = epoch_minutes(run)
    curve = curve_rows(run, epochs, evaluation.results[: len(epochs)], metrics, minutes_per_epoch)
    baselines = {r.name: r.scores.summary["near_miss"] for r in evaluation.results[len(epochs):]}
    curve.to_csv(out / "quality_over_time.csv", index=False)
    drew = plot(curve, baselines, out / "quality_over_time.png")
    table = markdown_rows(list(curve.columns), [[f"{value:.3f}" if isinstance(value, float) else str(value)
                                                  for value in row] for row in curve.itertuples(index=False)])
    (out / "quality_over_time.md").write_text(
        f"# Near miss against training time\n\n{table}\n\nBaselines: "
        + ", ".join(f"{name} {value:.3f}" for name, value in baselines.items())
        + f"\n\nMedian epoch {minutes_per_epoch:.1f} minutes. Made with:\n\n```\n{command}\n```\n",
        encoding="utf-8")
    print(curve.to_string(index=False))
    print(f"wrote {out}/quality_over_time.md, .csv" + (", .png" if drew else " (no matplotlib: no plot)"))


if __name__ == "__main__":
    sys.exit(run_main(main))
