"""torchrun with 2 CPU processes (gloo) against one process taking the same steps.

With 2 processes each step takes batch 2i on rank 0 and batch 2i+1 on rank 1; one process with
--accum 2 takes the same two batches in one step (and 2 processes with --accum 2 take what one process
with --accum 4 takes). The loss of a step is normalised by the tokens of all
its batches in both cases, so the two runs compute the same thing, up to rounding.
"""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import ROOT

TINY_TOML = ROOT / "configs" / "tiny.toml"
# 22 training pairs in batches of 4 → 6 batches per epoch: an even number, so no process drops one.
COMMON = ["--config", TINY_TOML, "--batch-size", "4", "--epochs", "2", "--no-progress", "--device", "cpu"]


def train(args: list, processes: int = 1) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                str(processes)]
    return subprocess.run([*(launcher if processes > 1 else [sys.executable]), str(ROOT / "train.py"),
                           *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=os.environ | {"OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("accum", [1, 2])
def test_two_gloo_processes_match_one_process_accumulating_twice_as_many_batches(accum, pairs_csv,
                                                                                 tmp_path: Path):
    """With accum 2 each process also skips gradient averaging (no_sync) on its first batch of a step."""
    ddp = train(["--data", pairs_csv, "--out", tmp_path / "ddp", "--accum", accum, *COMMON], processes=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = train(["--data", pairs_csv, "--out", tmp_path / "single", "--accum", 2 * accum, *COMMON])
    assert single.returncode == 0, single.stderr[-3000:]

    assert "2 processes" in ddp.stdout and ddp.stdout.count("done (finished)") == 1  # only rank 0 prints
    curves = [pd.read_csv(tmp_path / name / "metrics.csv") for name in ("ddp", "single")]
    assert curves[0]["step"].tolist() == curves[1]["step"].tolist() == ([3, 6] if accum == 1 else [2, 4])
    for column in ("train_loss", "valid_loss"):
        assert curves[0][column].tolist() == pytest.approx(curves[1][column].tolist(), abs=2e-4)
    ddp_weights, single_weights = (torch.load(tmp_path / name / "model.pt", weights_only=True)
                                   for name in ("ddp", "single"))
    # A key projection's bias has a true gradient of 0 (softmax ignores a shift shared by every key), so
    # AdamW steps it by ±lr on rounding noise alone, which differs with the order of the sums: not compared.
    for key in (key for key in single_weights if not key.endswith("k_proj.bias")):
        torch.testing.assert_close(ddp_weights[key], single_weights[key], rtol=1e-3, atol=1e-4, msg=key)
