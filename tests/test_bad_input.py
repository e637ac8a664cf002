"""Untrusted input: a model folder from anywhere, and infer.py's decoding options.

A damaged or foreign file of a model folder stops loading with one line that names the file and says what
to do (exit code 2 on the command line), never a traceback; and loading one never runs code, whatever
model.pt or last.pt hold. Every broken folder is a copy of one tiny model, trained once for this module.
"""
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import infer
import seq2seq
import train
from seq2seq.cli import run_main
from seq2seq.errors import UserError
from seq2seq.model_folder import load_model
from seq2seq.pipeline import train_from_csv
from seq2seq.run_log import RunLog
from tests.conftest import PAIRS, ROOT, tiny_config, write_csv
from tokenizer import train_tokenizer

FAST_LISTS = ["--lexicon", "none", "--known-words", "none", "--candidates", "none"]  # no bundled JMdict lists


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("bad_input")
    data = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    train_from_csv(tiny_config(epochs=1), data, base / "run", progress=False, log=RunLog(echo=False))
    return base / "run"


@pytest.fixture
def folder(good_folder, tmp_path) -> Path:
    """A copy of the good folder, for one test to break."""
    return Path(shutil.copytree(good_folder, tmp_path / "model"))


def infer_error(capsys, folder: Path, *options: str) -> str:
    """infer.py run as on the command line (run_main is what its __main__ calls), which must stop with exit
    code 2 and one line on stderr: that line."""
    code = run_main(infer.main, ["--model", str(folder), "--word", "borrow", *FAST_LISTS, *options])
    stderr = capsys.readouterr().err
    assert code == 2 and len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stderr
    return stderr


def edit_config(folder: Path, change) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    change(config)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def other_vocabulary(folder: Path) -> None:
    """A SentencePiece model of another size (trained on two words only) in place of the folder's."""
    tokenizer = train_tokenizer(["borrow", "借りる"], 400)
    tokenizer.save(folder / "spm.model")


# (what breaks the folder, what the one line must say: the file, what is wrong and what to do)
BROKEN = {
    "no config.json": (lambda f: (f / "config.json").unlink(), r"model: no config.json; pass a folder written by train.py"),
    "no model.pt": (lambda f: (f / "model.pt").unlink(), r"model: no model.pt; pass a folder written by train.py"),
    "no spm.model": (lambda f: (f / "spm.model").unlink(), r"model: no spm.model; pass a folder written by train.py"),
    "config.json not JSON": (lambda f: (f / "config.json").write_text('{"model": {"arch": '),
                             r"config.json: not valid JSON \(.*\); config.json is written by train.py: undo any edit"),
    "config.json a list": (lambda f: (f / "config.json").write_text("[1, 2]"),
                           r"config.json: must hold a JSON object \{...\}, not list; .*train the model again"),
    "unknown key": (lambda f: edit_config(f, lambda c: c["model"].update(colour="blue")),
                    r"config.json \[model\]: unknown setting\(s\) colour; known: .*; config.json is written by train.py"),
    "section not a table": (lambda f: edit_config(f, lambda c: c.update(train=3)),
                            r"config.json: \[train\] must be a table of settings, got 3; .*train the model again"),
    "newer format": (lambda f: edit_config(f, lambda c: c.update(format=2)),
                     r"config.json: written by a newer version of seq2seq-ja \(folder format 2; this version reads "
                     r"format 1\); update seq2seq-ja to load it"),
    "format not a number": (lambda f: edit_config(f, lambda c: c.update(format="one")),
                            r"config.json: 'format' must be a whole number from 1, got 'one'; .*train the model again"),
    "model.pt cut short": (lambda f: cut_in_half(f / "model.pt"),
                           r"model.pt: damaged \(cut short\?\) or not written by torch.save; use the model.pt that "
                           r"train.py wrote, or train the model again"),
    "model.pt of another model": (lambda f: torch.save({"weight": torch.ones(2)}, f / "model.pt"),
                                  r"model.pt: these weights do not fit the model config.json describes"),
    "spm.model of another size": (other_vocabulary,
                                  r"spm.model: \d+ pieces, but config.json says the model has \d+; put back the "
                                  r"spm.model trained with this model"),
    "spm.model damaged": (lambda f: (f / "spm.model").write_bytes(b"not a model"),
                          r"spm.model: damaged, or not a SentencePiece model; put back the one trained with the model"),
    "answers.json not JSON": (lambda f: (f / "answers.json").write_text("{"),
                              r"answers.json: not valid JSON \(.*\); it is written by train.py"),
    "answers.json of other shape": (lambda f: (f / "answers.json").write_text('{"borrow": "借りる"}', encoding="utf-8"),
                                    r"answers.json: each word must map to a list of answers, as train.py writes it"),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_model_folder_stops_with_one_line_naming_the_file(case, folder, capsys):
    breaks, message = case
    breaks(folder)
    with pytest.raises(UserError, match=message):
        load_model(folder)
    with pytest.raises(UserError, match=message):
        seq2seq.load_model(folder, lexicon="none", known_words="none", candidates="none")  # the Python API
    assert str(folder) in infer_error(capsys, folder)


class CreatesAFile:
    """Unpickling this object creates a file, harmlessly: what a malicious model.pt could do, and worse."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return Path.touch, (self.target,)


def malicious(path: Path, target: Path, writer: str) -> None:
    """Write to `path` a pickle that, unpickled, creates `target`, with plain pickle or with torch.save."""
    with open(path, "wb") as handle:
        if writer == "pickle.dump":
            pickle.dump(CreatesAFile(target), handle)
        else:
            torch.save({"model": CreatesAFile(target)}, handle, pickle_protocol=4)


@pytest.mark.parametrize("writer", ["pickle.dump", "torch.save"])
def test_the_malicious_payload_would_run_if_unpickled(tmp_path, writer):
    """The test below means something: loaded without weights_only, this file runs its code."""
    malicious(tmp_path / "evil.pt", tmp_path / "proof", writer)
    if writer == "pickle.dump":
        pickle.loads((tmp_path / "evil.pt").read_bytes())
    else:
        torch.load(tmp_path / "evil.pt", weights_only=False)
    assert (tmp_path / "proof").exists()


@pytest.mark.parametrize("writer", ["pickle.dump", "torch.save"])
def test_a_malicious_model_pt_is_refused_and_never_run(folder, tmp_path, writer, capsys):
    target = tmp_path / "created-by-model.pt"
    malicious(folder / "model.pt", target, writer)
    message = infer_error(capsys, folder)
    expected = "damaged (cut short?) or not written by torch.save" if writer == "pickle.dump" else \
        "refused: it holds Python objects besides tensors, and loading them could run code"
    assert f"{folder / 'model.pt'}: {expected}" in message
    with pytest.raises(UserError, match="model.pt"):
        load_model(folder)
    assert not target.exists()


@pytest.mark.parametrize("writer", ["pickle.dump", "torch.save"])
def test_a_malicious_last_pt_is_refused_by_resume_and_never_run(folder, tmp_path, writer, capsys):
    target = tmp_path / "created-by-last.pt"
    malicious(folder / "last.pt", target, writer)
    code = run_main(train.main, ["--resume", str(folder), "--no-progress"])
    stderr = capsys.readouterr().err
    assert code == 2 and len(stderr.splitlines()) == 1, stderr
    assert f"{folder / 'last.pt'}: " in stderr and stderr.rstrip().endswith("start again without --resume")
    assert not target.exists()


def test_the_real_command_line_prints_one_line_for_a_malicious_model_pt(folder, tmp_path):
    """As a user runs it: nothing else on stderr (no warning from torch), exit code 2, no file created."""
    target = tmp_path / "created"
    malicious(folder / "model.pt", target, "torch.save")
    result = subprocess.run([sys.executable, str(ROOT / "infer.py"), "--model", str(folder), "--word", "borrow",
                             *FAST_LISTS], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {folder / 'model.pt'}: refused: it holds Python objects besides "
                                          "tensors, and loading them could run code; use the model.pt that train.py "
                                          "wrote, or train the model again"]
    assert not target.exists()


def test_a_new_folder_records_its_format_and_one_without_it_is_format_1(good_folder, folder):
    assert json.loads((good_folder / "config.json").read_text(encoding="utf-8"))["format"] == 1
    edit_config(folder, lambda config: config.pop("format"))  # as folders saved before the number existed
    assert load_model(folder).config == load_model(good_folder).config


# infer.py's decoding options: (option, a value it refuses, what the one line says)
BAD_OPTIONS = [
    ("--n", "0", "--n must be at least 1 (got 0)"),
    ("--top-k", "-1", "--top-k must be at least 0 (got -1); 0 means no limit"),
    ("--top-p", "1.5", "--top-p must lie in (0, 1] (got 1.5); 1 means no limit"),
    ("--top-p", "0", "--top-p must lie in (0, 1] (got 0.0)"),
    ("--temperature", "0", "--temperature must be > 0 (got 0.0); use --method greedy for the most likely output"),
    ("--temperature", "-0.5", "--temperature must be > 0 (got -0.5); use --method greedy"),
    ("--beam-size", "0", "--beam-size must be at least 1 (got 0)"),
    ("--max-attempts", "0", "--max-attempts must be at least 1 (got 0)"),
    ("--rank-samples", "0", "--rank-samples must be at least 1 (got 0)"),
]


@pytest.mark.parametrize("option, value, message", BAD_OPTIONS, ids=[f"{o} {v}" for o, v, _ in BAD_OPTIONS])
def test_a_bad_decoding_option_is_one_line_naming_it(good_folder, capsys, option, value, message):
    assert message in infer_error(capsys, good_folder, option, value)


def test_the_python_api_checks_the_same_settings(good_folder):
    model = seq2seq.load_model(good_folder, lexicon="none", known_words="none", candidates="none")
    with pytest.raises(UserError, match="--top-k must be at least 0"):
        model.distractors("borrow", top_k=-1)
    with pytest.raises(UserError, match="--beam-size must be at least 1"):
        model.distractors("borrow", method="sample", beam_size=0)  # checked whatever the method
