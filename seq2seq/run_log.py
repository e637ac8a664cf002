"""What a training run records, and where.

    messages          the console (above any progress bar) and train.log
    one row per
    validation        metrics.csv (and TensorBoard)
    each step's loss  TensorBoard, when the optional `tensorboard` package is installed
                      (`pip install -e '.[tensorboard]'`, then `tensorboard --logdir runs`)

Messages said before the model folder exists (the data checks come first) are kept and written to
train.log once it does. A resumed run appends to the same files.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from seq2seq.model_folder import METRICS, TENSORBOARD, TRAIN_LOG

METRIC_COLUMNS = ["epoch", "step", "train_loss", "valid_loss", "valid_ppl", "valid_acc", "lr", "tokens_per_s",
                  "elapsed_s"]


# Each validation metric, and whether lower or higher is better.
METRIC_GOALS = {"valid_loss": "min", "valid_acc": "max"}


def best_row(metrics: pd.DataFrame, metric: str) -> pd.Series:
    """The metrics.csv row of the epoch model.pt holds: the first best value of `metric` (the trainer
    counts only a strict improvement); without validations (all nan) every epoch was kept, so the last."""
    values = metrics[metric]
    if values.isna().all():
        return metrics.iloc[-1]
    return metrics.loc[values.idxmin() if METRIC_GOALS[metric] == "min" else values.idxmax()]


class RunLog:
    def __init__(self, echo: bool = True):
        self.echo = echo  # print messages (rank 0 does; other ranks of a distributed run stay quiet)
        self.folder: Path | None = None
        self.waiting: list[str] = []  # messages said before there was a folder
        self.tensorboard = None

    def attach(self, folder: Path) -> None:
        """Start writing files in `folder`: the messages so far first."""
        self.folder = folder
        with open(folder / TRAIN_LOG, "a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in self.waiting)
        self.waiting = []
        self.tensorboard = open_tensorboard(folder / TENSORBOARD)

    def __call__(self, message: str) -> None:
        """Say `message`; the log is called like print."""
        if self.echo:
            tqdm.write(message)
        if self.folder is None:
            self.waiting.append(message)
            return
        with open(self.folder / TRAIN_LOG, "a", encoding="utf-8") as handle:
            handle.write(message + "\n")

    def validation(self, row: dict) -> None:
        """One row of metrics.csv, its header first if the file is new."""
        if self.folder is None:
            return
        path = self.folder / METRICS
        new = not path.exists()
        with open(path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tensorboard is not None:
            for name in ("valid_loss", "valid_acc", "train_loss", "tokens_per_s"):
                self.tensorboard.add_scalar(f"epoch/{name}", float(row[name]), row["step"])

    def step(self, step: int, loss: float, lr: float) -> None:
        if self.tensorboard is not None:
            self.tensorboard.add_scalar("step/train_loss", loss, step)
            self.tensorboard.add_scalar("step/lr", lr, step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None


def open_tensorboard(folder: Path):
    """A TensorBoard event writer, or None when the tensorboard package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises this when the tensorboard package is missing
        return None
    return SummaryWriter(log_dir=str(folder))
