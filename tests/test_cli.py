"""train.py and infer.py as a user runs them: real processes, real files, exit codes and messages."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import PAIRS, write_csv

ROOT = Path(__file__).resolve().parent.parent
TINY_TOML = ROOT / "configs" / "tiny.toml"


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    data = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    result = run("train.py", "--data", data, "--out", base / "run", "--config", TINY_TOML, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "done (finished): 3 epochs" in result.stdout and "sample distractors for validation words" in result.stdout
    return base


def test_infer_prints_n_distinct_answers_without_the_correct_one(model_dir):
    result = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "3", "--method", "sample", "--max-attempts", "100",
                 "--exclude", "貸す|返す", "--lexicon", "none", "--known-words", "none")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and len(set(lines)) == 3
    assert not set(lines) & {"借りる", "貸す", "返す"}


def test_infer_csv_in_and_out(model_dir):
    words = write_csv(model_dir / "words.csv", ["English"], [("dog",), ("river",)])
    out = model_dir / "out.csv"
    known = model_dir / "known.txt"
    known.write_text("\n".join(japanese for _, japanese, _ in PAIRS) + "\n", encoding="utf-8")
    result = run("infer.py", "--model", model_dir / "run", "--input", words, "--output", out, "--n", "2", "--method", "sample",
                 "--max-attempts", "100", "--lexicon", "none", "--known-words", known, "--temperature", "1.5",
                 "--top-k", "0", "--top-p", "1")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["English", "distractor_1", "distractor_2"]
    assert frame["English"].tolist() == ["dog", "river"]
    found = [[cell for cell in row if cell] for row in frame[["distractor_1", "distractor_2"]].values.tolist()]
    assert all(len(set(row)) == len(row) for row in found) and any(found)
    allowed = {japanese for _, japanese, _ in PAIRS} | {""}
    assert set(frame["distractor_1"]) | set(frame["distractor_2"]) <= allowed



def test_explain_prints_the_ranking_that_chose_the_answers(model_dir):
    result = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "2", "--explain")
    assert result.returncode == 0, result.stderr
    answers, _, table = result.stdout.partition("\n\n")
    assert table.startswith("borrow: ") and "what became of it" in table
    kept = [line.split()[1] for line in table.splitlines()[2:] if line.rstrip().endswith("kept")]
    assert kept == answers.splitlines()  # the table's kept rows are exactly the printed answers, in order

@pytest.mark.parametrize(
    "script, args, message",
    [
        ("train.py", ["--data", "no/such.csv", "--out", "{tmp}/x"], "no/such.csv: file not found"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--tgt-col", "Kana", "--out", "{tmp}/x"], "no column 'Kana'"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--config", "{tmp}/bad.toml", "--out", "{tmp}/x"], "unknown setting(s) d_modle"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--out", "{tmp}/run"], "already holds a trained model"),
        ("infer.py", ["--model", "{tmp}/nothing", "--word", "dog"], "no config.json"),
        ("infer.py", ["--model", "{tmp}/run"], "give at least one --word"),
        ("infer.py", ["--model", "{tmp}/run", "--word", "dog", "--temperature", "0"], "temperature must be > 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model_dir, script, args, message):
    (model_dir / "bad.toml").write_text("[model]\nd_modle = 3\n")
    result = run(script, *[arg.format(tmp=model_dir) for arg in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (model_dir / "x").exists()  # nothing half-written


def test_ctrl_c_saves_a_checkpoint_that_resume_finishes(tmp_path):
    """A real Ctrl-C (SIGINT) to a real training process: exit 130, a hint, and a resumable last.pt."""
    data = write_csv(tmp_path / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    out = tmp_path / "run"
    command = [sys.executable, str(ROOT / "train.py"), "--data", str(data), "--out", str(out), "--config",
               str(TINY_TOML), "--epochs", "100000", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    for line in process.stdout:  # wait until training is under way
        if line.startswith("epoch 2:"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"continue with: python train.py --resume {out}" in stderr and "Traceback" not in stderr
    stopped_epoch = torch.load(out / "last.pt", weights_only=True)["progress"]["epoch"]

    result = run("train.py", "--resume", out, "--epochs", stopped_epoch, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"done (finished): {stopped_epoch} epochs" in result.stdout
    assert pd.read_csv(out / "metrics.csv")["epoch"].tolist() == list(range(1, stopped_epoch + 1))


def test_resume_refuses_options_that_would_change_the_run(model_dir):
    result = run("train.py", "--resume", model_dir / "run", "--arch", "gru")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --resume continues the saved run; --arch cannot be given with it"
    result = run("train.py", "--resume", model_dir / "nothing")
    assert result.returncode == 2 and "no config.json" in result.stderr


@pytest.mark.parametrize("arch", ["gru", "transformer"])
def test_the_class_config_trains_and_infers_on_a_slice_of_the_class_corpus(tmp_path, arch):
    """configs/class.toml's commands, on 300 rows of data/class_verbs.csv.gz and one epoch instead of a minute."""
    rows = pd.read_csv(ROOT / "data" / "class_verbs.csv.gz", dtype=str, keep_default_na=False).head(300)
    data = tmp_path / "verbs.csv"
    rows.to_csv(data, index=False)
    result = run("train.py", "--data", data, "--config", ROOT / "configs" / "class.toml", "--arch", arch,
                 "--epochs", "1", "--time-budget-minutes", "0", "--out", tmp_path / "class", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"model: {arch}" in result.stdout and "done (finished): 1 epochs" in result.stdout
    result = run("infer.py", "--model", tmp_path / "class", "--word", "abandon", "--n", "3")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


def test_help_states_the_true_defaults():
    """Every '(default X)' that infer.py --help states for a decoding option is DecodeConfig's value."""
    import re

    import infer
    from seq2seq.config import DecodeConfig

    parser = infer.build_parser()
    checked = 0
    for action in parser._actions:
        field = action.dest
        stated = re.search(r"\(default (-?[\d.]+)", action.help or "")
        if stated and hasattr(DecodeConfig(), field):
            assert float(stated.group(1)) == float(getattr(DecodeConfig(), field)), action.option_strings
            checked += 1
    assert checked >= 10
