"""compare.py and seq2seq/compare.py: two tiny models trained on one split, put side by side."""
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import seq2seq.compare
from seq2seq.compare import ExactMatch, compare_folders, exact_match, markdown_table, write_comparison
from seq2seq.config import DecodeConfig, with_overrides
from seq2seq.data import load_pairs, pairs_to_csv, word_key
from seq2seq.decoding import distinct_outputs
from seq2seq.errors import UserError
from seq2seq.model_folder import load_model
from seq2seq.models import num_parameters
from seq2seq.pipeline import train_from_csv
from seq2seq.run_log import RunLog
from seq2seq.trainer import FitResult
from tests.conftest import PAIRS, tiny_config, write_csv

ROOT = Path(__file__).resolve().parent.parent
ARCHS = {"transformer": "transformer", "gru": "gru, additive attention"}  # folder → architecture as reported


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> tuple[Path, dict[str, FitResult]]:
    """runs/transformer and runs/gru, trained in translation mode on the same CSV, split and seed."""
    base = tmp_path_factory.mktemp("runs")
    rows = sorted({(english, correct) for english, _, correct in PAIRS})
    data = write_csv(base / "lexicon.csv", ["English", "Japanese"], rows)
    fits = {}
    for arch in ARCHS:
        config = with_overrides(tiny_config(), "model", arch=arch)
        fits[arch] = train_from_csv(config, data, base / arch, progress=False, log=RunLog(echo=False)).fit
    return base, fits


@pytest.fixture(scope="module")
def runs(training) -> Path:
    return training[0]


def copy_with_test_split(runs: Path, tmp_path: Path, change) -> Path:
    """A copy of the gru folder whose test.csv is `change(test pairs)`."""
    folder = shutil.copytree(runs / "gru", tmp_path / "gru_copy")
    test = change(load_pairs(folder / "test.csv"))
    (folder / "test.csv").write_text(pairs_to_csv(test), encoding="utf-8")
    return folder


def recomputed_exact_match(folder: Path) -> float:
    """Greedy hits on test.csv by another path: distinct_outputs, one word at a time, grouped with pandas."""
    trained = load_model(folder)
    test = pd.read_csv(folder / "test.csv", dtype=str, keep_default_na=False)
    targets = test.groupby(test["English"].map(word_key))["Japanese"].agg(set)
    words = [test["English"][test["English"].map(word_key) == key].iloc[0] for key in targets.index]
    decode = DecodeConfig(method="greedy", max_len=trained.config.decode.max_len)
    outputs = distinct_outputs(trained.model, trained.tokenizer, words, [set()] * len(words), 1, decode)
    return sum(bool(out) and out[0] in known for out, known in zip(outputs, targets)) / len(words)


def test_each_model_gets_its_arch_parameters_and_best_epoch(training):
    runs, fits = training
    reports, _ = compare_folders([runs / "transformer", runs / "gru"])
    table = markdown_table(reports)
    for report, (name, arch) in zip(reports, ARCHS.items()):
        parameters = num_parameters(load_model(runs / name).model)
        metrics = pd.read_csv(runs / name / "metrics.csv").set_index("epoch")
        fit = fits[name]  # the trainer's own account of its best epoch
        assert (report.arch, report.parameters, report.epochs, report.best_epoch) == (arch, parameters, 3,
                                                                                      fit.best_epoch)
        assert report.seconds_to_best == metrics.loc[fit.best_epoch, "elapsed_s"]
        assert report.valid_loss == pytest.approx(fit.valid_loss, abs=1e-4)  # metrics.csv rounds to 4 places
        assert report.tokens_per_s == pytest.approx(metrics["tokens_per_s"].mean())
        assert f"| `{name}` | {arch} | {parameters:,} |" in table
    assert reports[0].parameters != reports[1].parameters


def test_exact_match_is_the_greedy_hit_rate_on_the_test_words(runs):
    reports, test = compare_folders([runs / "transformer", runs / "gru"])
    for report, name in zip(reports, ARCHS):
        assert report.exact_match.words == test["source"].nunique()
        assert report.exact_match.rate == pytest.approx(recomputed_exact_match(runs / name))


def test_a_word_is_a_hit_when_the_output_is_any_of_its_targets(runs, monkeypatch):
    asked = []
    fake_greedy = {"dog": "犬", "river": "池", "sun": None}  # None: the output never ended

    def greedy_outputs(trained, words):
        asked.extend(words)
        return [fake_greedy[word] for word in words]

    monkeypatch.setattr(seq2seq.compare, "greedy_outputs", greedy_outputs)
    rows = [("dog", "猫"), ("Dog", "犬"), ("river", "川"), ("sun", "太陽")]
    test = pd.DataFrame({"source": [r[0] for r in rows], "target": [r[1] for r in rows],
                         "correct": [()] * len(rows)})
    assert exact_match(load_model(runs / "gru"), test) == ExactMatch(hits=1, words=3)
    assert asked == ["dog", "river", "sun"]  # one greedy output per word, whatever its spelling in other rows


def test_a_distractor_mode_model_has_no_exact_match(runs, tmp_path):
    distractors = copy_with_test_split(runs, tmp_path,
                                       lambda test: test.assign(correct=[("正解",)] * len(test)))
    reports, _ = compare_folders([runs / "transformer", distractors])
    assert reports[0].exact_match is not None and reports[1].exact_match is None
    assert "| n/a (distractor mode) |" in markdown_table(reports)


def test_folders_with_different_test_splits_are_refused(runs, tmp_path):
    other = copy_with_test_split(runs, tmp_path, lambda test: test.iloc[1:])
    with pytest.raises(UserError, match="test split differs"):
        compare_folders([runs / "transformer", other])


def test_writes_the_table_and_a_png_figure(runs, tmp_path):
    pytest.importorskip("matplotlib")
    comparison = write_comparison([runs / "transformer", runs / "gru"], tmp_path / "out", "Tiny",
                                  "python compare.py a b")
    text = comparison.table.read_text(encoding="utf-8")
    assert text.startswith("# Tiny\n") and "python compare.py a b" in text and "(valid_loss.png)" in text
    assert comparison.figure.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_without_matplotlib_the_table_is_still_written(runs, tmp_path, monkeypatch):
    for name in [name for name in sys.modules if name.startswith("matplotlib")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes the import fail
    comparison = write_comparison([runs / "transformer", runs / "gru"], tmp_path / "out", "Tiny",
                                  "python compare.py")
    assert comparison.figure is None and not (tmp_path / "out" / "valid_loss.png").exists()
    assert "| `gru` |" in comparison.table.read_text(encoding="utf-8")


def run_compare(*args):
    return subprocess.run([sys.executable, str(ROOT / "compare.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_cli_writes_the_comparison(runs, tmp_path):
    result = run_compare(runs / "transformer", runs / "gru", "--out", tmp_path / "cmp", "--title", "T vs G")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert (text.startswith("# T vs G\n") and "--title 'T vs G'" in text
            and "| `transformer` |" in result.stdout)


def test_cli_missing_folder_is_one_line_and_exit_2(runs, tmp_path):
    result = run_compare(runs / "transformer", tmp_path / "nothing", "--out", tmp_path / "cmp")
    assert result.returncode == 2
    assert "nothing: no such folder" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cmp").exists()
