"""Untrusted input: a model folder from anywhere, infer.py's decoding options, the user's CSV of pairs,
train.py's options, the places the scripts write, and a run to resume.

A damaged or foreign file of a model folder stops loading with one line that names the file and says what
to do (exit code 2 on the command line), never a traceback; and loading one never runs code, whatever
model.pt or last.pt hold. Every broken folder is a copy of one tiny model, trained once for this module.
A bad CSV or option stops just so, before anything is written.
"""
import json
import pickle
import random
import re
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
from seq2seq.data import DataError, load_pairs
from seq2seq.errors import UserError
from seq2seq.model_folder import load_model
from seq2seq.pipeline import read_and_split, train_from_csv
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
    "no config.json": (lambda f: (f / "config.json").unlink(),
                       r"model: no config.json; pass a folder written by train.py"),
    "no model.pt": (lambda f: (f / "model.pt").unlink(),
                    r"model: no model.pt; pass a folder written by train.py"),
    "no spm.model": (lambda f: (f / "spm.model").unlink(),
                     r"model: no spm.model; pass a folder written by train.py"),
    "config.json not JSON": (lambda f: (f / "config.json").write_text('{"model": {"arch": '),
                             r"config.json: not valid JSON \(.*\); config.json is written by train.py: "
                             r"undo any edit"),
    "config.json a list": (lambda f: (f / "config.json").write_text("[1, 2]"),
                           r"config.json: must hold a JSON object \{...\}, not list; "
                           r".*train the model again"),
    "unknown key": (lambda f: edit_config(f, lambda c: c["model"].update(colour="blue")),
                    r"config.json \[model\]: unknown setting\(s\) colour; known: .*; "
                    r"config.json is written by train.py"),
    "section not a table": (lambda f: edit_config(f, lambda c: c.update(train=3)),
                            r"config.json: \[train\] must be a table of settings, got 3; "
                            r".*train the model again"),
    "newer format": (lambda f: edit_config(f, lambda c: c.update(format=2)),
                     r"config.json: written by a newer version of seq2seq-ja \(folder format 2; "
                     r"this version reads format 1\); update seq2seq-ja to load it"),
    "format not a number": (lambda f: edit_config(f, lambda c: c.update(format="one")),
                            r"config.json: 'format' must be a whole number from 1, got 'one'; "
                            r".*train the model again"),
    "model.pt cut short": (lambda f: cut_in_half(f / "model.pt"),
                           r"model.pt: damaged \(cut short\?\) or not written by torch.save; "
                           r"use the model.pt that train.py wrote, or train the model again"),
    "model.pt of another model": (lambda f: torch.save({"weight": torch.ones(2)}, f / "model.pt"),
                                  r"model.pt: these weights do not fit the model config.json describes"),
    "spm.model of another size": (other_vocabulary,
                                  r"spm.model: \d+ pieces, but config.json says the model has \d+; "
                                  r"put back the spm.model trained with this model"),
    "spm.model damaged": (lambda f: (f / "spm.model").write_bytes(b"not a model"),
                          r"spm.model: damaged, or not a SentencePiece model; "
                          r"put back the one trained with the model"),
    "answers.json not JSON": (lambda f: (f / "answers.json").write_text("{"),
                              r"answers.json: not valid JSON \(.*\); it is written by train.py"),
    "answers.json of other shape": (lambda f: (f / "answers.json").write_text('{"borrow": "借りる"}',
                                                                              encoding="utf-8"),
                                    r"answers.json: each word must map to a list of answers, "
                                    r"as train.py writes it"),
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
    result = subprocess.run([sys.executable, str(ROOT / "infer.py"), "--model", str(folder),
                             "--word", "borrow", *FAST_LISTS],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {folder / 'model.pt'}: refused: it holds Python objects "
                                          "besides tensors, and loading them could run code; "
                                          "use the model.pt that train.py wrote, or train the model again"]
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
    ("--temperature", "0",
     "--temperature must be > 0 and finite (got 0.0); use --method greedy for the most likely output"),
    ("--temperature", "-0.5", "--temperature must be > 0 and finite (got -0.5); use --method greedy"),
    ("--temperature", "inf", "--temperature must be > 0 and finite (got inf)"),
    ("--length-penalty", "nan", "--length-penalty must be a number (got nan)"),
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
    with pytest.raises(UserError, match=r"--output-precision must be auto, fp32 or bf16 \(got 'fp16'\)"):
        model.distractors("borrow", output_precision="fp16")  # infer.py's choices refuse it before


# --- the CSV of pairs --------------------------------------------------------------------------------------

FOLDER = object()  # in a case below: a folder where the CSV should be


def place(path: Path, content) -> Path:
    """Put `content` at `path`: text (as UTF-8), bytes, a folder (FOLDER), or nothing (None)."""
    if content is FOLDER:
        path.mkdir()
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    return path


# (file name, what it holds, what the one line says after the file's name)
BAD_CSVS = {
    "no such file": ("pairs.csv", None, r": file not found; pass an existing file with --data"),
    "a folder": ("pairs.csv", FOLDER, r": is a folder; pass the file itself with --data"),
    "an Excel workbook": ("pairs.xlsx", b"PK\x03\x04",
                          r": a spreadsheet, not a CSV file; save it as 'CSV UTF-8'"),
    "a damaged .gz": ("pairs.csv.gz", b"\x1f\x8b\x08\x00cut", r": damaged .gz file \(cut short\?\)"),
    "0 bytes": ("pairs.csv", b"", r": file is empty; it needs a header row and at least one row"),
    "a header only": ("pairs.csv", "English,Japanese\n",
                      r": no rows under the header; add at least one pair"),
    "a misspelt column": ("pairs.csv", "Englsh,Japanese\ndog,犬\n",
                          r": no column 'English' \(columns: 'Englsh', "
                          r"'Japanese'\); did you mean 'Englsh'\? pass --src-col 'Englsh'"),
    "Shift-JIS": ("pairs.csv", "English,Japanese\ndog,犬\n".encode("cp932"),
                  r": not UTF-8 but Shift-JIS \(cp932\) text, as Excel saves Japanese CSV files; "
                  r"save it as 'CSV UTF-8' .*iconv -f cp932 -t utf-8"),
    "Latin-1": ("pairs.csv", b"English,Japanese\ndog,inu\ncaf\xe9,kafe\n",  # caf\xe9: café
                r", line 3: not UTF-8 text; save it as 'CSV UTF-8'"),
    "an empty Japanese cell": ("pairs.csv", "English,Japanese\ndog,犬\n\ncat, \n",  # the blank line is row 3
                               r", row 4: column 'Japanese' is empty"),
    "NaN written out": ("pairs.csv", "English,Japanese\ndog,犬\ncat,nan\n",
                        r", row 3: column 'Japanese' holds "
                        r"'nan', a missing value written out as text; fill in the cell"),
    "#N/A answers": ("pairs.csv", "English,Japanese,Correct_Japanese\ndog,狗,#N/A\n",
                     r", row 2: column 'Correct_Japanese' holds '#N/A', a missing value"),
    "numbers for words": ("pairs.csv", "English,Japanese\n1,犬\n2,猫\n",
                          r": column 'English' holds no words, only numbers or signs \(row 2: '1'\); "
                          r"choose the column of English words with --src-col"),
    "a comma not quoted": ("pairs.csv", "English,Japanese\nbig, red,赤\n",
                           r", row 2: 3 cells, but the header names 2 "
                           r"columns; a cell that holds ',' must be put in double quotes"),
    "a quote left open": ("pairs.csv", 'English,Japanese\ndog,犬\n"cat,猫\n',
                          r", row 3: not a valid CSV \(.*\); "
                          r"a cell that starts with a double quote must end with one"),
    "a column named twice": ("pairs.csv", "English,English,Japanese\ndog,dog,犬\n",
                             r": the header names column 'English' twice; give each column its own name"),
    "no header": ("pairs.csv", "\nEnglish,Japanese\ndog,犬\n",
                  r", row 1: empty; the first row must name the columns"),
}


@pytest.mark.parametrize("case", BAD_CSVS.values(), ids=BAD_CSVS.keys())
def test_a_bad_csv_is_one_line_naming_the_file_and_the_row(tmp_path, case):
    name, content, message = case
    path = place(tmp_path / name, content)
    with pytest.raises(DataError) as refused:
        load_pairs(path)
    assert re.match(re.escape(str(path)) + message, str(refused.value)), str(refused.value)
    assert "\n" not in str(refused.value)


# Files that are read, each holding the one pair dog → 犬.
ACCEPTED_CSVS = {
    "UTF-8 with a byte-order mark": "\ufeffEnglish,Japanese\ndog,犬\n".encode("utf-8"),
    "UTF-16, tab-separated (Excel's Unicode Text)": "English\tJapanese\ndog\t犬\n".encode("utf-16"),
    "tab-separated": "English\tJapanese\ndog\t犬\n",
    "semicolon-separated": "English;Japanese\ndog;犬\n",
    "Windows line ends": "English,Japanese\r\ndog,犬\r\n",
    "invisible characters": "English,Japanese\nd\u200bog\x07,\ufeff犬\u200d\n",
    "blank and unused rows": "English,Japanese,Correct_Japanese\n\ndog,犬,\n,,\n",
    "spaces around the names": " English , Japanese\ndog,犬\n",
    "a short row": "English,Japanese,Notes\ndog,犬\n",
    "the same row three times": "English,Japanese\ndog,犬\ndog,犬\nｄｏｇ,犬\n",
}


@pytest.mark.parametrize("content", ACCEPTED_CSVS.values(), ids=ACCEPTED_CSVS.keys())
def test_what_a_spreadsheet_may_save_is_read(tmp_path, content):
    pairs = load_pairs(place(tmp_path / "pairs.csv", content))
    assert pairs.values.tolist() == [["dog", "犬", ()]]


def train_error(capsys, *options) -> str:
    """train.py run as on the command line, which must stop with exit code 2 and one line on stderr:
    that line."""
    code = run_main(train.main, ["--config", str(ROOT / "configs" / "tiny.toml"), "--no-progress", *options])
    stderr = capsys.readouterr().err
    assert code == 2 and len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stderr
    return stderr


@pytest.mark.parametrize("content, message", [
    ("English,Japanese\ndog,犬\n".encode("cp932"), "pairs.csv: not UTF-8 but Shift-JIS (cp932) text"),
    ("English,Japanese\ndog,犬\ncat,nan\n", "pairs.csv, row 3: column 'Japanese' holds 'nan'"),
    ("English,Japanese\n1,犬\n2,猫\n", "pairs.csv: column 'English' holds no words"),
], ids=["Shift-JIS", "NaN", "numbers"])
def test_train_py_stops_on_a_bad_csv_in_one_line_and_writes_nothing(tmp_path, capsys, content, message):
    data = place(tmp_path / "pairs.csv", content)
    assert message in train_error(capsys, "--data", str(data), "--out", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rows, words", [([("dog", "犬", "狗")] * 3, 1), (PAIRS[:2], 1), (PAIRS[2:4], 2)],
                         ids=["one row three times", "two rows of one word", "two words"])
def test_too_few_words_to_split_says_how_many_are_needed(tmp_path, capsys, rows, words):
    data = write_csv(tmp_path / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], rows)
    message = train_error(capsys, "--data", str(data), "--out", str(tmp_path / "run"))
    assert f"pairs.csv: only {words} distinct source word(s)" in message
    assert ("splitting by word needs at least 3 (valid and test each hold out whole words): "
            "add more words") in message
    assert not (tmp_path / "run").exists()


def test_a_target_column_without_japanese_is_warned_about(tmp_path):
    """A warning, not a refusal: the code trains on any script, and a learner may try another language."""
    data = write_csv(tmp_path / "pairs.csv", ["English", "Japanese"],
                     [(english, english.upper()) for english, _, _ in PAIRS])
    said = []
    read_and_split(tiny_config(), data, said.append)
    assert said[0] == (f"warning: {data}: no cell of column 'Japanese' holds Japanese (kana or kanji); "
                       "if it is the wrong column, stop (Ctrl-C) and choose the right one with --tgt-col")
    said.clear()
    read_and_split(tiny_config(),
                   write_csv(tmp_path / "ja.csv", ["English", "Japanese"], [row[:2] for row in PAIRS]),
                   said.append)
    assert not any(line.startswith("warning") for line in said)


def kana_text(length: int, seed: int) -> str:
    """Random kana from a few: text that a vocabulary of a few hundred pieces cannot spell in few pieces."""
    rng = random.Random(seed)
    return "".join(rng.choice("あいうえおかきくけこさしすせそたちつてと") for _ in range(length))


def test_pairs_longer_than_the_model_reads_are_counted_or_refused(tmp_path):
    too_long = [(english, kana_text(300, seed), correct) for seed, (english, _, correct) in enumerate(PAIRS)]
    data = write_csv(tmp_path / "long.csv", ["English", "Japanese", "Correct_Japanese"], too_long)
    with pytest.raises(DataError, match=r"long.csv: all \d+ training pairs are longer than max_len 64 "
                                        r"pieces; shorten the cells, or raise max_len"):
        train_from_csv(tiny_config(epochs=1), data, None, progress=False, log=RunLog(echo=False))
    some_long = write_csv(tmp_path / "some.csv", ["English", "Japanese", "Correct_Japanese"],
                          too_long[:10] + PAIRS[10:])
    log = RunLog(echo=False)  # without a folder, it keeps what it is told in .waiting
    train_from_csv(tiny_config(epochs=1), some_long, None, progress=False, log=log)
    assert any(re.fullmatch(r"left out \d+ training pairs longer than max_len 64 pieces", line)
               for line in log.waiting)


# --- train.py's options, and the places it and infer.py write -----------------------------------------------


# train.py's options: (option, a value it refuses, what the one line says)
BAD_TRAINING_OPTIONS = [
    ("--arch", "rnn",
     "argument --arch: invalid choice: 'rnn' (choose from 'transformer', 'gru', 'lstm'); see --help"),
    ("--epochs", "two", "argument --epochs: invalid int value: 'two'; see --help"),
    ("--epochs", "0", "train setting 'epochs' must be at least 1, got 0"),
    ("--epochs", "-3", "train setting 'epochs' must be at least 1, got -3"),
    ("--batch-size", "0", "train setting 'batch_size' must be at least 1, got 0"),
    ("--batch-size", "-8", "train setting 'batch_size' must be at least 1, got -8"),
    ("--lr", "-0.001", "train setting 'lr' must be at least 0 and finite, got -0.001"),
    ("--lr", "nan", "train setting 'lr' must be at least 0 and finite, got nan"),
    ("--vocab-size", "0", "tokenizer vocab_size 0 is too small; use at least"),
    ("--vocab-size", "-400", "tokenizer vocab_size -400 is too small; use at least"),
]


@pytest.mark.parametrize("option, value, message", BAD_TRAINING_OPTIONS,
                         ids=[f"{o} {v}" for o, v, _ in BAD_TRAINING_OPTIONS])
def test_a_bad_training_option_is_one_line_naming_it(pairs_csv, tmp_path, capsys, option, value, message):
    assert message in train_error(capsys, "--data", str(pairs_csv), "--out", str(tmp_path / "run"),
                                  option, value)
    assert not (tmp_path / "run").exists()


def test_an_out_folder_that_cannot_be_made_is_refused_before_any_work(pairs_csv, tmp_path, capsys):
    a_file = place(tmp_path / "notes.txt", "keep me")
    message = train_error(capsys, "--data", str(pairs_csv), "--out", str(a_file))
    assert message == f"error: {a_file}: is a file, not a folder; choose another --out\n"
    message = train_error(capsys, "--data", str(pairs_csv), "--out", str(a_file / "run"))
    assert message == (f"error: {a_file / 'run'}: cannot be made, because {a_file} is a file; "
                       "choose another --out\n")
    assert a_file.read_text(encoding="utf-8") == "keep me"


def test_an_output_file_that_cannot_be_written_is_refused_before_any_work(good_folder, tmp_path, capsys):
    missing = tmp_path / "no-such-folder" / "quiz.csv"
    assert infer_error(capsys, good_folder, "--output", str(missing)).rstrip() == (
        f"error: {missing}: there is no folder {missing.parent}; make it first, or choose another --output")
    assert "is a folder; --output takes a file name" in infer_error(capsys, good_folder,
                                                                    "--output", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


# --- resuming a run -----------------------------------------------------------------------------------------


def without_data_record(folder: Path) -> None:
    checkpoint = torch.load(folder / "last.pt", weights_only=True)
    del checkpoint["run"]
    torch.save(checkpoint, folder / "last.pt")


# (what breaks the run, what more train.py --resume is given, what the one line says)
BROKEN_RUNS = {
    "answers.json not JSON": (lambda f: (f / "answers.json").write_text("{"), [],
                              r"answers.json: not valid JSON \(.*\); it is written by train.py"),
    "no answers.json": (lambda f: (f / "answers.json").unlink(), [],
                        r": no answers.json; --resume takes a model folder written by train.py"),
    "last.pt without its data": (without_data_record, [],
                                 r"last.pt: does not say which data the run was trained on "
                                 r"\(.*\); start again without --resume"),
    "other data": (lambda f: None, ["--data", "{other}"],
                   r"other.csv has changed since training began; resuming "
                   r"would train on other pairs \(restore the file, or start a "
                   r"new run without --resume\)"),
}


@pytest.mark.parametrize("case", BROKEN_RUNS.values(), ids=BROKEN_RUNS.keys())
def test_resume_stops_in_one_line_and_leaves_the_folder_as_it_was(folder, tmp_path, capsys, case):
    breaks, options, message = case
    breaks(folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    other = write_csv(tmp_path / "other.csv", ["English", "Japanese"], [("sun", "月")])
    code = run_main(train.main, ["--resume", str(folder), "--no-progress",
                                 *[option.format(other=other) for option in options]])
    stderr = capsys.readouterr().err
    assert code == 2 and len(stderr.splitlines()) == 1 and re.search(message, stderr), stderr
    assert {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()} == before
