import pandas as pd
import pytest

from seq2seq.data import (DataError, check_template, correct_answers_by_word, load_pairs, load_words,
                          normalize_text, source_text, split_by_word)
from seq2seq.errors import UserError
from tests.conftest import PAIRS, write_csv


def test_columns_are_mapped_to_source_target_correct(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["word", "wrong", "right"], [("borrow", "貸す", "借りる|借用する")])
    pairs = load_pairs(path, src_col="word", tgt_col="wrong", ref_col="right")
    assert list(pairs.columns) == ["source", "target", "correct"]
    assert pairs.iloc[0].tolist() == ["borrow", "貸す", ("借りる", "借用する")]


def test_reference_column_is_optional(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["English", "Japanese"], [("dog", "犬")])
    assert load_pairs(path).iloc[0]["correct"] == ()


def test_nfkc_turns_full_width_ascii_into_half_width_and_strips(tmp_path):
    assert normalize_text("  ＡＢＣ１２３ ") == "ABC123"
    path = write_csv(tmp_path / "x.csv", ["English", "Japanese"], [("ｂｏｒｒｏｗ\u3000", " ｶﾞｯｺｳ")])
    pairs = load_pairs(path)
    assert pairs.iloc[0][["source", "target"]].tolist() == ["borrow", "ガッコウ"]  # half-width kana → full-width


def test_exact_duplicate_pairs_are_dropped(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["English", "Japanese"],
                     [("dog", "犬"), ("dog", "犬"), ("dog", "狗"), ("ｄｏｇ", "犬")])
    assert load_pairs(path)["target"].tolist() == ["犬", "狗"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.csv", "missing.csv: file not found"),
        (lambda d: write_csv(d / "x.csv", ["English", "Kana"], [("dog", "いぬ")]), "no column 'Japanese'"),
        (lambda d: write_csv(d / "x.csv", ["English", "Japanese"], [("dog", "犬"), ("cat", " ")]),
         "x.csv, row 3: column 'Japanese' is empty"),
        (lambda d: _write_bytes(d / "x.csv", "English,Japanese\ndog,犬\n".encode("shift_jis")), "not UTF-8"),
        (lambda d: _write_bytes(d / "x.csv", b""), "file is empty"),
        (lambda d: write_csv(d / "x.csv", ["English", "Japanese"], []), "no rows under the header"),
    ],
)
def test_bad_input_gives_one_line_error_naming_file_and_place(tmp_path, make, message):
    with pytest.raises(DataError) as err:
        load_pairs(make(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def test_split_is_grouped_by_word_and_reproducible(pairs_csv):
    pairs = load_pairs(pairs_csv)
    splits = split_by_word(pairs, valid_fraction=0.2, test_fraction=0.2, seed=3)
    words = {name: set(split["source"].str.casefold()) for name, split in splits.items()}
    assert (not (words["train"] & words["valid"]) and not (words["train"] & words["test"])
            and not (words["valid"] & words["test"]))
    assert sum(len(split) for split in splits.values()) == len(pairs)
    n_words = pairs["source"].nunique()
    assert len(words["test"]) == round(0.2 * n_words) == len(words["valid"])
    again = split_by_word(pairs, 0.2, 0.2, seed=3)
    assert all(again[name].equals(splits[name]) for name in splits)
    other = split_by_word(pairs, 0.2, 0.2, seed=4)
    assert set(other["test"]["source"]) != words["test"]


def test_split_keeps_case_variants_of_a_word_together():
    pairs = pd.DataFrame({"source": ["Dog", "dog"] * 10 + [f"w{i}" for i in range(20)],
                          "target": [f"t{i}" for i in range(40)], "correct": [()] * 40})
    for seed in range(5):
        splits = split_by_word(pairs, 0.3, 0.3, seed)
        holders = [name for name, split in splits.items() if split["source"].str.casefold().eq("dog").any()]
        assert len(holders) == 1


def test_split_refuses_too_few_words():
    pairs = pd.DataFrame({"source": ["a", "b"], "target": ["x", "y"], "correct": [(), ()]})
    with pytest.raises(DataError, match=r"only 2 distinct source word\(s\).*needs at least 5 "):
        split_by_word(pairs, 0.5, 0.4, seed=0)


def test_correct_answers_include_targets_only_in_translation_mode(pairs_csv):
    pairs = load_pairs(pairs_csv)
    distractor_mode = correct_answers_by_word(pairs, targets_are_correct=False)
    assert distractor_mode["borrow"] == ["借りる"]
    assert len(distractor_mode) == len({english for english, _, _ in PAIRS})
    translation_mode = correct_answers_by_word(pairs, targets_are_correct=True)
    assert translation_mode["borrow"] == ["借りる", "貸す", "返す"]


def test_words_are_read_normalised(tmp_path):
    path = write_csv(tmp_path / "w.csv", ["English"], [("ａｄｏｐｔ",), ("river",)])
    assert load_words(path) == ["adopt", "river"]


def test_source_text_fills_the_template_with_sorted_answers():
    template = "{English} ⟨sep⟩ {Correct_Japanese}"
    assert (source_text(template, "borrow", ("借用", "借りる"), "English", "Correct_Japanese")
            == "borrow ⟨sep⟩ 借りる|借用")
    assert source_text("", "borrow", ("借りる",), "English", "Correct_Japanese") == "borrow"


@pytest.mark.parametrize("template, message", [
    ("{English} {Reading}", r"unknown placeholder \{Reading\}; use \{English\} and \{Correct_Japanese\}"),
    ("{English", "expected '}'"),
])
def test_bad_templates_are_refused(template, message):
    with pytest.raises(UserError, match=message):
        check_template(template, "English", "Correct_Japanese")
