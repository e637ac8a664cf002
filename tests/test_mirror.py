import pandas as pd

from seq2seq.mirror import mirrored_pairs


def pairs(rows):
    return pd.DataFrame([(s, t, tuple(c.split("|"))) for s, t, c in rows], columns=["source", "target", "correct"])


CORPUS = pairs([
    ("borrow", "貸す", "借りる"),
    ("borrow", "返す", "借りる"),
    ("steal", "貸す", "盗む"),
    ("steal", "借りる", "盗む"),
    ("lend", "売る", "貸す|貸し出す"),
    ("return", "戻る", "返す"),
])


def test_a_near_miss_of_an_answer_gets_that_answer_back():
    mirrored = mirrored_pairs(CORPUS, 5)
    rows = set(mirrored[["source", "target"]].itertuples(index=False, name=None))
    # 貸す (lend's answer) was a near miss of borrow (借りる) and of steal (盗む): both come back to lend.
    # 返す (return's answer) was a near miss of borrow; 借りる (borrow's) one of steal.
    assert rows == {("lend", "借りる"), ("lend", "盗む"), ("return", "借りる"), ("borrow", "盗む")}
    lend = mirrored[mirrored["source"] == "lend"]
    assert set(lend["correct"]) == {("貸し出す", "貸す")}  # the word's own answers, sorted, as in training rows


def test_best_supported_first_and_at_most_per_word():
    corpus = pd.concat([CORPUS, pairs([("rob", "貸す", "盗む"), ("rob", "売る", "奪う")])], ignore_index=True)
    # lend (answer 貸す): 盗む is pointed back to by two rows (steal's and rob's), 借りる by one (borrow's).
    # rob's row 売る → 奪う says nothing about lend: 売る is lend's target, not its answer.
    lend = mirrored_pairs(corpus, 1)
    assert lend[lend["source"] == "lend"]["target"].tolist() == ["盗む"]
    assert mirrored_pairs(corpus, 1)["source"].value_counts().max() == 1


def test_never_a_known_answer_target_or_a_form_the_rejection_index_calls_correct():
    corpus = pd.concat([CORPUS, pairs([("lend", "借りる", "貸す|貸し出す")])], ignore_index=True)
    lend = mirrored_pairs(corpus, 5)
    assert "借りる" not in set(lend[lend["source"] == "lend"]["target"])  # already one of lend's own targets
    refused = mirrored_pairs(CORPUS, 5, {"lend": frozenset({"盗む"})})
    assert set(refused[refused["source"] == "lend"]["target"]) == {"借りる"}


def test_only_words_of_the_given_pairs_get_rows_and_off_means_none():
    mirrored = mirrored_pairs(CORPUS, 5)
    assert set(mirrored["source"]) <= set(CORPUS["source"])
    assert mirrored_pairs(CORPUS, 0).empty
    assert mirrored_pairs(pairs([("dog", "犬", "")]).assign(correct=[()]), 5).empty  # no answers: nothing to mirror
