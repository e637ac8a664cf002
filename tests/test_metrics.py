"""seq2seq/metrics.py and seq2seq/baselines.py on hand-made examples, every expected number worked out
here."""
import pandas as pd
import pytest

from seq2seq.baselines import (RetrievalIndex, corpus_baseline, jaccard, kanji_baseline, padded_ngrams,
                               random_baseline, retrieval_baseline)
from seq2seq.metrics import (Item, chrf, closeness, distinct, edit_distance, exact_match_rate, is_valid,
                             is_wrong, nearest_correct, normalized_edit_distance, paired_difference, same_pos,
                             same_script, score, script_of, shared_share)

POS = {"借りる": frozenset({"verb"}), "貸す": frozenset({"verb"}), "貸し出す": frozenset({"verb"}),
       "川": frozenset({"noun"}), "川岸": frozenset({"noun"})}


# --- edit distance ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, expected", [
    ("借りる", "貸す", 3),  # no character in common: two substitutions and one deletion
    ("貸す", "貸し出す", 2),  # insert し and 出
    ("kitten", "sitting", 3),  # k→s, e→i, insert g
    ("", "", 0),
    ("", "abc", 3),
    ("川", "川", 0),
])
def test_edit_distance(a, b, expected):
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("借りる", "貸す", 3 / 3), ("貸す", "貸し出す", 2 / 4), ("", "", 0.0), ("", "abc", 1.0),
    ("kitten", "sitting", 3 / 7),
])
def test_normalized_edit_distance_divides_by_the_longer_length(a, b, expected):
    assert normalized_edit_distance(a, b) == pytest.approx(expected)


def test_nearest_correct_takes_each_minimum_over_the_answers():
    # 貸し出す: 4 edits (4/4) from 借りる, 2 edits (2/4) from 貸す
    assert nearest_correct("貸し出す", ["借りる", "貸す"]) == (2, 0.5)
    # 'ab': 4 edits (4/6) from 'abcdef', 2 edits (2/2) from 'x': the two minima come from different answers
    nearest = nearest_correct("ab", ["abcdef", "x"])
    assert nearest.distance == 2 and nearest.normalized == pytest.approx(4 / 6)
    assert nearest_correct("貸す", []) is None


# --- wrong and real -----------------------------------------------------------------------------------------


def test_is_wrong_and_is_valid():
    assert not is_wrong("借りる", {"借りる", "かりる"})
    assert is_wrong("貸す", {"借りる", "かりる"})
    assert is_wrong("貸す", [])
    assert is_valid("貸す", frozenset({"貸す", "借りる"}))
    assert not is_valid("貸すす", frozenset({"貸す", "借りる"}))


# --- closeness ---------------------------------------------------------------------------------------------


def test_chrf_on_hand_counted_ngrams():
    # 貸し出す vs 貸す: unigrams 2 of 4 (P) and 2 of 2 (R) shared; bigrams 貸し,し出,出す vs 貸す: none shared.
    # P = (1/2 + 0)/2 = 1/4, R = (1 + 0)/2 = 1/2, F1 = 2·(1/4)(1/2)/(3/4) = 1/3
    assert chrf("貸し出す", "貸す") == pytest.approx(1 / 3)
    # 川岸 vs 川: unigrams P 1/2, R 1; 川 has no bigram, so only n = 1 counts: F1 = 2·(1/2)·1/(3/2) = 2/3
    assert chrf("川岸", "川") == pytest.approx(2 / 3)
    assert chrf("かりる", "かりる") == pytest.approx(1.0)
    assert chrf("池", "川") == 0.0
    assert chrf("", "川") == 0.0


def test_closeness_is_zero_for_a_copy_and_none_without_answers():
    assert closeness("借りる", ["借りる"]) == 0.0  # chrF would be 1: the key is not a distractor
    assert closeness("かりる", ["借りる"], rejected={"かりる"}) == 0.0  # a rejected form is a copy too
    # the most similar answer counts: 0 against 借りる, 1/3 against 貸す
    assert closeness("貸し出す", ["借りる", "貸す"]) == pytest.approx(1 / 3)
    assert closeness("貸す", []) is None


# --- script and part of speech ------------------------------------------------------------------------------


@pytest.mark.parametrize("word, script", [
    ("借りる", "kanji"), ("川", "kanji"), ("ノート型", "kanji"), ("時々", "kanji"), ("かりる", "hiragana"),
    ("カウンセラー", "katakana"), ("ラーメン", "katakana"), ("ひらカタ", "mixed"), ("Tシャツ", "mixed"),
    ("OK", "latin"), ("café", "latin"), ("123", "other"), ("", "other"), ("・", "other"),
    ("すげー", "hiragana"), ("ジョン・スミス", "katakana"),
])
def test_script_of(word, script):
    assert script_of(word) == script


def test_same_script_against_any_answer():
    assert same_script("皮", ["川"]) is True
    assert same_script("リバー", ["川"]) is False
    assert same_script("リバー", ["川", "カワ"]) is True
    assert same_script("皮", []) is None


def test_same_pos_is_none_when_the_table_does_not_know_both():
    assert same_pos("貸す", ["借りる"], POS) is True
    assert same_pos("川", ["借りる"], POS) is False
    assert same_pos("未知", ["借りる"], POS) is None  # candidate unknown
    assert same_pos("貸す", ["未知"], POS) is None  # no answer known
    assert same_pos("貸す", ["未知", "借りる"], POS) is True  # one known answer is enough


def test_same_pos_prefers_the_english_words_own_pos():
    table = {**POS, "なす": frozenset({"noun"})}  # なす: 'accomplish' (verb), and also the noun 'eggplant'
    assert same_pos("川", ["なす"], table) is True  # by the table alone, the noun counts
    assert same_pos("川", ["なす"], table, answer_pos=frozenset({"verb"})) is False  # accomplish is a verb
    assert same_pos("貸す", ["なす"], table, answer_pos=frozenset({"verb"})) is True


# --- lists of outputs ---------------------------------------------------------------------------------------


def test_distinct_counts_against_the_n_asked_for():
    assert distinct(["貸す", "貸す", "返す"], 5) == pytest.approx(2 / 5)
    assert distinct([], 3) == 0.0
    assert distinct(["a", "b", "c", "d"], 3) == 1.0


def test_shared_share_counts_outputs_given_for_more_than_one_word():
    # outputs x y | x z | w: the two x are shared, 2 of 5
    assert shared_share([["x", "y"], ["x", "z"], ["w"]]) == pytest.approx(2 / 5)
    assert shared_share([["x", "x"], ["y"]]) == 0.0  # twice for one word is not across words
    assert shared_share([[], []]) == 0.0


def test_exact_match_rate():
    assert exact_match_rate(["犬", None, "池"], [{"犬"}, {"猫"}, {"川", "河"}]) == pytest.approx(1 / 3)
    assert exact_match_rate([], []) is None


# --- scoring a system -------------------------------------------------------------------------------------


def test_score_averages_per_word_first_then_over_words():
    lend = Item("lend", frozenset({"貸す"}), ["貸し出す", "池"], frozenset({"かす"}))
    river = Item("river", frozenset({"川"}), ["川", "河", "川岸", "池"], frozenset({"河", "かわ"}),
                 frozenset({"池", "湖"}))
    known_forms = frozenset({"貸し出す", "池", "川", "河"})  # 川岸 left out: not a real word here
    scores = score([lend, river], 4, known_forms, POS)

    rows = {(row["word"], row["candidate"]): row for row in scores.items}
    copy = rows["river", "河"]  # in the rejected set: not a distractor, so only wrong and closeness are said
    assert (copy["wrong"], copy["closeness"], copy["edit_distance"], copy["same_script"], copy["mined"]) == (
        False, 0.0, None, None, None)
    bank = rows["river", "川岸"]
    assert (bank["closeness"] == pytest.approx(2 / 3)
            and (bank["edit_distance"], bank["edit_distance_norm"]) == (1, 0.5))
    assert (bank["valid"], bank["same_script"], bank["same_pos"], bank["mined"]) == (False, True, True, False)
    assert rows["river", "池"]["same_pos"] is None and rows["river", "池"]["mined"] is True
    assert rows["lend", "池"]["shared"] and not rows["lend", "貸し出す"]["shared"]

    # lend: 貸し出す (closeness 1/3, edit 2/4) and 池 (closeness 0, edit 2/2), both wrong, both real
    # river: 川 and 河 copies; 川岸 (2/3, 1/2, not real), 池 (0, 1/1, a mined distractor)
    lend_row, river_row = scores.words
    assert lend_row["distinct"] == 0.5 and river_row["distinct"] == 1.0
    assert lend_row["wrong"] == 1.0 and river_row["wrong"] == 0.5
    assert lend_row["closeness"] == pytest.approx(1 / 6) and river_row["closeness"] == pytest.approx(1 / 6)
    assert (lend_row["edit_distance_norm"] == pytest.approx(0.75)
            and river_row["edit_distance_norm"] == pytest.approx(0.75))
    assert lend_row["mined"] is None and river_row["mined"] == 0.5

    summary = scores.summary
    assert summary["words"] == 2
    assert summary["wrong"] == pytest.approx((1 + 0.5) / 2)  # per word first: not 4 wrong of 6 candidates
    assert summary["distinct"] == pytest.approx(0.75)
    assert summary["valid"] == pytest.approx((1 + 3 / 4) / 2)
    assert summary["closeness"] == pytest.approx(1 / 6)
    assert summary["same_pos"] == 1.0  # 貸し出す (lend) and 川岸 (river) agree; the 池 rows are unknown
    assert summary["mined"] == 0.5  # only river has mined distractors
    assert summary["shared"] == pytest.approx(2 / 6)  # 池, for both words
    assert summary["most_repeated"] == {"output": "池", "words": 2}


def test_score_without_tables_leaves_their_measures_unknown():
    summary = score([Item("lend", frozenset({"貸す"}), ["貸し出す"])], 1).summary
    assert summary["valid"] is None and summary["same_pos"] is None and summary["mined"] is None
    assert summary["wrong"] == 1.0
    empty = score([Item("lend", frozenset({"貸す"}), [])], 3).summary
    assert empty["distinct"] == 0.0 and empty["closeness"] is None and empty["most_repeated"] is None


# --- baselines ----------------------------------------------------------------------------------------------

TABLE = {form: frozenset({"verb"}) for form in ("借りる", "借り入れる", "貸す", "返す", "盗む", "走る", "しまう")}
TABLE.update({form: frozenset({"noun"}) for form in ("川", "池", "湖", "リバー", "なす")})
KANJI_VERBS = {"借りる", "借り入れる", "貸す", "返す", "盗む", "走る"}


def test_random_baseline_draws_the_answers_class_never_an_answer_and_repeats_with_a_seed():
    words, correct = ["borrow", "river"], [frozenset({"借りる"}), frozenset({"川"})]
    rejected = [frozenset({"借りる", "かりる", "借り入れる"}), frozenset({"川", "かわ"})]
    first = random_baseline(words, correct, rejected, TABLE, 3, seed=5)
    assert first == random_baseline(words, correct, rejected, TABLE, 3, seed=5)
    borrow, river = first
    # kanji verbs
    assert len(borrow) == 3 and len(set(borrow)) == 3 and set(borrow) <= KANJI_VERBS - rejected[0]
    assert set(river) == {"池", "湖"}  # the only kanji nouns left; リバー is katakana
    # not order-bound
    assert random_baseline(["borrow"], correct[:1], rejected[:1], TABLE, 3, seed=5) == [borrow]
    draws = {tuple(random_baseline(words[:1], correct[:1], rejected[:1], TABLE, 3, seed)[0])
             for seed in range(10)}
    assert len(draws) > 1  # the seed matters


def test_random_baseline_takes_the_english_words_pos_when_given():
    # なす is a noun in the table, but for 'accomplish' it is a verb: a hiragana verb is drawn
    # by the table alone it is a hiragana noun, and there is no other: nothing to draw
    assert random_baseline(["accomplish"], [frozenset({"なす"})], [frozenset({"なす"})], TABLE, 3, 0) == [[]]
    found = random_baseline(["accomplish"], [frozenset({"なす"})], [frozenset({"なす"})], TABLE, 3, 0,
                            answer_pos=[frozenset({"verb"})])
    assert found == [["しまう"]]  # the only hiragana verb


def test_random_baseline_falls_back_to_the_script_when_the_pos_is_unknown():
    [found] = random_baseline(["thing"], [frozenset({"未知語"})], [frozenset({"未知語"})], TABLE, 20, seed=0)
    # every kanji headword, any POS
    assert set(found) == {form for form in TABLE if script_of(form) == "kanji"}


# the kanji baseline's table: TABLE and words sharing 借, 貸, 川 or 知 with an answer
KANJI_TABLE = {**TABLE, **{form: frozenset({"verb"}) for form in ("借り切る", "貸し出す", "知る")},
               **{form: frozenset({"noun"}) for form in ("借金", "借家", "貸家", "川岸", "小川", "川上", "語学")}}


def test_kanji_baseline_shares_a_kanji_and_the_pos_never_a_rejected_form():
    words = ["borrow", "river", "pet"]
    correct = [frozenset({"借りる"}), frozenset({"川"}), frozenset({"ペット"})]
    rejected = [frozenset({"借りる", "かりる", "借り入れる"}), frozenset({"川", "かわ"}), frozenset({"ペット"})]
    borrow, river, pet = kanji_baseline(words, correct, rejected, KANJI_TABLE, 3, seed=5)
    assert borrow == ["借り切る"]  # 借り入れる rejected; 借金 and 借家 are nouns: fewer than n, no fallback
    assert len(river) == 3 and set(river) == {"川岸", "小川", "川上"}  # every noun with 川 but 川 itself
    assert pet == []  # no kanji in the answer
    [unrejected] = kanji_baseline(["borrow"], correct[:1], [frozenset({"借りる"})], KANJI_TABLE, 3, seed=5)
    assert sorted(unrejected) == ["借り入れる", "借り切る"]  # not rejected now: drawn too


def test_kanji_baseline_repeats_with_a_seed_and_takes_the_given_pos():
    args = (["river"], [frozenset({"川"})], [frozenset({"川"})], KANJI_TABLE, 2)
    draws = {tuple(kanji_baseline(*args, seed=seed)[0]) for seed in range(10)}
    assert kanji_baseline(*args, seed=3) == kanji_baseline(*args, seed=3)
    assert len(draws) > 1 and all(set(draw) <= {"川岸", "小川", "川上"} and len(draw) == 2 for draw in draws)
    lend = kanji_baseline(["lend"], [frozenset({"貸す"})], [frozenset({"貸す"})], KANJI_TABLE, 3, 0,
                          answer_pos=[frozenset({"noun"})])
    assert lend == [["貸家"]]  # the English word's POS wins over the table's (貸し出す is a verb)
    [unknown] = kanji_baseline(["knowledge"], [frozenset({"知識語"})], [frozenset()], KANJI_TABLE, 5, 0)
    assert set(unknown) == {"知る", "語学"}  # no POS known for the answer: any POS


def test_corpus_baseline_is_the_words_own_targets_in_order_less_rejected():
    train = pairs([("borrow", "貸す"), ("lend", "借りる"), ("Borrow", "借りる"), ("borrow", "返す"), ("borrow", "貸す"),
                   ("borrow", "盗む")])
    rejected = [frozenset({"借りる"}), frozenset()]
    assert corpus_baseline(["borrow", "xyz"], rejected, train, 5) == [["貸す", "返す", "盗む"], []]
    assert corpus_baseline(["borrow"], rejected[:1], train, 2) == [["貸す", "返す"]]  # the first n


def pairs(rows):
    return pd.DataFrame({"source": [r[0] for r in rows], "target": [r[1] for r in rows],
                         "correct": [()] * len(rows)})


def test_padded_trigrams_and_jaccard():
    assert padded_ngrams("Borrow") == {"<bo", "bor", "orr", "rro", "row", "ow>"}
    # <borrower>: <bo bor orr rro row owe wer er>; 5 shared of 6 + 8 - 5 = 9
    assert jaccard(padded_ngrams("borrow"), padded_ngrams("borrower")) == pytest.approx(5 / 9)
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_retrieval_takes_the_nearest_training_words_distractors_never_its_own_or_a_correct_one():
    train = pairs([("borrow", "貸す"), ("borrower", "借り手"), ("borrower", "貸し手"), ("bow", "弓"), ("lend", "返す")])
    index = RetrievalIndex(train, leave_out={"borrow"})
    # bow: <bo bow ow>, 2 shared with borrow's 6: 2 / (6 + 3 - 2); lend shares nothing
    assert index.nearest("borrow") == [(pytest.approx(5 / 9), "borrower"), (pytest.approx(2 / 7), "bow")]
    rejected = [frozenset({"借りる", "借り手"})]
    # 借り手 is correct; 貸す is borrow's
    assert retrieval_baseline(["borrow"], rejected, train, 2) == [["貸し手", "弓"]]
    # no more neighbours: fewer than n
    assert retrieval_baseline(["borrow"], rejected, train, 5) == [["貸し手", "弓"]]
    assert retrieval_baseline(["xyz"], [frozenset()], train, 2) == [[]]


def test_a_constant_paired_difference_has_no_spread_and_is_clear():
    reference = [0.2, 0.4, None, 0.6]
    difference = paired_difference(reference, [0.7, 0.9, 0.5, 1.1])  # +0.5 on every word both know
    assert difference.words == 3  # the word the reference has no value for is left out
    assert difference.mean == pytest.approx(0.5) and difference.low == pytest.approx(0.5)
    assert difference.high == pytest.approx(0.5) and difference.clear
    assert paired_difference(reference, reference).clear is False  # no difference at all
    assert paired_difference([None, 0.1], [0.3, None]) is None  # no word has both


def test_a_paired_difference_that_changes_sign_is_not_clear_and_repeats_with_its_seed():
    reference = [0.0] * 40
    system = [1.0, -1.0] * 20  # mean 0: better on half the words, worse on the other half
    difference = paired_difference(reference, system, seed=3)
    assert difference.mean == 0.0 and difference.low < 0 < difference.high and not difference.clear
    assert difference == paired_difference(reference, system, seed=3)
    assert -0.5 < difference.low and difference.high < 0.5  # the mean of 40 ±1 values moves by about ±0.3
    shifted = paired_difference(reference, [value + 0.8 for value in system], seed=3)
    assert shifted.clear and shifted.low > 0  # the same spread around +0.8 leaves out 0
