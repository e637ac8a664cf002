"""train.py --sweep: a grid of runs, one folder each, a sorted table, and a restart that continues."""
import signal

import pandas as pd
import pytest
import torch

from seq2seq.errors import UserError
from seq2seq.run_log import RunLog
from seq2seq.sweep import load_sweep, run_sweep
from seq2seq.trainer import Trainer
from tests.conftest import ROOT

GRID = """
[sweep]
out = "{out}"
[sweep.grid]
"train.lr,train.warmup_steps" = [[0.003, 5], [0.0003, 1]]
[model]
d_model = 32
n_heads = 2
n_encoder_layers = 1
n_decoder_layers = 1
d_ff = 64
[tokenizer]
vocab_size = 400
[data]
valid_fraction = 0.1
test_fraction = 0.1
[train]
epochs = 3
batch_size = 8
samples_at_end = 0
metric = "valid_loss"  # the table is sorted by it, and each row is its epoch of lowest loss
"""


def sweep_file(tmp_path, out):
    path = tmp_path / "sweep.toml"
    path.write_text(GRID.format(out=out), encoding="utf-8")
    return path


def test_a_two_point_grid_trains_both_and_sorts_the_table(tmp_path, pairs_csv):
    plan = load_sweep(sweep_file(tmp_path, tmp_path / "runs"))
    assert [point.name for point in plan.points] == ["lr=0.003,warmup_steps=5", "lr=0.0003,warmup_steps=1"]
    table = run_sweep(plan, pairs_csv, progress=False, log=RunLog(echo=False))
    assert table["valid_loss"].is_monotonic_increasing and len(table) == 2
    for row in table.itertuples():
        metrics = pd.read_csv(tmp_path / "runs" / row.folder / "metrics.csv")
        assert row.valid_loss == metrics["valid_loss"].min() and row.epochs == 3
    assert (tmp_path / "runs" / "sweep.md").read_text(encoding="utf-8").startswith("| lr | warmup_steps |")


def test_a_stopped_sweep_continues_where_it_stopped(tmp_path, pairs_csv, monkeypatch, ctrl_c_heard):
    whole = run_sweep(load_sweep(sweep_file(tmp_path, tmp_path / "whole")), pairs_csv, progress=False,
                      log=RunLog(echo=False))
    plan = load_sweep(sweep_file(tmp_path, tmp_path / "parts"))
    original = Trainer.train_step

    def ctrl_c_in_the_second_run(self, batches):
        result = original(self, batches)
        if self.config.lr == 0.0003 and self.state.step == 4:
            signal.raise_signal(signal.SIGINT)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_step", ctrl_c_in_the_second_run)
        assert run_sweep(plan, pairs_csv, progress=False, log=RunLog(echo=False)).empty  # stopped
    first = tmp_path / "parts" / plan.points[0].name
    finished_weights = (first / "model.pt").read_bytes()
    table = run_sweep(plan, pairs_csv, progress=False, log=RunLog(echo=False))
    assert (first / "model.pt").read_bytes() == finished_weights  # the finished run was not trained again
    pd.testing.assert_frame_equal(table.drop(columns=["seconds", "tokens_per_s"]),
                                  whole.drop(columns=["seconds", "tokens_per_s"]))
    for point in plan.points:
        a, b = (torch.load(base / point.name / "model.pt", weights_only=True)
                for base in (tmp_path / "whole", tmp_path / "parts"))
        assert all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("grid, message", [
    ('[sweep]\nout = "x"\n', r"needs a \[sweep.grid\] table"),
    ('[sweep.grid]\n"lr" = [1]\n', "must name section.setting"),
    ('[sweep.grid]\n"train.lr" = []\n', "non-empty list"),
    ('[sweep.grid]\n"train.lr,train.epochs" = [[0.1]]\n', "must be a list of 2 values"),
    ('[sweep.grid]\n"train.learning_rate" = [0.1]\n', "unknown setting"),
    ('[sweep.grid]\n"train.epochs" = ["many"]\n', "'epochs' must be int"),
])
def test_bad_sweep_files_are_refused_in_one_line(tmp_path, grid, message):
    path = tmp_path / "sweep.toml"
    path.write_text(grid, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_sweep(path)


def test_a_folder_of_other_settings_is_not_resumed_as_a_sweep_point(tmp_path, pairs_csv):
    plan = load_sweep(sweep_file(tmp_path, tmp_path / "runs"))
    run_sweep(plan, pairs_csv, progress=False, log=RunLog(echo=False))
    changed = GRID.format(out=tmp_path / "runs").replace("epochs = 3", "epochs = 4")
    (tmp_path / "sweep.toml").write_text(changed, encoding="utf-8")
    with pytest.raises(UserError, match="holds a run with other settings"):
        run_sweep(load_sweep(tmp_path / "sweep.toml"), pairs_csv, progress=False, log=RunLog(echo=False))


def test_the_committed_sweeps_load():
    plan = load_sweep(ROOT / "sweep.toml")  # GRU widths around the default run
    assert [(p.config.model.d_model, p.config.train.epochs) for p in plan.points] == [(192, 5), (192, 6),
                                                                                      (320, 3)]
    assert {(p.config.model.arch, p.config.data.src_template) for p in plan.points} == {("gru", "auto")}
    plan = load_sweep(ROOT / "configs" / "sweep-transformer-size.toml")
    assert [point.config.model.d_model for point in plan.points] == [128, 192, 256]
    assert {(p.config.model.arch, p.config.data.src_template) for p in plan.points} == {("transformer", "")}
