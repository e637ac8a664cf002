"""kill -9 at any moment: a real `python train.py`, killed again and again and resumed each time, ends with
the same weights and metrics as a run never killed, and no kill leaves a damaged file under a real name.

SIGKILL cannot be caught, so nothing of the trainer's own runs when it lands: only the order of its writes
(each file written to `NAME.tmp`, then renamed over NAME) keeps the folder whole. The moments tried are
random ones (seeded delays) and the two worst ones, forced: halfway through writing a file's bytes, and
after writing them but before the rename.

Slow (a dozen training processes, about a minute on 2 cores): `python -m pytest -m slow tests/test_kill.py`.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from seq2seq.checkpoint import load_checkpoint
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SETTINGS = ["--config", str(ROOT / "configs" / "tiny.toml"), "--epochs", "8", "--checkpoint-every", "2"]
TIMING = ["tokens_per_s", "elapsed_s"]  # metrics columns that measure the machine, not the run

# Run train.py with its writes watched: at the `nth` write of the file `name`, write all of it ("renaming")
# or half of it ("writing") to NAME.tmp, then SIGKILL this very process, as a power cut would.
KILL_DURING_A_WRITE = """
import os, runpy, signal, sys
import seq2seq.checkpoint, seq2seq.model_folder
moment, name, nth = sys.argv[1].split(":")
sys.argv = ["train.py", *sys.argv[2:]]
write_atomic, writes = seq2seq.model_folder.write_atomic, []

def write_then_die(path, data):
    if path.name == name:
        writes.append(path)
        if len(writes) == int(nth):
            with open(path.with_name(path.name + ".tmp"), "wb") as handle:
                handle.write(data if moment == "renaming" else data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
    write_atomic(path, data)

seq2seq.model_folder.write_atomic = seq2seq.checkpoint.write_atomic = write_then_die
runpy.run_path("train.py", run_name="__main__")
"""


def train(*args: str, kill: str | None = None, kill_after_s: float | None = None) -> int:
    """Run train.py (under the write watcher when `kill` says "moment:file:nth"), SIGKILLed after
    `kill_after_s` seconds if it is still running then; returns its exit code (-9: killed)."""
    command = [sys.executable, "-c", KILL_DURING_A_WRITE, kill] if kill else [sys.executable, "train.py"]
    process = subprocess.Popen([*command, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        process.wait(timeout=kill_after_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return process.returncode


def start_or_resume(folder: Path, data: Path, **kill) -> int:
    """Resume the run in `folder` from its last.pt, or start it afresh when no last.pt was saved yet."""
    if (folder / "last.pt").is_file():
        return train("--resume", str(folder), **kill)
    return train("--data", str(data), "--out", str(folder), "--overwrite", *SETTINGS, **kill)


def assert_whole(folder: Path) -> None:
    """Every file under a real name is whole: the checkpoint and weights load, metrics.csv has whole rows."""
    if (folder / "last.pt").is_file():
        load_checkpoint(folder / "last.pt")
    if (folder / "model.pt").is_file():
        torch.load(folder / "model.pt", weights_only=True)
    if (folder / "metrics.csv").is_file():
        metrics = pd.read_csv(folder / "metrics.csv")
        assert not metrics.drop(columns=TIMING).isna().any().any()


def assert_same_run(a: Path, b: Path) -> None:
    for name in ("model.pt", "last.pt"):
        first, second = torch.load(a / name, weights_only=True), torch.load(b / name, weights_only=True)
        first, second = (first["model"], second["model"]) if name == "last.pt" else (first, second)
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first), name
    pd.testing.assert_frame_equal(pd.read_csv(a / "metrics.csv").drop(columns=TIMING),
                                  pd.read_csv(b / "metrics.csv").drop(columns=TIMING))


def test_killed_at_any_moment_and_resumed_equals_never_killed(pairs_csv, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    started = time.monotonic()
    assert train("--data", str(pairs_csv), "--out", str(whole), *SETTINGS) == 0
    run_seconds = time.monotonic() - started
    rng = random.Random(7)
    moments = [dict(kill="writing:spm.model:1"), dict(kill="writing:last.pt:2"),
               dict(kill="renaming:last.pt:1"), dict(kill="writing:model.pt:2"),
               dict(kill="renaming:model.pt:1")] + [
        dict(kill_after_s=rng.uniform(0.3, 0.9) * run_seconds) for _ in range(3)]
    kills = 0
    for moment in moments:
        code = start_or_resume(parts, pairs_csv, **moment)
        kills += code == -signal.SIGKILL
        assert code in (0, -signal.SIGKILL)
        assert_whole(parts)
    while start_or_resume(parts, pairs_csv) != 0:
        pass
    assert kills >= 5  # the forced moments always land; a random one may come after the run has ended
    assert_same_run(whole, parts)
    assert not list(parts.glob("*.tmp")), "a finished run leaves no temporary file"
