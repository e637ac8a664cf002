"""Exact resume: a run stopped (Ctrl-C) and resumed ends with the same weights as one never stopped."""
import os
import signal
from dataclasses import replace

import pandas as pd
import pytest
import torch

import seq2seq.model_folder
from seq2seq.checkpoint import load_checkpoint, save_checkpoint
from seq2seq.config import with_overrides
from seq2seq.errors import UserError
from seq2seq.pipeline import resume_training, train_from_csv
from seq2seq.run_log import RunLog
from seq2seq.trainer import Trainer, forget_metrics_after
from tests.conftest import tiny_config

QUIET = dict(progress=False)
# Settings that change what a step computes: dropout (random numbers), accumulation, token batches.
SETTINGS = {
    "sentence batches, dropout": dict(model=dict(dropout=0.1), train=dict(epochs=3)),
    "token batches, accum 2, cosine": dict(model=dict(dropout=0.1),
                                           train=dict(epochs=3, max_tokens=40, accum=2, schedule="cosine")),
}


def config_for(settings: dict):
    config = tiny_config(**settings["train"])
    return replace(config, model=replace(config.model, **settings["model"]))


def weights(folder, name="model.pt"):
    state = torch.load(folder / name, weights_only=True)
    return state["model"] if name == "last.pt" else state


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def ctrl_c_at_step(monkeypatch, step: int):
    """Press Ctrl-C (a real SIGINT to this process) while step `step` is being taken."""
    original = Trainer.train_step

    def step_then_maybe_interrupt(self, batches):
        result = original(self, batches)
        if self.state.step == step:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "train_step", step_then_maybe_interrupt)


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
def test_interrupted_and_resumed_run_equals_uninterrupted(settings, pairs_csv, tmp_path, monkeypatch,
                                                          ctrl_c_heard):
    config = config_for(settings)
    whole = train_from_csv(config, pairs_csv, tmp_path / "whole", log=RunLog(echo=False), **QUIET)
    steps = whole.fit.step
    assert whole.fit.status == "finished" and steps >= 6

    with monkeypatch.context() as patch:
        ctrl_c_at_step(patch, steps // 2 - 1)  # mid-epoch, not at an epoch's end
        stopped = train_from_csv(config, pairs_csv, tmp_path / "parts", log=RunLog(echo=False), **QUIET)
    assert stopped.fit.status == "interrupted" and stopped.fit.step == steps // 2 - 1
    resumed = resume_training(tmp_path / "parts", {}, log=RunLog(echo=False), **QUIET)

    assert resumed.fit.step == steps and resumed.fit.status == "finished"
    assert_same_weights(weights(tmp_path / "whole", "last.pt"), weights(tmp_path / "parts", "last.pt"))
    assert_same_weights(weights(tmp_path / "whole"), weights(tmp_path / "parts"))
    timing = ["tokens_per_s", "elapsed_s"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / "metrics.csv").drop(columns=timing),
                                  pd.read_csv(tmp_path / "parts" / "metrics.csv").drop(columns=timing))
    assert "resuming" in (tmp_path / "parts" / "train.log").read_text(encoding="utf-8")


def handler_of_the_caller(signum, frame):
    """Stands for whatever SIGINT handler the program that trains was using."""
    raise KeyboardInterrupt


@pytest.mark.parametrize("found, status", [(handler_of_the_caller, "interrupted"),
                                           (signal.SIG_IGN, "finished")],
                         ids=["a handler", "ignored"])
def test_training_puts_back_the_sigint_handler_it_found_and_stays_deaf_if_sigint_was_ignored(
        found, status, pairs_csv, tmp_path, monkeypatch, ctrl_c_heard):
    signal.signal(signal.SIGINT, found)  # ctrl_c_heard puts back the test's own handler afterwards
    with monkeypatch.context() as patch:
        ctrl_c_at_step(patch, 1)
        run = train_from_csv(tiny_config(epochs=2), pairs_csv, tmp_path / "run", log=RunLog(echo=False),
                             **QUIET)
    assert run.fit.status == status  # started under nohup or `&` (SIGINT ignored), Ctrl-C does not stop it
    assert signal.getsignal(signal.SIGINT) is found


def test_a_run_stopped_by_its_time_budget_resumes_exactly(pairs_csv, tmp_path, monkeypatch):
    config = config_for(SETTINGS["sentence batches, dropout"])
    whole = train_from_csv(config, pairs_csv, tmp_path / "whole", log=RunLog(echo=False), **QUIET)
    stop_at = whole.fit.step // 2 - 1  # mid-epoch
    with monkeypatch.context() as patch:  # the budget runs out at that step, whatever the clock says
        patch.setattr(Trainer, "out_of_time", lambda self: self.state.step >= stop_at)
        stopped = train_from_csv(with_overrides(config, "train", time_budget_minutes=10.0), pairs_csv,
                                 tmp_path / "parts", log=RunLog(echo=False), **QUIET)
    assert (stopped.fit.status, stopped.fit.step) == ("time budget", stop_at)
    log = (tmp_path / "parts" / "train.log").read_text(encoding="utf-8")
    assert "so far" in log and "time budget" in log  # it validated the part-epoch before stopping
    resumed = resume_training(tmp_path / "parts", {"time_budget_minutes": 0.0}, log=RunLog(echo=False),
                              **QUIET)
    assert (resumed.fit.status, resumed.fit.step) == ("finished", whole.fit.step)
    assert_same_weights(weights(tmp_path / "whole", "last.pt"), weights(tmp_path / "parts", "last.pt"))
    timing = ["tokens_per_s", "elapsed_s"]  # the part-epoch's row was dropped and the whole epoch's written
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / "metrics.csv").drop(columns=timing),
                                  pd.read_csv(tmp_path / "parts" / "metrics.csv").drop(columns=timing))


def test_more_epochs_after_a_finished_run_equal_one_longer_run(pairs_csv, tmp_path):
    config = config_for(SETTINGS["sentence batches, dropout"])
    train_from_csv(with_overrides(config, "train", epochs=2), pairs_csv, tmp_path / "short",
                   log=RunLog(echo=False), **QUIET)
    resumed = resume_training(tmp_path / "short", {"epochs": 3}, log=RunLog(echo=False), **QUIET)
    train_from_csv(config, pairs_csv, tmp_path / "long", log=RunLog(echo=False), **QUIET)
    assert resumed.fit.epochs == 3
    assert_same_weights(weights(tmp_path / "short", "last.pt"), weights(tmp_path / "long", "last.pt"))


@pytest.fixture
def finished_run(pairs_csv, tmp_path):
    train_from_csv(tiny_config(epochs=1), pairs_csv, tmp_path / "run", log=RunLog(echo=False), **QUIET)
    return tmp_path / "run"


def test_resume_refuses_settings_that_change_the_computation(finished_run):
    with pytest.raises(UserError, match=r"training setting\(s\) lr cannot change"):
        resume_training(finished_run, {"lr": 0.1}, log=RunLog(echo=False), **QUIET)


def test_resume_refuses_changed_data(finished_run, pairs_csv):
    with open(pairs_csv, "a", encoding="utf-8") as handle:
        handle.write("tiger,猫,虎\n")
    with pytest.raises(UserError, match="has changed since training began"):
        resume_training(finished_run, {"epochs": 2}, log=RunLog(echo=False), **QUIET)


def test_resume_without_a_checkpoint_says_so(finished_run):
    (finished_run / "last.pt").unlink()
    with pytest.raises(UserError, match="last.pt: no checkpoint to resume from"):
        resume_training(finished_run, {}, log=RunLog(echo=False), **QUIET)


def checkpoint_at(step: int, weight: float) -> dict:
    """A stand-in for what the trainer saves: the parts load_checkpoint looks for."""
    return {"model": {"weight": torch.full((3,), weight)}, "optimizer": {}, "progress": {"step": step}}


def test_a_crash_during_a_save_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, checkpoint_at(1, 1.0))

    def crash(fd):
        raise OSError("disk pulled out")

    monkeypatch.setattr(seq2seq.model_folder.os, "fsync", crash)  # the new bytes are written, not yet renamed
    with pytest.raises(OSError, match="disk pulled out"):
        save_checkpoint(path, checkpoint_at(2, 0.0))
    monkeypatch.undo()
    old = load_checkpoint(path)
    assert old["progress"]["step"] == 1 and torch.equal(old["model"]["weight"], torch.ones(3))


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"weights": torch.ones(1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"last.pt: damaged \(cut short\?\).*; start again without --resume"):
        load_checkpoint(path)


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"weights": torch.ones(3)})  # tensors, but not what train.py saves
    with pytest.raises(UserError, match="last.pt: not a checkpoint written by train.py"):
        load_checkpoint(path)


def test_metrics_rows_past_the_checkpoint_are_forgotten(tmp_path):
    path = tmp_path / "metrics.csv"
    pd.DataFrame({"epoch": [1, 2, 3], "valid_loss": [3.0, 2.0, 1.0]}).to_csv(path, index=False)
    forget_metrics_after(path, 3)  # the checkpoint is at the start of epoch 3: its row comes again
    assert pd.read_csv(path)["epoch"].tolist() == [1, 2]
    assert not os.path.exists(str(path) + ".tmp")
