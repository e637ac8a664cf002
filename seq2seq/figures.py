"""The figures of docs/LEARN.md, each drawn from the package's own code rather than redrawn by hand.

    python -m seq2seq.figures --out docs/figures
    python -m seq2seq.figures --out docs/figures --gru runs/class --transformer runs/class-tf --word tighten

    positions.png               the Transformer's sinusoidal position table (models/transformer.py)
    schedules.png               the learning rate over a run, each schedule (schedule.py)
    masks.png                   the padding mask, the causal mask and both (models/attention.py)
    attention_gru.png           with --gru: that model's cross-attention while it writes its best distractor
    attention_transformer.png   for --word (as infer.py --plot-attention draws it); likewise with \
--transformer
    valid_loss.png              with either folder: its validation loss by epoch and by time (its metrics.csv)

The first three need no model. Without matplotlib nothing is written: one line says so, and the exit
code is 0 (the figures are optional, like the plot extra).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from seq2seq.api import load_model
from seq2seq.attention_maps import plot_word_attention
from seq2seq.cli import ArgumentParser, run_main
from seq2seq.compare import plot_valid_loss, read_metrics
from seq2seq.config import TrainConfig
from seq2seq.errors import UserError
from seq2seq.models.attention import causal_mask, padding_mask
from seq2seq.models.transformer import PositionalEncoding
from seq2seq.plotting import MatplotlibMissing, new_figure, require_matplotlib, save_png
from seq2seq.schedule import SCHEDULES, LearningRate

WIDTH, MAX_LEN = 128, 64  # the class models' d_model and max_len (configs/class.toml)
# about a class run: its warm-up, steps in the minute, steps an epoch
WARMUP, STEPS, EPOCH_STEPS = 100, 1900, 66
# the plateau schedule's run improves until this epoch, then stalls (as the class GRU did)
PLATEAU_BEST_EPOCH = 8
MASK_LENGTH, REAL_TOKENS = 6, 4  # the masks drawn: six positions, the last two of them padding


def draw_positions(path: Path) -> Path:
    """The table the Transformer adds to its token vectors: a heat map of every (position, dimension), and
    a few dimensions as curves: low dimensions turn fast with the position, high ones slowly."""
    table = PositionalEncoding(WIDTH, MAX_LEN).table  # (max_len, d_model)
    figure = new_figure(11, 4)
    heat, curves = figure.subplots(1, 2, width_ratios=[3, 2])
    image = heat.imshow(table.T.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1, origin="lower")
    heat.set(xlabel="position", ylabel="dimension", title=f"sinusoidal positions (d_model {WIDTH})")
    figure.colorbar(image, ax=heat)
    for dimension in (0, 6, 20, 60):
        curves.plot(table[:, dimension].numpy(), label=f"dimension {dimension}")
    curves.set(xlabel="position", ylabel="value", title="one dimension each")
    curves.legend(fontsize=8)
    return save_png(figure, path)


def draw_schedules(path: Path) -> Path:
    """The learning rate before every step of a class-sized run, under each schedule, as the trainer's
    own LearningRate sets it; "plateau" is told of a validation every epoch, improving until epoch 8."""
    figure = new_figure(8, 4)
    axes = figure.subplots()
    for schedule in SCHEDULES:
        axes.plot(range(1, STEPS + 1), learning_rates(schedule), label=schedule)
    axes.set(xlabel="optimizer step", ylabel="learning rate",
             title=f"peak {TrainConfig().lr:g} after {WARMUP} warm-up steps, {STEPS} steps in all")
    axes.legend()
    return save_png(figure, path)


def learning_rates(schedule: str) -> list[float]:
    """The rate LearningRate sets before each of STEPS steps (the optimizer is a stand-in: nothing trains)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    rate = LearningRate(optimizer, TrainConfig(schedule=schedule, warmup_steps=WARMUP))
    rate.total_steps = STEPS
    rates = []
    for step in range(STEPS):
        rates.append(rate.before_step(step))
        if (step + 1) % EPOCH_STEPS == 0:
            rate.after_validation(improved=(step + 1) // EPOCH_STEPS <= PLATEAU_BEST_EPOCH)
    return rates


def draw_masks(path: Path) -> Path:
    """Which key each query may attend to: a source padded after its fourth token, the causal mask of a
    target, and the two combined (True only where both are). Dark: may attend."""
    real = torch.arange(MASK_LENGTH) < REAL_TOKENS  # (length,) True at real tokens
    padding = padding_mask(real[None]).expand(1, 1, MASK_LENGTH, MASK_LENGTH)  # (1, 1, length, length)
    causal = causal_mask(MASK_LENGTH)  # (1, 1, length, length)
    figure = new_figure(11, 3.8)
    panels = figure.subplots(1, 3)
    shown = [("padding_mask: keys 5 and 6 are padding", padding), ("causal_mask: no looking ahead", causal),
             ("padding & causal", padding & causal)]
    for axes, (title, mask) in zip(panels, shown):
        axes.imshow(mask[0, 0].numpy(), cmap="Greens", vmin=0, vmax=1.4)
        axes.set(title=title, xlabel="key position (attended to)", ylabel="query position (attending)",
                 xticks=range(MASK_LENGTH), yticks=range(MASK_LENGTH),
                 xticklabels=range(1, MASK_LENGTH + 1), yticklabels=range(1, MASK_LENGTH + 1))
    figure.suptitle("masks: True (dark) where a query may attend to a key")
    return save_png(figure, path)


def model_figures(folders: dict[str, Path], word: str, out: Path) -> list[Path]:
    """Each family's attention map for `word` and its best distractor (as infer.py finds it), and the
    validation-loss curves of all the folders in one figure."""
    written = []
    for family, folder in folders.items():
        model = load_model(folder)
        found = model.distractors(word)
        path = out / f"attention_{family}.png"
        plot_word_attention(model, word, (), (), found, path)
        written.append(path)
    curves = {f"{family} ({folder.name})": read_metrics(folder) for family, folder in folders.items()}
    if plot_valid_loss(curves, out / "valid_loss.png"):
        written.append(out / "valid_loss.png")
    return written


def write_figures(out: Path, folders: dict[str, Path], word: str) -> list[Path]:
    """Every figure there is material for into `out`; returns their paths."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{out}: cannot make the folder for the figures ({err.strerror})") from None
    written = [draw_positions(out / "positions.png"), draw_schedules(out / "schedules.png"),
               draw_masks(out / "masks.png")]
    if folders:
        written += model_figures(folders, word, out)
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m seq2seq.figures", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the PNG files (made if missing)")
    parser.add_argument("--gru", type=Path, help="a GRU (or LSTM) model folder, e.g. runs/class")
    parser.add_argument("--transformer", type=Path, help="a Transformer model folder, e.g. runs/class-tf")
    parser.add_argument("--word", default="tighten",
                        help="the English word of the attention maps (default tighten)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folders = {family: folder for family, folder in (("gru", args.gru), ("transformer", args.transformer))
               if folder}
    try:
        require_matplotlib()
    except MatplotlibMissing as missing:
        print(f"skipped: no figures written; {missing}", file=sys.stderr)
        return
    for path in write_figures(Path(args.out), folders, args.word):
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(run_main(main))
