"""python -m seq2seq.figures: the figures of docs/LEARN.md that need no model, and a clean skip without
matplotlib. (The attention maps it draws from model folders are infer.py's, tested in
test_attention_maps.py.)"""
import sys

from seq2seq import figures
from seq2seq.cli import run_main

MODEL_FREE = ["positions.png", "schedules.png", "masks.png"]


def test_the_model_free_figures_are_written(tmp_path, capsys):
    assert run_main(figures.main, ["--out", str(tmp_path / "figures")]) == 0
    for name in MODEL_FREE:
        assert (tmp_path / "figures" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / 'figures' / name}"
                                                    for name in MODEL_FREE]


def test_without_matplotlib_nothing_is_written_and_one_line_says_why(tmp_path, capsys, monkeypatch):
    for name in [name for name in sys.modules if name.startswith("matplotlib")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes the import fail
    assert run_main(figures.main, ["--out", str(tmp_path)]) == 0  # a skip, as --help says
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("skipped: ") and "pip install matplotlib" in err
    assert list(tmp_path.iterdir()) == []


def test_the_learning_rates_are_the_schedules_own():
    """Warm-up to the peak, then each shape; plateau halves after the epoch the run stops improving."""
    peak = figures.TrainConfig().lr
    rates = {schedule: figures.learning_rates(schedule) for schedule in figures.SCHEDULES}
    for schedule, rate in rates.items():
        assert rate[figures.WARMUP - 1] == peak, schedule  # the last warm-up step reaches the peak
    assert rates["constant"][-1] == peak and rates["cosine"][-1] < 1e-3 * peak
    stall = figures.EPOCH_STEPS * (figures.PLATEAU_BEST_EPOCH + 1)  # the first validation without improvement
    assert rates["plateau"][stall - 1] == peak and rates["plateau"][stall] == peak / 2
