"""A grid of settings, one model folder per combination, and a table of how each did.

    python train.py --sweep sweep.toml

A sweep file is a config file (the same tables as configs/*.toml, shared by every run) with one more
table saying where the runs go and which settings to vary:

    [sweep]
    out = "runs/sweep"
    [sweep.grid]
    "train.lr" = [0.001, 0.003]
    "model.arch" = ["transformer", "gru"]
    "model.d_model,model.d_ff" = [[128, 512], [256, 1024]]   # settings that vary together

Every combination trains into out/<its values> (out/lr=0.001,arch=gru,d_model=128,d_ff=512).
Interrupted (Ctrl-C), the same command continues: finished runs are kept, the stopped one resumes exactly
from its last.pt, the rest start. The table (out/sweep.md, out/sweep.csv) is sorted by the validation
metric (train.metric).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from seq2seq.config import Config, ConfigError, config_from_dict, load_json, read_toml
from seq2seq.data import AUTO_TEMPLATE
from seq2seq.model_folder import CONFIG, LAST_CHECKPOINT, METRICS, write_atomic
from seq2seq.pipeline import resume_training, train_from_csv
from seq2seq.run_log import METRIC_GOALS, RunLog, best_row

SWEEP_TABLE, SWEEP_CSV = "sweep.md", "sweep.csv"
# Settings the trainer fills in, which a finished run's config.json holds resolved.
RESOLVED_MODEL_FIELDS = ("vocab_size", "pad_id", "d_model")


@dataclass
class Point:
    name: str  # the folder name: "lr=0.001,arch=gru"
    values: dict  # "train.lr" → 0.001, … (this point's value of every setting the grid varies)
    config: Config


@dataclass
class Sweep:
    out: Path
    grid: dict[str, list]  # "section.field" (or several, comma-separated) → the values to try
    points: list[Point]
    metric: str  # train.metric of the runs: what the table is sorted by


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file; every point's settings are checked like a config file's before anything runs."""
    path = Path(path)
    raw = read_toml(path, "sweep file")
    table = raw.pop("sweep", None)
    if not isinstance(table, dict) or not isinstance(table.get("grid"), dict) or not table["grid"]:
        raise ConfigError(f"{path}: needs a [sweep.grid] table of settings to vary, e.g. "
                          "\"train.lr\" = [0.001, 0.003]")
    unknown = sorted(set(table) - {"out", "grid"})
    if unknown:
        raise ConfigError(f"{path} [sweep]: unknown key(s) {', '.join(unknown)}; known: out, grid")
    grid = {key: check_grid_values(path, key, values) for key, values in table["grid"].items()}
    base = config_from_dict(raw, str(path))  # refuses unknown tables and keys
    points = [make_point(path, raw, combination_values(grid, combination))
              for combination in itertools.product(*grid.values())]
    return Sweep(Path(table.get("out", "runs/sweep")), grid, points, base.train.metric)


def check_grid_values(path: Path, key: str, values) -> list:
    names = key.split(",")
    if not all("." in name for name in names):
        raise ConfigError(f"{path} [sweep.grid]: '{key}' must name section.setting, e.g. \"train.lr\"")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{path} [sweep.grid]: '{key}' must be a non-empty list of values")
    if len(names) > 1 and not all(isinstance(value, list) and len(value) == len(names) for value in values):
        raise ConfigError(f"{path} [sweep.grid]: every value of '{key}' must be a list "
                          f"of {len(names)} values")
    return values


def combination_values(grid: dict[str, list], combination: tuple) -> dict:
    """One value per setting: a comma-separated key spreads its list over its settings."""
    values = {}
    for key, value in zip(grid, combination):
        names = key.split(",")
        values.update(zip(names, value) if len(names) > 1 else [(key, value)])
    return values


def make_point(path: Path, raw: dict, values: dict) -> Point:
    """The shared settings with this combination's values put in, checked as one config file."""
    merged = {section: dict(settings) for section, settings in raw.items()}
    for key, value in values.items():
        section, name = key.split(".", 1)
        merged.setdefault(section, {})[name] = value
    config = config_from_dict(merged, f"{path} (sweep point {values})")
    folder = ",".join(f"{key.split('.', 1)[1]}={value}" for key, value in values.items())
    return Point(folder, values, config)


def run_sweep(sweep: Sweep, data_path: str | Path, progress: bool = True,
              log: RunLog | None = None) -> pd.DataFrame:
    """Train (or finish) every point, then write and return the table. Stops at an interrupted point."""
    log = log or RunLog()
    for number, point in enumerate(sweep.points, start=1):
        folder = sweep.out / point.name
        log(f"sweep point {number} of {len(sweep.points)}: {point.name}")
        if (folder / LAST_CHECKPOINT).is_file():
            refuse_other_settings(folder, point)
            summary = resume_training(folder, {}, progress=progress)
        else:
            summary = train_from_csv(point.config, data_path, folder, progress=progress, overwrite=True)
        if summary.fit.status == "interrupted":
            log("sweep stopped; run the same command again to continue where it stopped")
            return pd.DataFrame()
    return write_sweep_table(sweep)


def refuse_other_settings(folder: Path, point: Point) -> None:
    """A run found in the folder must be of this point's settings, or resuming it would mislabel it."""
    saved = asdict(load_json(folder / CONFIG))
    wanted = asdict(point.config)
    for name in RESOLVED_MODEL_FIELDS:  # filled in by training; a width the sweep sets must match as given
        if name != "d_model" or not wanted["model"]["d_model"]:
            wanted["model"][name] = saved["model"][name]
    if wanted["data"]["src_template"] == AUTO_TEMPLATE:  # resolved by training from the data's targets
        wanted["data"]["src_template"] = saved["data"]["src_template"]
    if saved != wanted:
        raise ConfigError(f"{folder} holds a run with other settings than this sweep point; move it away or "
                          "choose another [sweep] out")


def result_of(folder: Path, metric: str) -> dict:
    """What the table shows of one run: its best validation, and how long it ran."""
    metrics = pd.read_csv(folder / METRICS)
    row = best_row(metrics, metric)
    return {"best_epoch": int(row["epoch"]), "valid_loss": row["valid_loss"], "valid_acc": row["valid_acc"],
            "epochs": int(metrics["epoch"].max()), "seconds": row["elapsed_s"],
            "tokens_per_s": round(metrics["tokens_per_s"].mean())}


def write_sweep_table(sweep: Sweep) -> pd.DataFrame:
    rows = [{**{key.split(".", 1)[1]: value for key, value in point.values.items()},
             **result_of(sweep.out / point.name, sweep.metric), "folder": point.name}
            for point in sweep.points]
    table = pd.DataFrame(rows).sort_values(sweep.metric, ascending=METRIC_GOALS[sweep.metric] == "min",
                                           kind="stable").reset_index(drop=True)
    write_atomic(sweep.out / SWEEP_CSV, table.to_csv(index=False).encode("utf-8"))
    write_atomic(sweep.out / SWEEP_TABLE, markdown(table, sweep.metric).encode("utf-8"))
    return table


def markdown(table: pd.DataFrame, metric: str) -> str:
    lines = [list(table.columns), ["---"] * len(table.columns)]
    lines += [[cell(value) for value in row] for row in table.itertuples(index=False)]
    caption = (f"Sorted by {metric} ({'lower' if METRIC_GOALS[metric] == 'min' else 'higher'} is better), at "
               "each run's best epoch; seconds: elapsed at that epoch; tokens_per_s: mean over epochs.\n")
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines) + "\n\n" + caption


def cell(value) -> str:
    if isinstance(value, float) and not math.isnan(value) and value != int(value):
        return f"{value:.4g}"
    return str(value)
