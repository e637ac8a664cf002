"""The corpus builder's rules on a miniature JMdict, and the shipped files in data/ as they are.

Neither the JMdict database nor the embedding model is needed: the builder reads a SQLite file made
here from tests/fixtures/corpus/mini_jmdict.sql, and meaning-closeness is given by hand.
"""

import gzip
import hashlib
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
sys.path.insert(0, str(DATA))

from jmdict_corpus import distractors as mining
from jmdict_corpus.embedding import band_neighbours
from jmdict_corpus.english import same_family, same_stem, spelling_neighbours, stem
from jmdict_corpus.entries import Sense, coarse_pos, headword, is_common, reading
from jmdict_corpus.jmdict_db import read_entries
from jmdict_corpus.output import write_csv_gz, write_lines_gz
from jmdict_corpus.reference import (
    LexiconRow,
    all_forms,
    is_english_key,
    lexicon_rows,
    rejection_index,
)
from jmdict_corpus.summary import script, summary

from seq2seq.lexicon import load_forms, load_rejection_index


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("jmdict") / "mini.db"
    with sqlite3.connect(db_path) as db:
        db.executescript((ROOT / "tests/fixtures/corpus/mini_jmdict.sql").read_text(encoding="utf-8"))
    return {entry.idseq: entry for entry in read_entries(db_path)}


@pytest.fixture(scope="module")
def rows(entries):
    return lexicon_rows(list(entries.values()), max_words=1)


# --- one entry: common?, headword, reading, POS ------------------------------------------------------


def test_common_rule_needs_a_top_priority_on_some_form(entries):
    common = {idseq for idseq, entry in entries.items() if is_common(entry)}
    assert 1006 not in common  # news2 only
    assert {1007, 1008} <= common  # common through the kana form only; gai1 counts
    assert len(common) == len(entries) - 1


def test_headword_is_first_common_kanji_or_kana_when_usually_kana(entries):
    assert headword(entries[1002]) == "犬"  # 狗 comes first but is not common
    assert headword(entries[1007]) == "そこ"  # 其処 is not common, and the sense says kana
    assert headword(entries[1008]) == "ペット"  # no kanji at all


def test_reading_skips_a_kana_form_limited_to_other_kanji(entries):
    assert reading(entries[1011]) == "にほん"  # やまと is for 大和 only
    assert reading(entries[1007]) == "そこ"


@pytest.mark.parametrize(
    ("tags", "coarse"),
    [
        (("Ichidan verb", "transitive verb"), "verb"),
        (("noun or participle which takes the aux. verb suru",), "noun"),  # says "verb", is a noun
        (("adverb (fukushi)", "noun (common) (futsuumeishi)"), "adverb"),
        (("adjectival nouns or quasi-adjectives (keiyodoshi)", "noun (common) (futsuumeishi)"), "adjective"),
        (("auxiliary verb",), None),
        (("noun, used as a suffix",), None),
        (("particle",), None),
        (("expressions (phrases, clauses, etc.)",), None),
    ],
)
def test_coarse_pos(tags, coarse):
    assert coarse_pos(Sense(pos=tags, misc=(), glosses=())) == coarse


# --- the lexicon, the rejection index, the forms -----------------------------------------------------


def test_lexicon_keeps_common_first_senses_with_plain_keys(rows):
    pairs = {(row.english, row.japanese) for row in rows}
    assert {("borrow", "借りる"), ("rent", "借りる"), ("dog", "犬"), ("pet", "ペット"), ("there", "そこ")} <= pairs
    assert ("japan", "日本") in pairs
    assert ("have a loan", "借りる") not in pairs  # two words, max_words=1
    assert ("borrow", "借用") not in pairs  # not a common entry


def test_lexicon_skips_marked_senses_late_senses_and_function_words(rows):
    keys = {row.english for row in rows}
    assert "loser" in keys  # sense 3 of 犬
    assert "snitch" not in keys  # derogatory
    assert "counterfeit" not in keys  # sense 4
    assert "say" not in keys  # archaic
    assert "et cetera" not in keys and not any(row.japanese == "など" for row in rows)  # a particle


def test_lexicon_rows_carry_reading_pos_and_sense_number(rows):
    by_pair = {(row.english, row.japanese): row for row in rows}
    assert by_pair["rent", "借りる"] == LexiconRow("rent", "借りる", "かりる", "verb", 2)
    assert by_pair["dog", "犬"].pos == "noun"
    assert rows == sorted(rows)


@pytest.mark.parametrize(
    ("key", "max_words", "plain"),
    [("borrow", 1, True), ("t-shirt", 1, True), ("o'clock", 1, True), ("look after", 1, False),
     ("look after", 2, True), ("methyl-", 1, False), ("cd player", 2, True), ("3d", 1, False),
     ("", 1, False)],
)
def test_is_english_key(key, max_words, plain):
    assert is_english_key(key, max_words) is plain


def test_max_words_admits_short_phrases(entries):
    pairs = {(row.english, row.japanese) for row in lexicon_rows(list(entries.values()), max_words=3)}
    assert ("have a loan", "借りる") in pairs
    assert ("land of the rising sun", "日本") not in pairs  # five words


def test_rejection_index_has_every_form_of_every_entry(entries):
    index = rejection_index(list(entries.values()))
    assert index["borrow"] == {"借りる", "かりる", "借用", "しゃくよう"}  # 借用 is not common, still rejected
    assert index["dog"] == {"犬", "狗", "いぬ"}  # the uncommon kanji form too
    assert index["snitch"] == {"犬", "狗", "いぬ"}  # skipped senses still count as correct
    assert index["counterfeit"] == {"犬", "狗", "いぬ"}


def test_all_forms_are_normalised(entries):
    forms = all_forms(list(entries.values()))
    assert {"狗", "犬", "いぬ", "其処", "そこ", "ペット", "やまと"} <= forms
    assert len(forms) == 24


# --- English-side closeness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("river", "rivers", True),
        ("economic", "economy", True),
        ("happy", "happiness", True),
        ("quick", "quickly", True),
        ("protect", "protection", True),
        ("adopt", "adapt", False),
        ("bride", "bridge", False),
        ("borrow", "lend", False),
    ],
)
def test_same_stem(first, second, same):
    assert same_stem(first, second) is same


@pytest.mark.parametrize(
    ("first", "second", "family"),
    [
        ("hunger", "hungry", True),
        ("decide", "decision", True),
        ("child", "children", True),
        ("river", "rivers", True),
        ("protect", "protest", False),
        ("poet", "poem", False),
        ("look after", "look for", False),
    ],
)
def test_same_family_is_looser_than_same_stem(first, second, family):
    assert same_family(first, second) is family


def test_stem_keeps_three_letters():
    assert stem("uses") == "use"  # 'es' would leave only 'us'
    assert stem("bed") == "bed"


def test_spelling_neighbours_within_two_edits_of_long_keys():
    pytest.importorskip("rapidfuzz")
    neighbours = spelling_neighbours(["adopt", "adapt", "adopted", "dog", "dig", "abandon", "xylophone"])
    assert neighbours["adopt"] == [("adapt", 1)]  # 'adopted' is the same word
    assert "dog" not in neighbours  # under four letters
    assert neighbours["xylophone"] == []


def test_band_neighbours_keep_cosines_inside_the_band():
    import numpy as np

    keys = ["a", "b", "c", "d", "e"]
    angles = np.radians([0, 30, 60, 89, 50])  # cosines with 'a': 1.0, 0.87, 0.5, 0.02, 0.64
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    found = band_neighbours(keys, vectors, low=0.45, high=0.85, top=5)
    assert [other for other, _ in found["a"]] == ["e", "c"]  # closest first; b synonym, d unrelated, a itself
    assert found["a"][1][1] == pytest.approx(0.5, abs=1e-5)
    assert band_neighbours(keys, vectors, low=0.45, high=0.85, top=1)["a"] == found["a"][:1]


# --- mining distractors ------------------------------------------------------------------------------


@pytest.fixture
def vocabulary(rows, entries):  # fresh for each test: some tests add words to it
    return mining.build_vocabulary(rows, list(entries.values()))


def fake_similarity(first, second):
    return 0.5


def test_semantic_candidate_comes_through_first_sense_and_passes(vocabulary, entries):
    rejection = rejection_index(list(entries.values()))
    candidates = mining.semantic_candidates("borrow", [("lend", 0.8), ("hire", 0.7)], vocabulary)
    # 'hire' is sense 2
    assert [(c.japanese, c.kind, c.score) for c in candidates] == [("貸す", "semantic", 0.8)]
    assert mining.ranked_candidates("borrow", {"semantic": candidates}, vocabulary, rejection) == candidates


def test_semantic_candidates_drop_same_stem_neighbours(vocabulary):
    assert mining.semantic_candidates("dogs", [("dog", 0.8)], vocabulary) == []
    assert not same_stem("japanese", "japan")
    assert mining.semantic_candidates("japanese", [("japan", 0.8)], vocabulary) == []  # one family


def test_candidates_in_the_rejection_index_or_of_another_pos_are_refused(vocabulary, entries):
    rejection = rejection_index(list(entries.values()))
    correct = mining.Candidate("借りる", "verb", "semantic", 0.8)
    noun = mining.Candidate("橋", "noun", "semantic", 0.6)
    assert not mining.is_near_miss("rent", correct, vocabulary, rejection)  # a correct answer
    assert not mining.is_near_miss("borrow", noun, vocabulary, rejection)  # borrow is a verb
    assert mining.is_near_miss("dog", noun, vocabulary, rejection)


def test_a_candidate_glossed_with_the_key_or_its_stem_is_refused(vocabulary):
    vocabulary.gloss_terms["犬小屋"] = {"dog kennel", "dog", "kennel"}
    vocabulary.gloss_terms["保護"] = {"protection", "protect"}
    kennel = mining.Candidate("犬小屋", "noun", "semantic", 0.7)
    assert not mining.is_near_miss("dog", kennel, vocabulary, {})
    vocabulary.correct["protect"] = [LexiconRow("protect", "守る", "まもる", "noun", 1)]
    assert not mining.is_near_miss("protect", mining.Candidate("保護", "noun", "semantic", 0.7), vocabulary, {})


def test_homophones_share_the_reading_and_differ_in_kanji(vocabulary):
    found = mining.homophone_candidates("bridge", vocabulary, fake_similarity)
    assert sorted(c.japanese for c in found) == ["端", "箸"]
    assert mining.homophone_candidates("pet", vocabulary, fake_similarity) == []  # ペット has no kanji


def test_orthographic_candidates_drop_spelling_variants(vocabulary):
    vocabulary.first_sense["colour"] = {("色", "noun")}
    vocabulary.first_sense["dot"] = {("点", "noun")}
    cosines = {"colour": 0.95, "dot": 0.3}
    found = mining.orthographic_candidates(
        "dog", [("colour", 1), ("dot", 1)], vocabulary, lambda key, other: cosines[other], high=0.85
    )
    assert [(c.japanese, c.kind) for c in found] == [("点", "orthographic")]


def test_ranked_candidates_take_kinds_in_turn_and_drop_repeats(vocabulary):
    def cands(kind, *words):
        return [mining.Candidate(word, "noun", kind, 0.5) for word in words]

    by_kind = {
        "semantic": cands("semantic", "s1", "s2", "s3", "s4"),
        "orthographic": cands("orthographic", "o1", "s2"),
        "homophone": cands("homophone", "h1"),
    }
    ranked = mining.ranked_candidates("dog", by_kind, vocabulary, {})
    assert [c.japanese for c in ranked] == ["s1", "o1", "s2", "h1", "s3", "s4"]


def test_cap_limits_how_often_one_word_is_used():
    popular = mining.Candidate("人", "noun", "semantic", 0.6)
    ranked = {f"key{i}": [popular, mining.Candidate(f"w{i}", "noun", "semantic", 0.5)] for i in range(12)}
    chosen = mining.select_with_cap(ranked, per_key=2, cap=3, seed=1)
    uses = [c.japanese for picks in chosen.values() for c in picks]
    assert uses.count("人") == 3
    assert all(len(picks) in (1, 2) for picks in chosen.values()) and len(uses) == 12 + 3
    assert chosen == mining.select_with_cap(ranked, per_key=2, cap=3, seed=1)  # same seed, same picks


# --- reproducible files ------------------------------------------------------------------------------


def test_gzip_output_is_byte_for_byte_reproducible(tmp_path):
    digests = set()
    for name in ("one.csv.gz", "two.csv.gz"):
        write_csv_gz(tmp_path / name, ("English", "Japanese"), [("dog", "犬"), ("a,b", 'x"y')])
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1
    assert (tmp_path / "one.csv.gz").read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime field
    assert pd.read_csv(tmp_path / "one.csv.gz").values.tolist() == [["dog", "犬"], ["a,b", 'x"y']]
    assert write_lines_gz(tmp_path / "f.txt.gz", ["犬", "猫"]) == 2
    assert gzip.decompress((tmp_path / "f.txt.gz").read_bytes()).decode() == "犬\n猫\n"


# --- the shipped files -------------------------------------------------------------------------------


def read_shipped(name):
    return pd.read_csv(DATA / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def shipped_lexicon():
    return read_shipped("lexicon.csv.gz")


@pytest.fixture(scope="module")
def shipped_distractors():
    return read_shipped("distractors.csv.gz")


def test_shipped_lexicon(shipped_lexicon):
    assert list(shipped_lexicon.columns) == ["English", "Japanese", "reading", "pos", "sense"]
    assert 15_000 <= shipped_lexicon["English"].nunique() <= 20_000
    assert 40_000 <= len(shipped_lexicon) <= 52_000
    assert set(shipped_lexicon["pos"]) == {"noun", "verb", "adjective", "adverb"}
    assert set(shipped_lexicon["sense"]) <= {"1", "2", "3"}
    assert not shipped_lexicon.duplicated(["English", "Japanese"]).any()
    borrow = set(shipped_lexicon.loc[shipped_lexicon["English"] == "borrow", "Japanese"])
    assert "借りる" in borrow and "貸す" not in borrow


def test_shipped_distractors_have_their_columns_kinds_and_cap(shipped_distractors):
    frame = shipped_distractors
    assert list(frame.columns) == ["English", "Japanese", "Correct_Japanese", "kind", "score"]
    assert set(frame["kind"]) == {"semantic", "orthographic", "homophone"}
    per_key = frame.groupby("English").size()
    assert per_key.max() == 20 and per_key.mean() > 13
    assert frame["Japanese"].value_counts().max() <= 20
    assert frame["score"].astype(float).between(-1, 1).all()


def test_shipped_distractors_are_never_correct(shipped_distractors, shipped_lexicon):
    rejection = load_rejection_index(DATA / "rejection.csv.gz")
    wrong = [
        (english, japanese)
        for english, japanese in zip(shipped_distractors["English"], shipped_distractors["Japanese"])
        if japanese in rejection.get(english, ())
    ]
    assert wrong == []
    correct = shipped_lexicon.groupby("English")["Japanese"].agg(lambda words: "|".join(sorted(words)))
    assert (shipped_distractors["Correct_Japanese"] == shipped_distractors["English"].map(correct)).all()
    borrow = set(shipped_distractors.loc[shipped_distractors["English"] == "borrow", "Japanese"])
    assert "貸す" in borrow


def test_shipped_rejection_index_and_forms():
    rejection = read_shipped("rejection.csv.gz")
    assert list(rejection.columns) == ["English", "Japanese"]
    assert rejection["English"].is_unique and rejection["English"].is_monotonic_increasing
    assert len(rejection) > 150_000
    forms = load_forms(DATA / "ja_forms.txt.gz")
    assert len(forms) > 350_000 and {"借りる", "かりる", "犬", "狗"} <= forms
    lines = gzip.decompress((DATA / "ja_forms.txt.gz").read_bytes()).decode("utf-8").splitlines()
    assert lines == sorted(set(lines))


def test_readme_numbers_are_those_of_the_shipped_files():
    assert summary(DATA) in (DATA / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("word", "name"),
    [("橋", "kanji"), ("借りる", "kanji"), ("めでたい", "hiragana"), ("ブリッジ", "katakana"), ("Tシャツ", "other")],
)
def test_script_of_a_headword(word, name):
    assert script(word).startswith(name)


def test_shipped_licence_is_the_edrdg_statement():
    text = (DATA / "LICENSE-JMdict").read_text(encoding="utf-8")
    assert "ELECTRONIC DICTIONARY RESEARCH AND DEVELOPMENT GROUP" in text
    assert "Creative Commons Attribution-ShareAlike" in text


def test_the_class_slice_is_the_verbs_of_the_shipped_corpus():
    """data/class_verbs.csv.gz is what data/build_class_slice.py makes of the shipped files: every row of a
    word whose answers are all verbs, unchanged."""
    from build_class_slice import SLICE, verb_rows

    shipped = read_shipped(SLICE)
    rebuilt = verb_rows(read_shipped("distractors.csv.gz"),
                        read_shipped("lexicon.csv.gz")).reset_index(drop=True)
    pd.testing.assert_frame_equal(shipped, rebuilt)
    verbs = set(read_shipped("lexicon.csv.gz").query("pos == 'verb'")["Japanese"])
    answers = {answer for cell in shipped["Correct_Japanese"] for answer in cell.split("|")}
    assert 6000 <= len(shipped) <= 12000 and answers <= verbs
