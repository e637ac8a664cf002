"""Train → folder → reload: the folder holds everything, and a reload behaves identically."""
import json
from dataclasses import replace

import pandas as pd
import pytest
import torch

from seq2seq.config import DecodeConfig
from seq2seq.data import DataError, load_pairs
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossVectors
from seq2seq.model_folder import GLOSS_VECTORS, load_model
from seq2seq.candidates import CandidateLexicon
from seq2seq.pipeline import (answers_shown, candidate_inputs, distractors_for, encoder_inputs,
                              load_candidate_lexicon, load_lexicon, read_and_split, retune_folder,
                              train_from_csv, translation_examples)
from seq2seq.run_log import RunLog, best_row
from tests.conftest import PAIRS, tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import PAIRS, write_csv

    folder = tmp_path_factory.mktemp("run")
    csv_path = write_csv(folder.parent / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    summary = train_from_csv(tiny_config(epochs=3, lr=3e-3), csv_path, folder, progress=False,
                             log=RunLog(echo=False))
    return folder, summary, csv_path


def test_folder_holds_every_file_and_one_metrics_row_per_epoch(trained):
    folder, summary, _ = trained
    files = {"config.json", "model.pt", "spm.model", "answers.json", "metrics.csv", "test.csv", "last.pt",
             "train.log"}
    assert {p.name for p in folder.iterdir()} - {"tensorboard"} == files  # tensorboard/ when it is installed
    log = (folder / "train.log").read_text(encoding="utf-8").splitlines()
    assert "train/valid/test pairs 22/4/4" in log[0]  # said before the folder existed, kept for the log
    assert [line.split(":")[0] for line in log if line.startswith("epoch ")] == ["epoch 1", "epoch 2",
                                                                                 "epoch 3"]
    test_split = load_pairs(folder / "test.csv")
    assert test_split.equals(summary.splits["test"])  # the same pairs, correct answers included
    metrics = pd.read_csv(folder / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2, 3]
    best = best_row(metrics, summary.fit.metric)  # the epoch model.pt holds, by the run's metric
    assert best["valid_loss"] == pytest.approx(summary.fit.valid_loss, abs=1e-4)
    assert json.loads((folder / "answers.json").read_text(encoding="utf-8"))["borrow"] == ["借りる"]
    assert (json.loads((folder / "config.json").read_text())["model"]["vocab_size"]
            == summary.trained.tokenizer.vocab_size)


def test_reload_gives_identical_logits_and_identical_samples(trained):
    folder, summary, _ = trained
    reloaded = load_model(folder)
    src = torch.tensor([[5, 6, 3], [7, 3, 0]])
    tgt = torch.tensor([[2, 8, 9], [2, 10, 0]])
    with torch.no_grad():
        assert torch.equal(summary.trained.model.eval()(src, tgt), reloaded.model(src, tgt))
    decode = DecodeConfig(n=4, seed=7)
    words = ["borrow", "river"]
    assert distractors_for(summary.trained, words, decode) == distractors_for(reloaded, words, decode)


def test_distractors_are_distinct_and_never_a_correct_answer(trained):
    folder, _, _ = trained
    reloaded = load_model(folder)
    results = distractors_for(reloaded, ["borrow", "dog", "river"],
                              DecodeConfig(n=5, method="sample", top_k=0, top_p=1.0, max_attempts=100),
                              exclude=[{"貸す"}, set(), set()])
    for found, correct in zip(results, [{"借りる", "貸す"}, {"犬"}, {"川"}]):
        assert len(found) == 5 and len(set(found)) == 5
        assert not set(found) & correct


def test_lexicon_answers_are_excluded_too(trained):
    folder, _, _ = trained
    reloaded = load_model(folder)
    plain = distractors_for(reloaded, ["borrow"], DecodeConfig(n=3, seed=1))[0]
    banned = {"borrow": frozenset(plain[:2])}
    assert not set(plain[:2]) & set(distractors_for(reloaded, ["Borrow"], DecodeConfig(n=3, seed=1),
                                                    lexicon=banned)[0])


def small_lexicon() -> CandidateLexicon:
    """借りる translates borrow (1 answer in training) and rent (2 in the rejection index given below);
    湖 translates lake; 貸金 nothing the model or the index has answers for."""
    pos = {form: frozenset({"noun"}) for form in ("借りる", "湖", "貸金", "貸す", "返す")}
    keys = {"借りる": ["borrow", "rent"], "湖": ["lake"], "貸金": ["moneylending"]}
    return CandidateLexicon.from_pos_tables(pos, {"borrow": frozenset({"noun"})}, keys)


def test_a_candidates_own_inputs_are_its_most_specific_english_words_first(trained):
    _, summary, _ = trained
    lexicon = {"rent": frozenset({"借りる", "家賃"})}
    inputs_of = candidate_inputs(summary.trained, small_lexicon(), lexicon, limit=1)
    # borrow has one answer (借りる, from the model's training words), rent two: borrow is read first
    assert inputs_of("借りる") == (encoder_inputs(summary.trained, ["borrow"], [["借りる"]])[0],)
    assert inputs_of("湖") == (encoder_inputs(summary.trained, ["lake"], [["湖"]])[0],)
    assert inputs_of("貸金") == () and inputs_of("山") == ()  # no key with known answers; not in the lexicon
    both = candidate_inputs(summary.trained, small_lexicon(), lexicon, limit=2)("借りる")
    assert both == tuple(encoder_inputs(summary.trained, ["borrow", "rent"], [["借りる"], ["借りる", "家賃"]]))


def test_ranking_with_the_reverse_question_gives_distinct_allowed_answers(trained):
    _, summary, _ = trained
    for weight in (0.0, 2.0):
        decode = DecodeConfig(n=3, method="rank", rank_samples=60, reverse_weight=weight, seed=0)
        found = distractors_for(summary.trained, ["borrow", "river"], decode, candidates=small_lexicon())
        for outputs, correct in zip(found, ("借りる", "川")):
            assert len(outputs) == len(set(outputs)) == 3 and correct not in outputs


def test_keep_epochs_leaves_each_epochs_weights_and_a_new_run_removes_them(tmp_path, pairs_csv):
    folder = tmp_path / "run"
    train_from_csv(tiny_config(epochs=2, keep_epochs=True), pairs_csv, folder, progress=False,
                   log=RunLog(echo=False))
    assert sorted(path.name for path in folder.glob("epoch*.pt")) == ["epoch1.pt", "epoch2.pt"]
    last = torch.load(folder / "last.pt", weights_only=True)["model"]  # the weights after the last epoch
    second = load_model(folder, weights="epoch2.pt").model.state_dict()
    assert all(torch.equal(last[name], second[name]) for name in last)
    first = load_model(folder, weights="epoch1.pt").model.state_dict()
    assert any(not torch.equal(first[name], second[name]) for name in first)
    train_from_csv(tiny_config(epochs=1), pairs_csv, folder, progress=False, overwrite=True,
                   log=RunLog(echo=False))
    # no weights of the earlier run are left to be mistaken for this one's
    assert not list(folder.glob("epoch*.pt"))


def test_existing_model_is_not_overwritten_without_permission(trained):
    folder, _, csv_path = trained
    with pytest.raises(UserError, match="--overwrite"):
        train_from_csv(tiny_config(epochs=1), csv_path, folder, progress=False, log=RunLog(echo=False))


def test_load_model_names_what_is_missing(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        load_model(tmp_path)


def test_overwrite_with_bad_data_leaves_the_old_model_whole(trained, tmp_path):
    folder, _, csv_path = trained
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    bad = tmp_path / "bad.csv"
    bad.write_text("English,Japanese\ndog,\n", encoding="utf-8")
    with pytest.raises(UserError, match="row 2: column 'Japanese' is empty"):
        train_from_csv(tiny_config(epochs=1), bad, folder, progress=False, overwrite=True,
                       log=RunLog(echo=False))
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_overwrite_replaces_only_model_files(tmp_path):
    from tests.conftest import PAIRS, write_csv

    csv_path = write_csv(tmp_path / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    folder = tmp_path / "run"
    for epochs in (2, 1):
        train_from_csv(tiny_config(epochs=epochs), csv_path, folder, progress=False, overwrite=True,
                       log=RunLog(echo=False))
        (folder / "notes.txt").write_text("mine")
    assert pd.read_csv(folder / "metrics.csv")["epoch"].tolist() == [1]  # no rows left from the first model
    assert (folder / "notes.txt").read_text() == "mine"


def test_tensorboard_event_files_hold_the_validation_curve(trained):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, summary, _ = trained
    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    curve = [round(event.value, 4) for event in events.Scalars("epoch/valid_loss")]
    assert curve == pd.read_csv(folder / "metrics.csv")["valid_loss"].tolist()
    assert [event.step for event in events.Scalars("step/train_loss")] == list(range(1, summary.fit.step + 1))


TEMPLATE = "{English} ⟨sep⟩ {Correct_Japanese}"


def test_a_source_template_model_reads_the_answer_in_training_and_inference(tmp_path, pairs_csv):
    config = tiny_config(epochs=1)
    config = replace(config, data=replace(config.data, src_template=TEMPLATE))
    summary = train_from_csv(config, pairs_csv, tmp_path / "run", progress=False, log=RunLog(echo=False))
    trained = load_model(tmp_path / "run")
    assert trained.config.data.src_template == TEMPLATE
    assert "⟨sep⟩" in "".join(trained.tokenizer.pieces("borrow ⟨sep⟩ 借りる"))  # the tokenizer saw the template
    lexicon = {"tiger": frozenset({"とら", "虎"})}
    answers = [answers_shown(trained, word, given, lexicon) for word, given in
               zip(["borrow", "tiger", "tiger"], [set(), {"虎"}, set()])]
    inputs = encoder_inputs(trained, ["borrow", "tiger", "tiger"], answers)
    assert inputs == ["borrow ⟨sep⟩ 借りる", "tiger ⟨sep⟩ 虎", "tiger ⟨sep⟩ とら|虎"]  # stored, given, lexicon
    many = {f"答{i:02d}" for i in range(40)}  # far more answers than max_len pieces can hold
    fitted = encoder_inputs(trained, ["tiger"], [sorted(many)])[0]
    shown = fitted.split(" ⟨sep⟩ ")[1].split("|")
    assert shown == sorted(many)[:len(shown)] and 1 <= len(shown) < 40  # the first answers that fit
    assert len(trained.tokenizer.encode(fitted)) + 1 <= trained.config.model.max_len
    cut_one_more = "tiger ⟨sep⟩ " + "|".join(sorted(many)[:len(shown) + 1])
    assert len(trained.tokenizer.encode(cut_one_more)) + 1 > trained.config.model.max_len  # as many as fit
    with pytest.raises(UserError, match="'tiger': this model reads the correct answer"):
        distractors_for(trained, ["tiger"], DecodeConfig(n=2))
    found = distractors_for(summary.trained, ["borrow"],
                            DecodeConfig(n=2, method="sample", temperature=1.5, max_attempts=50))[0]
    # an epoch-old model decodes, never giving the answer it read
    assert 1 <= len(found) <= 2 and "借りる" not in found


def test_the_auto_template_shows_the_answer_only_when_the_targets_are_distractors(tmp_path, pairs_csv,
                                                                                  translation_csv):
    assert tiny_config().data.src_template == "auto"  # the default
    for name, data, expected in (("distractors", pairs_csv, TEMPLATE), ("translation", translation_csv, "")):
        train_from_csv(tiny_config(epochs=1), data, tmp_path / name, progress=False, log=RunLog(echo=False))
        saved = json.loads((tmp_path / name / "config.json").read_text(encoding="utf-8"))
        assert saved["data"]["src_template"] == expected, name  # stored resolved, as inference reads it
    word_alone = replace(tiny_config(epochs=1), data=replace(tiny_config().data, src_template=""))
    train_from_csv(word_alone, pairs_csv, tmp_path / "alone", progress=False, log=RunLog(echo=False))
    assert encoder_inputs(load_model(tmp_path / "alone"), ["borrow"], [[]]) == ["borrow"]


def test_a_folder_saved_before_templates_existed_reads_the_word_alone(trained, tmp_path):
    import shutil

    folder = shutil.copytree(trained[0], tmp_path / "old")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    del config["data"]["src_template"]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert encoder_inputs(load_model(folder), ["borrow"], [[]]) == ["borrow"]


def test_a_template_in_translation_mode_is_refused(tmp_path, translation_csv):
    config = tiny_config(epochs=1)
    config = replace(config, data=replace(config.data, src_template=TEMPLATE))
    with pytest.raises(UserError, match="it would learn to copy"):
        train_from_csv(config, translation_csv, tmp_path / "run", progress=False, log=RunLog(echo=False))
    assert not (tmp_path / "run").exists()


def test_held_out_words_are_in_no_split(tmp_path, pairs_csv):
    from tests.conftest import write_csv

    held_out = write_csv(tmp_path / "exam.csv", ["English"], [("Borrow",), ("river",)])
    config = tiny_config(epochs=1)
    config = replace(config, data=replace(config.data, held_out_words=str(held_out)))
    log = RunLog(echo=False)
    summary = train_from_csv(config, pairs_csv, tmp_path / "run", progress=False, log=log)
    words = set(pd.concat(summary.splits.values())["source"])
    assert not words & {"borrow", "river"} and "lend" in words
    assert "held out 4 pairs of 2 words" in (tmp_path / "run" / "train.log").read_text(encoding="utf-8")


def test_translation_pairs_add_each_training_word_alone_with_each_of_its_answers(trained):
    _, summary, _ = trained
    tokenizer = summary.trained.tokenizer
    answers = {"borrow": ["借りる"], "river": ["川", "河"]}
    pairs = pd.DataFrame({"source": ["borrow", "borrow", "river", "lake"], "target": ["貸す", "返す", "湖", "池"]})
    examples = translation_examples(pairs, answers, tokenizer, summary.trained.config)
    # each word once, however many pairs it has; lake has no known answer and adds nothing
    expected = [("borrow", "借りる"), ("river", "川"), ("river", "河")]
    assert [(ex.src, ex.tgt) for ex in examples] == [
        (tokenizer.encode(word) + [tokenizer.eos_id], tokenizer.encode(answer)) for word, answer in expected]
    plain = replace(summary.trained.config, data=replace(summary.trained.config.data, src_template=""))
    with pytest.raises(UserError, match="translation_pairs needs a source template"):
        translation_examples(pairs, answers, tokenizer, plain)


def test_kinds_keep_only_those_rows_and_leave_the_split_of_words_unchanged(tmp_path):
    from tests.conftest import write_csv

    kinds = ["semantic" if index % 3 else "homophone" for index in range(len(PAIRS))]
    rows = [(english, wrong, right, kind) for (english, wrong, right), kind in zip(PAIRS, kinds)]
    data = write_csv(tmp_path / "kinds.csv", ["English", "Japanese", "Correct_Japanese", "kind"], rows)
    every_row = tiny_config(epochs=1)
    semantic = replace(every_row, data=replace(every_row.data, kinds="semantic"))
    log = RunLog(echo=False)
    all_splits = train_from_csv(every_row, data, None, progress=False, log=log).splits
    kept_splits = train_from_csv(semantic, data, None, progress=False, log=log).splits
    for name, rows_kept in kept_splits.items():
        assert set(rows_kept["kind"]) <= {"semantic"}
        expected = all_splits[name][all_splits[name]["kind"] == "semantic"].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows_kept, expected)
    assert sum(map(len, kept_splits.values())) == kinds.count("semantic")


def test_an_unknown_kind_is_refused_naming_the_kinds_there(tmp_path):
    from tests.conftest import write_csv

    rows = [(english, wrong, right, "semantic") for english, wrong, right in PAIRS]
    data = write_csv(tmp_path / "kinds.csv", ["English", "Japanese", "Correct_Japanese", "kind"], rows)
    config = tiny_config(epochs=1)
    config = replace(config, data=replace(config.data, kinds="semantc"))
    expected = r"kinds.csv: no row of kind 'semantc' in column 'kind' \(kinds there: semantic\); fix --kinds"
    with pytest.raises(DataError, match=expected):
        train_from_csv(config, data, tmp_path / "run", progress=False, log=RunLog(echo=False))
    assert not (tmp_path / "run").exists()


def test_kinds_leave_a_csv_without_a_kind_column_whole(pairs_csv):
    config = tiny_config(epochs=1)
    semantic = replace(config, data=replace(config.data, kinds="semantic"))
    log = RunLog(echo=False)
    kept = read_and_split(semantic, pairs_csv, log)[2]
    whole = read_and_split(config, pairs_csv, log)[2]
    assert [len(kept[name]) for name in kept] == [len(whole[name]) for name in whole]
    assert sum(map(len, kept.values())) == len(load_pairs(pairs_csv))


def test_a_kind_is_checked_on_the_whole_file_not_on_each_split(tmp_path):
    """One homophone row lies in one split only; asking for it is no error for the other splits."""
    from tests.conftest import write_csv

    rows = [(english, wrong, right, "homophone" if index == 0 else "semantic")
            for index, (english, wrong, right) in enumerate(PAIRS)]
    data = write_csv(tmp_path / "kinds.csv", ["English", "Japanese", "Correct_Japanese", "kind"], rows)
    config = tiny_config(epochs=1)
    config = replace(config, data=replace(config.data, kinds="semantic,homophone"))
    splits = read_and_split(config, data, RunLog(echo=False))[2]
    assert sum(map(len, splits.values())) == len(PAIRS)


def test_training_tunes_the_gloss_space_and_the_folder_keeps_it(tmp_path, pairs_csv):
    folder = tmp_path / "run"
    log = RunLog(echo=False)
    summary = train_from_csv(tiny_config(epochs=1, gloss_epochs=2), pairs_csv, folder, progress=False,
                             log=log)
    said = (folder / "train.log").read_text(encoding="utf-8")
    assert "gloss space: member 1/2 (SubwordMember), epoch 1/2" in said
    assert "gloss space: member 2/2 (HeadwordMember), epoch 2/2" in said
    loaded = load_model(folder).gloss_vectors
    assert torch.equal(loaded.vectors, summary.trained.gloss_vectors.vectors)
    assert not loaded.vectors.requires_grad  # numbers, not a graph: ranking never trains them
    lexicon = load_candidate_lexicon("auto", load_lexicon("auto"))
    assert loaded.words == sorted(lexicon.gloss_space.row_of)  # the bundled lexicon's space, tuned
    untuned = lexicon.gloss_space.vectors  # (words, dims); the tuned file holds two members side by side
    assert loaded.members == 2 and loaded.vectors.shape == (len(untuned), 2 * untuned.shape[1])
    first, second = loaded.vectors.chunk(2, dim=1)
    assert not torch.equal(first, untuned) and not torch.equal(first, second)  # moved, each its own way
    (folder / GLOSS_VECTORS).unlink()  # tuned again from the command line, on the same split: the same
    retune_folder(folder, pairs_csv, epochs=2)
    assert torch.equal(load_model(folder).gloss_vectors.vectors, loaded.vectors)


def test_ranking_asks_the_models_tuned_gloss_space(trained):
    _, summary, _ = trained
    lexicon = small_lexicon()
    untuned = lexicon.gloss_space
    tuned = GlossVectors(sorted(untuned.row_of), torch.randn(untuned.vectors.shape,
                                                              generator=torch.Generator().manual_seed(0)))
    model = replace(summary.trained, gloss_vectors=tuned)
    explain = []
    distractors_for(model, ["lake"], DecodeConfig(n=2, method="rank", rank_samples=10, seed=0),
                    candidates=lexicon, explain=explain)
    scored = {c.text: c.gloss for c in explain[0] if c.gloss is not None}
    space = lexicon.space_for(tuned)
    for form in ("借りる", "貸金"):  # glossed in the lexicon, and proposed as near in meaning
        assert scored[form] == pytest.approx(space.closeness("lake", [form])[0], abs=1e-6)
        assert scored[form] != pytest.approx(untuned.closeness("lake", [form])[0], abs=1e-3)
