"""train.py and infer.py as a user runs them: real processes, real files, exit codes and messages."""
import json
import os
import shutil
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
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    data = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    result = run("train.py", "--data", data, "--out", base / "run", "--config", TINY_TOML, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert ("done (finished): 3 epochs" in result.stdout
            and "sample distractors for validation words" in result.stdout)
    (base / "known.txt").write_text("\n".join(japanese for _, japanese, _ in PAIRS) + "\n", encoding="utf-8")
    return base


def test_infer_prints_n_distinct_answers_without_the_correct_one(model_dir):
    result = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "3",
                 "--method", "sample", "--max-attempts", "100",
                 "--exclude", "貸す|返す", "--lexicon", "none", "--known-words", "none")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and len(set(lines)) == 3
    assert not set(lines) & {"借りる", "貸す", "返す"}


def test_only_ranking_reads_the_candidate_lexicon(model_dir):
    """Loading it takes a second and a half that sampling would not use: a path that is not there is no
    error for --method sample, and a one-line error for rank."""
    missing = model_dir / "no-such-lexicon.csv"
    sampled = run("infer.py", "--model", model_dir / "run", "--word", "borrow", *sampling(model_dir),
                  "--candidates", missing)
    assert sampled.returncode == 0, sampled.stderr
    ranked = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "2",
                 "--lexicon", "none", "--known-words", "none", "--candidates", missing)
    assert ranked.returncode == 2 and "no-such-lexicon.csv: file not found" in ranked.stderr


def test_infer_csv_in_and_out(model_dir):
    words = write_csv(model_dir / "words.csv", ["English"], [("dog",), ("river",)])
    out = model_dir / "out.csv"
    result = run("infer.py", "--model", model_dir / "run", "--input", words, "--output", out, "--n", "2",
                 "--method", "sample", "--max-attempts", "100", "--lexicon", "none",
                 "--known-words", model_dir / "known.txt", "--temperature", "1.5",
                 "--top-k", "0", "--top-p", "1", "--output-precision", "bf16")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["English", "distractor_1", "distractor_2", "score_1", "score_2"]
    assert frame["English"].tolist() == ["dog", "river"]
    found = [[cell for cell in row if cell]
             for row in frame[["distractor_1", "distractor_2"]].values.tolist()]
    assert all(len(set(row)) == len(row) for row in found) and any(found)
    allowed = {japanese for _, japanese, _ in PAIRS} | {""}
    assert set(frame["distractor_1"]) | set(frame["distractor_2"]) <= allowed
    for row in frame[["score_1", "score_2"]].values.tolist():  # best first: log p(d | word) falls
        scores = [float(cell) for cell in row if cell != ""]
        assert scores == sorted(scores, reverse=True) and all(score < 0 for score in scores)


def sampling(model_dir) -> list:
    """Two samples a word, real words of the tiny corpus only, seeded."""
    return ["--n", "2", "--method", "sample", "--max-attempts", "100", "--lexicon", "none", "--known-words",
            model_dir / "known.txt", "--seed", "3"]


def test_a_quiz_files_own_answers_are_never_output_and_its_columns_are_kept(model_dir):
    """The two answers the model gives for borrow are made its correct answers: neither may come back."""
    plain = run("infer.py", "--model", model_dir / "run", "--word", "borrow", *sampling(model_dir))
    assert plain.returncode == 0, plain.stderr
    made_up = plain.stdout.split()
    assert len(made_up) == 2
    quiz = write_csv(model_dir / "quiz.csv", ["English", "Correct_Japanese", "Notes"],
                     [("borrow", "|".join(made_up), "lesson 3")])
    out = model_dir / "quiz-out.csv"
    result = run("infer.py", "--model", model_dir / "run", "--input", quiz, "--output", out,
                 *sampling(model_dir))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["English", "Correct_Japanese", "Notes", "distractor_1", "distractor_2",
                                   "score_1", "score_2"]
    assert frame[["English", "Correct_Japanese", "Notes"]].values.tolist() == [["borrow", "|".join(made_up),
                                                                                "lesson 3"]]
    assert not set(frame[["distractor_1", "distractor_2"]].values[0]) & set(made_up)


def test_jsonl_of_words_from_standard_input(model_dir):
    result = subprocess.run([sys.executable, str(ROOT / "infer.py"), "--model", str(model_dir / "run"),
                             "--input", "-", "--format", "jsonl", *map(str, sampling(model_dir))],
                            input="borrow\ndog\n", capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["English"] for row in rows] == ["borrow", "dog"]
    for row in rows:
        assert len(row["distractors"]) == len(row["scores"]) == 2
        assert row["scores"] == sorted(row["scores"], reverse=True)


def test_the_python_api_gives_what_infer_prints(model_dir):
    from seq2seq import load_model

    model = load_model(model_dir / "run", lexicon="none", known_words=str(model_dir / "known.txt"))
    printed = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--word", "dog",
                  *sampling(model_dir))
    assert printed.returncode == 0, printed.stderr
    found = model.distractors_many(["borrow", "dog"], n=2, method="sample", max_attempts=100, seed=3)
    assert printed.stdout.splitlines() == [f"{word}: {', '.join(answers)}"
                                           for word, answers in zip(["borrow", "dog"], found)]
    # one word is a batch of one: the same draws as distractors_many of it alone (which words share a batch
    # changes the draws, as the README says, so found[0] may differ)
    one = model.distractors("borrow", n=2, method="sample", max_attempts=100, seed=3)
    [alone] = model.distractors_many(["borrow"], n=2, method="sample", max_attempts=100, seed=3)
    assert one == alone and [d.score for d in one] == [d.score for d in alone]
    assert [d.score for d in one] == sorted((d.score for d in one), reverse=True)
    with pytest.raises(TypeError, match="unknown decoding setting 'temprature'"):
        model.distractors("borrow", temprature=2.0)



def test_explain_prints_the_ranking_that_chose_the_answers(model_dir):
    result = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "2", "--explain")
    assert result.returncode == 0, result.stderr
    answers, _, table = result.stdout.partition("\n\n")
    assert table.startswith("borrow: ") and "what became of it" in table
    kept = [line.split()[1] for line in table.splitlines()[2:] if line.rstrip().endswith("kept")]
    assert kept == answers.splitlines()  # the table's kept rows are exactly the printed answers, in order


@pytest.mark.parametrize("method", ["sample", "beam"])
def test_explain_traces_sampling_and_beam_search(model_dir, method):
    result = run("infer.py", "--model", model_dir / "run", "--word", "borrow", "--n", "2", "--method", method,
                 "--length-penalty", "0.5", "--max-attempts", "50", "--explain")
    assert result.returncode == 0, result.stderr
    answers, _, trace = result.stdout.partition("\n\n")
    assert trace.startswith(f"borrow: {method}, ")
    kept = [line.split(": ", 1)[1].split()[0] for line in trace.splitlines()
            if line.rstrip().endswith("→ kept")]
    assert sorted(kept) == sorted(answers.splitlines())  # the trace's kept outputs are the printed answers
    assert (("length penalty 0.5" in trace) == (method == "beam")
            and ("step  drawn" in trace) == (method == "sample"))

@pytest.mark.parametrize(
    "script, args, message",
    [
        ("train.py", ["--data", "no/such.csv", "--out", "{tmp}/x"], "no/such.csv: file not found"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--tgt-col", "Kana", "--out", "{tmp}/x"],
         "no column 'Kana'"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--config", "{tmp}/bad.toml", "--out", "{tmp}/x"],
         "unknown setting(s) d_modle"),
        ("train.py", ["--data", "{tmp}/pairs.csv", "--out", "{tmp}/run"], "already holds a trained model"),
        ("infer.py", ["--model", "{tmp}/nothing", "--word", "dog"], "no config.json"),
        ("infer.py", ["--model", "{tmp}/run"], "give at least one --word"),
        ("infer.py", ["--model", "{tmp}/run", "--input", "{tmp}/unknown.csv", "--lexicon", "none"],
         "unknown.csv, row 3: no correct answer is known for 'zebra'"),
        ("infer.py", ["--model", "{tmp}/run", "--input", "{tmp}/unknown.csv", "--word", "dog"], "not both"),
        ("infer.py", ["--model", "{tmp}/run", "--word", "dog", "--temperature", "0"],
         "temperature must be > 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model_dir, script, args, message):
    (model_dir / "bad.toml").write_text("[model]\nd_modle = 3\n")
    write_csv(model_dir / "unknown.csv", ["English", "Correct_Japanese"], [("dog", ""), ("zebra", "")])
    result = run(script, *[arg.format(tmp=model_dir) for arg in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (model_dir / "x").exists()  # nothing half-written


def test_ctrl_c_saves_a_checkpoint_that_resume_finishes(tmp_path, ctrl_c_heard):
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
    """configs/class.toml's commands, on 300 rows of data/class_verbs.csv.gz and one epoch instead of a
    minute."""
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


def test_a_folder_is_tuned_from_the_command_line_and_bad_input_is_one_line(model_dir, tmp_path):
    def tune(*args):
        return subprocess.run([sys.executable, "-m", "seq2seq.gloss_tuning", *map(str, args)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)

    refused = tune(tmp_path / "nothing")
    assert refused.returncode == 2 and "no config.json" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    folder = tmp_path / "run"
    shutil.copytree(model_dir / "run", folder)
    result = tune(folder, "--data", model_dir / "pairs.csv", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "gloss space: member 2/2 (HeadwordMember), epoch 1/1" in result.stdout
    assert (folder / "gloss_vectors.pt").is_file()
    answered = run("infer.py", "--model", folder, "--word", "borrow", "--n", "2")
    assert answered.returncode == 0 and len(answered.stdout.splitlines()) == 2  # ranked in the tuned space
