"""The benchmark helpers: interleaved timing, the reference models the benchmarks measure against."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seq2seq.config import ModelConfig
from seq2seq.decoding import generate, sampling_pick
from seq2seq.models import build_model, num_parameters
from seq2seq.models.base import select_batch
from tests.helpers import PAD, batch_of_sources, targets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from ab import interleave, median_and_quartiles, rotated  # noqa: E402
from decode_speed import Recomputing  # noqa: E402
from references import ReferenceRecurrent, ReferenceTransformer  # noqa: E402


class FakeClock:
    """A clock that advances only when a workload says it spent time: timing without waiting."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float, work: float = 1.0):
        def run() -> float:
            self.now += seconds
            return work
        return run


def test_interleave_measures_each_workloads_speed_and_their_ratio():
    clock = FakeClock()
    timings = interleave({"fast": clock.spend(0.5, work=100), "slow": clock.spend(2.0, work=100)},
                         rounds=6, warmup=2, clock=clock)
    assert timings.speeds["fast"] == [200.0] * 6  # warm-up rounds are not counted
    assert timings.median_speed("slow") == 50.0
    assert timings.ratio("fast", "slow") == (4.0, 4.0, 4.0)
    assert timings.ratio_line("fast", "slow") == "fast / slow 4.00 (4.00–4.00, 6 rounds)"


def test_interleave_alternates_which_workload_goes_first():
    order, clock = [], FakeClock()

    def workload(name: str):
        def run() -> float:
            order.append(name)
            return clock.spend(1.0)()
        return run

    interleave({"a": workload("a"), "b": workload("b")}, rounds=3, warmup=1, clock=clock)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert [rotated(["a", "b", "c"], i) for i in range(3)] == [["a", "b", "c"], ["b", "c", "a"],
                                                               ["c", "a", "b"]]


def test_ratio_spread_is_the_middle_half_of_the_rounds():
    assert median_and_quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, 2.0, 4.0)
    assert median_and_quartiles([1.5]) == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match="rounds"):
        interleave({"a": lambda: 1.0}, rounds=0)


# --- the references the training benchmark measures against ----------------------------------------------


def tiny_config(arch: str, **overrides) -> ModelConfig:
    settings = dict(arch=arch, vocab_size=23, d_model=16, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
                    d_ff=32, dropout=0.0, max_len=12, pad_id=PAD)
    return ModelConfig(**{**settings, **overrides})


@pytest.mark.parametrize("arch", ["gru", "lstm"])
@pytest.mark.parametrize("layers", [(2, 2), (1, 3)])
def test_recurrent_reference_computes_our_function(arch, layers):
    """Written on nn.GRU/nn.LSTM and run over every row, the reference holding our weights gives our logits:
    the benchmark compares two ways of doing the same work."""
    torch.manual_seed(0)
    config = tiny_config(arch, n_encoder_layers=layers[0], n_decoder_layers=layers[1])
    ours, reference = build_model(config).eval(), ReferenceRecurrent(config).eval()
    reference.load_ours(ours)
    assert num_parameters(reference) == num_parameters(ours)
    src, tgt = batch_of_sources(), targets()
    real = tgt != PAD
    with torch.no_grad():
        expected = ours(src, tgt, None, real)  # (real tokens, vocab)
        got = reference(src, tgt, None, real)
        shared = reference(src[:1], tgt, torch.tensor([0, 0]), real)  # both targets read the first source
    assert got.shape == (int(real.sum()), 23)
    assert (got - expected).abs().max() < 1e-5
    assert (shared - ours(src[:1], tgt, torch.tensor([0, 0]), real)).abs().max() < 1e-5


def test_transformer_reference_has_our_size_and_shapes():
    config = tiny_config("transformer")
    reference = ReferenceTransformer(config)
    assert num_parameters(reference) == num_parameters(build_model(config))
    real = targets() != PAD
    assert reference(batch_of_sources(), targets()).shape == (2, 6, 23)  # every position, padding included
    assert reference(batch_of_sources(), targets(), None, real).shape == (int(real.sum()), 23)


# --- the decoding benchmark's uncached way ----------------------------------------------------------------


@pytest.mark.parametrize("arch", ["transformer", "gru"])
def test_recomputing_the_prefix_samples_what_the_cache_samples(arch):
    """Without a cache the decoder runs over the whole prefix at each step; the same seed must then give
    the very same samples, or the benchmark would compare two different computations."""
    torch.manual_seed(0)
    model = build_model(tiny_config(arch, vocab_size=Tiny.vocab_size, pad_id=Tiny.pad_id)).eval()
    memory = model.encode(batch_of_sources(), batch_of_sources() != PAD)
    rows = torch.arange(2).repeat_interleave(5)  # each source 5 times

    def samples(stepper) -> list:
        pick = sampling_pick(1.0, 0, 1.0, torch.Generator().manual_seed(3))
        return generate(stepper, select_batch(memory, rows), Tiny, 8, pick)

    cached = samples(model)
    assert samples(Recomputing(model)) == cached
    assert any(ids is not None for ids in cached) and len(set(map(str, cached))) > 1  # real, varied samples


class Tiny:
    """The ids `generate` needs, for a model fed raw ids (23 of them)."""

    vocab_size, pad_id, bos_id, eos_id, unk_id = 23, PAD, 1, 2, 3


# --- bench/gpu.sh, as far as a CPU can run it -------------------------------------------------------------

GPU_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu.sh"


def run_gpu_script(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(GPU_SCRIPT), *args], capture_output=True, text=True, env=environment,
                          timeout=300)


def test_gpu_script_dry_run_takes_every_step_on_the_cpu(tmp_path):
    """Throughput in two precisions with MFU, 2-process DDP (gloo standing in for NCCL), one short epoch."""
    done = run_gpu_script("--dry-run", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "throughput.json").read_text())
    assert [row["precision"] for row in rows] == ["fp32", "bf16"]
    for row in rows:
        assert row["parameters"] > 0 and row["mfu"] > 0
        assert set(row["tokens_per_s"]) == {"ours", "reference", "reference, real-token logits"}
        median, low, high = row["ratio"]
        assert low <= median <= high
    assert "2 processes" in (tmp_path / "ddp" / "train.log").read_text()
    for run in ("ddp", "epoch"):
        assert (tmp_path / run / "model.pt").is_file()
    assert "all steps done" in (tmp_path / "gpu.log").read_text()


def test_gpu_script_refuses_a_machine_without_a_gpu_and_unknown_options(tmp_path):
    no_gpu = run_gpu_script("--out", str(tmp_path), env={"CUDA_VISIBLE_DEVICES": ""})
    assert no_gpu.returncode == 2
    assert no_gpu.stderr.strip().splitlines() == [
        "bench/gpu.sh: no CUDA GPU is visible to torch; run it on a GPU machine, or pass --dry-run"]
    unknown = run_gpu_script("--fast")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown option '--fast'" in unknown.stderr
