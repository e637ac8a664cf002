"""Shared fixtures: a tiny real corpus and a tiny model configuration, so every test runs in seconds."""
from __future__ import annotations

import csv
import signal
from pathlib import Path

import pytest
import torch

from seq2seq.config import Config, load_toml, with_overrides

ROOT = Path(__file__).resolve().parent.parent

# (English, a near-miss distractor, the correct Japanese): small, real, hand-checked.
PAIRS = [
    ("borrow", "貸す", "借りる"), ("borrow", "返す", "借りる"), ("lend", "借りる", "貸す"), ("dog", "猫", "犬"),
    ("dog", "狼", "犬"), ("cat", "犬", "猫"), ("river", "池", "川"), ("river", "湖", "川"), ("lake", "川", "湖"),
    ("bridge", "箸", "橋"), ("bridge", "端", "橋"), ("mountain", "山脈", "山"), ("tree", "木材", "木"),
    ("happy", "悲しい", "嬉しい"), ("sad", "嬉しい", "悲しい"), ("big", "小さい", "大きい"), ("small", "大きい", "小さい"),
    ("red", "青", "赤"), ("blue", "赤", "青"), ("eat", "飲む", "食べる"), ("drink", "食べる", "飲む"),
    ("run", "歩く", "走る"), ("walk", "走る", "歩く"), ("book", "本棚", "本"), ("water", "お湯", "水"),
    ("fire", "火事", "火"), ("sun", "月", "太陽"), ("moon", "太陽", "月"), ("doctor", "看護師", "医者"),
    ("teacher", "生徒", "先生"),
]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests are small; one thread avoids oversubscribing the 2 CI cores and keeps timings stable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_mha_fastpath():
    """Compare with PyTorch's plain path: its fused inference path is another implementation, taken
    under conditions that change between releases (and it refuses some inputs, see PERF-NOTES)."""
    mha = getattr(torch.backends, "mha", None)  # the switch exists from torch 2.3 on
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    yield
    mha.set_fastpath_enabled(before)


@pytest.fixture
def ctrl_c_heard():
    """Python's own SIGINT handler for the test, and the one found put back after. A test that presses Ctrl-C
    needs it: started with SIGINT ignored (`nohup`, a script's `&`, some CI runners), training rightly
    stays deaf to Ctrl-C, and so does a process the test starts (an ignored signal stays ignored across
    exec)."""
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def pairs_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)


@pytest.fixture
def translation_csv(tmp_path: Path) -> Path:
    """English → correct Japanese, one row per word: translation mode."""
    rows = sorted({(english, correct) for english, _, correct in PAIRS})
    return write_csv(tmp_path / "lexicon.csv", ["English", "Japanese"], rows)


def tiny_config(**train) -> Config:
    """configs/tiny.toml, with some training settings replaced."""
    return with_overrides(load_toml(ROOT / "configs" / "tiny.toml"), "train", **train)
