"""seq2seq.lexicon: the one English-key normaliser, and the loaders of the shipped tables."""

import gzip

import pytest

from seq2seq.data import DataError
from seq2seq.lexicon import load_forms, load_rejection_index, normalize_gloss


@pytest.mark.parametrize(
    ("gloss", "key"),
    [
        ("to borrow", "borrow"),
        ("To Borrow (money)", "borrow"),
        ("dog (Canis (lupus) familiaris)", "dog"),
        ("a dog", "dog"),
        ("the land of the rising sun", "land of the rising sun"),
        ("an apple", "apple"),
        ("to  look   after", "look after"),
        ("Ｐｅｔ", "pet"),  # full-width letters, NFKC first
        ("(esp.) mountain", "mountain"),
        ("tomato", "tomato"),  # 'to' only goes as a whole word
        ("theory", "theory"),  # likewise 'the'
        ("broken (bracket", "broken bracket"),
    ],
)
def test_normalize_gloss(gloss, key):
    assert normalize_gloss(gloss) == key


def test_normalize_gloss_is_idempotent():
    for gloss in ("To Borrow (money)", "the  Dog", "an (old) apple"):
        once = normalize_gloss(gloss)
        assert normalize_gloss(once) == once


def test_load_rejection_index_splits_forms(tmp_path):
    path = tmp_path / "rejection.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("English,Japanese\nborrow,かりる|借りる|借用\ndog,いぬ|犬\n")
    index = load_rejection_index(path)
    assert index == {"borrow": frozenset({"借りる", "かりる", "借用"}), "dog": frozenset({"犬", "いぬ"})}


def test_load_rejection_index_names_a_missing_column(tmp_path):
    path = tmp_path / "rejection.csv"
    path.write_text("gloss,forms\nborrow,借りる\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"rejection\.csv: missing column\(s\) English, Japanese"):
        load_rejection_index(path)


def test_load_forms_keeps_commas_and_skips_blank_lines(tmp_path):
    path = tmp_path / "forms.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write('犬\n"引用"\nA,B\n\n')
    assert load_forms(path) == frozenset({"犬", '"引用"', "A,B"})


def test_loaders_name_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="nowhere.txt.gz: file not found"):
        load_forms(tmp_path / "nowhere.txt.gz")
    with pytest.raises(DataError, match="nowhere.csv.gz: file not found"):
        load_rejection_index(tmp_path / "nowhere.csv.gz")
