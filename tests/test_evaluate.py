"""evaluate.py and seq2seq/evaluation.py: tiny models trained here, scored with the baselines on their test words."""
import json
from pathlib import Path

import pandas as pd
import pytest

import evaluate as evaluate_script
from seq2seq.cli import run_main
from seq2seq.compare import exact_match, read_test_split
from seq2seq.data import word_key
from seq2seq.evaluation import PER_CANDIDATE, PER_WORD, SUMMARY, TABLE, differences, evaluate, load_resources
from seq2seq.model_folder import load_model
from seq2seq.pipeline import train_from_csv
from tests.conftest import PAIRS, tiny_config, write_csv

SHARES = ("distinct", "wrong", "valid", "closeness", "edit_distance_norm", "same_script", "same_pos", "mined",
          "shared", "exact_match")  # every summary number that is a share or a mean of shares


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A distractor-mode and a translation-mode tiny model, and the two CSVs they were trained on."""
    base = tmp_path_factory.mktemp("evaluate")
    distractors = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    lexicon = write_csv(base / "lexicon.csv", ["English", "Japanese"], sorted({(e, c) for e, _, c in PAIRS}))
    for name, data in (("distractor", distractors), ("translation", lexicon)):
        train_from_csv(tiny_config(epochs=1), data, base / name, progress=False)  # messages: captured by pytest
    return base


@pytest.fixture(scope="module")
def resources():
    return load_resources()  # the bundled tables, as evaluate.py uses them


@pytest.fixture(scope="module")
def evaluation(runs, resources):
    return evaluate([runs / "distractor"], n=3, baselines=["random", "retrieval"], train_data=runs / "pairs.csv",
                    out=runs / "out", resources=resources)


def test_the_four_files_are_written_with_a_row_per_system(evaluation, runs):
    out = runs / "out"
    assert evaluation.files == [out / TABLE, out / SUMMARY, out / PER_WORD, out / PER_CANDIDATE]
    lines = evaluation.table.splitlines()
    assert len(lines) == 2 + 3  # header, rule, one row per system
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| `distractor`", "| `random baseline`",
                                                            "| `retrieval baseline`"]
    assert evaluation.table in (out / TABLE).read_text(encoding="utf-8")

    test_words = list(dict.fromkeys(read_test_split(runs / "distractor")["source"]))
    per_word = pd.read_csv(out / PER_WORD, keep_default_na=False)
    assert per_word["system"].tolist() == ["distractor"] * 3 + ["random baseline"] * 3 + ["retrieval baseline"] * 3
    assert per_word["word"].tolist() == test_words * 3
    per_candidate = pd.read_csv(out / PER_CANDIDATE, keep_default_na=False)
    counts = per_word["candidates"].map(lambda cell: len(cell.split("|")) if cell else 0)
    assert len(per_candidate) == counts.sum() and counts.max() <= 3


def test_numbers_are_shares_and_no_system_gives_a_correct_answer(evaluation, runs):
    summary = json.loads((runs / "out" / SUMMARY).read_text(encoding="utf-8"))
    assert summary["n"] == 3 and summary["words"] == len(evaluation.results[0].candidates)
    for system in summary["systems"]:
        for key in SHARES:
            assert system[key] is None or 0 <= system[key] <= 1, (system["name"], key)
        assert system["wrong"] in (None, 1.0)  # models and baselines both exclude every known correct form
        assert system["exact_match"] is None  # distractor mode
    random_row = summary["systems"][1]
    assert random_row["same_script"] == 1.0 and random_row["same_pos"] in (None, 1.0)  # drawn from that class
    assert len(set(map(tuple, evaluation.results[2].candidates))) >= 1


def test_every_later_system_is_compared_word_by_word_with_the_first(evaluation, runs):
    summary = json.loads((runs / "out" / SUMMARY).read_text(encoding="utf-8"))
    assert summary["differences_from"] == "distractor"
    assert list(summary["differences"]) == ["random baseline", "retrieval baseline"]
    model_has_closeness = any(row["closeness"] is not None for row in evaluation.results[0].scores.words)
    assert (summary["differences"]["random baseline"]["closeness"] is None) == (not model_has_closeness)
    assert "Difference from `distractor`, word by word" in (runs / "out" / TABLE).read_text(encoding="utf-8")

    random_rows, retrieval_rows = (result.scores.words for result in evaluation.results[1:])
    closeness = differences(evaluation.results[1:])["retrieval baseline"]["closeness"]  # random first
    pairs = [(a["closeness"], b["closeness"]) for a, b in zip(random_rows, retrieval_rows)
             if a["closeness"] is not None and b["closeness"] is not None]
    assert closeness.words == len(pairs) > 0
    assert closeness.mean == pytest.approx(sum(b - a for a, b in pairs) / len(pairs))
    assert closeness.low <= closeness.mean <= closeness.high


def test_a_translation_model_gets_its_greedy_exact_match(runs, resources):
    folder = runs / "translation"
    result = evaluate([folder], n=2, baselines=[], out=runs / "out_translation", resources=resources).results[0]
    assert result.exact_match == pytest.approx(exact_match(load_model(folder), read_test_split(folder)).rate)


def test_the_same_words_for_two_models_given_data(runs, resources):
    results = evaluate([runs / "distractor", runs / "translation"], data=runs / "pairs.csv", n=1, baselines=["none"],
                       out=runs / "out_both", resources=resources).results
    assert [r.name for r in results] == ["distractor", "translation"]
    assert results[0].exact_match is None and 0 <= results[1].exact_match <= 1
    assert len(results[1].candidates) == len({word_key(english) for english, _, _ in PAIRS})


@pytest.mark.parametrize("args, named", [
    (["{distractor}", "{translation}"], "--data"),  # different test splits
    (["{distractor}", "--baselines", "random,oracle"], "--baselines"),
    (["{distractor}", "--n", "0"], "--n"),
    (["{distractor}", "--train-data", "{missing}"], "--train-data"),
    (["{missing}"], "no such folder"),
    (["--baselines", "random"], "MODEL_DIR"),
])
def test_errors_are_one_line_naming_what_to_fix(runs, capsys, args, named):
    paths = {"distractor": runs / "distractor", "translation": runs / "translation", "missing": runs / "nothing.csv"}
    argv = [arg.format(**paths) for arg in args] + ["--out", str(runs / "never")]
    assert run_main(evaluate_script.main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err
    assert not (runs / "never").exists()
