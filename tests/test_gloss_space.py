import math

import pytest
import torch

from seq2seq.gloss_space import GlossQuestion, GlossSpace, gloss_words, ppmi_table

# Two families of meaning that never share a headword: lending money, and young animals.
GLOSSARY = {
    "借りる": ["to borrow", "to have a loan"],
    "貸す": ["to lend", "to loan", "to rent out"],
    "借金": ["debt", "loan"],
    "家賃": ["rent"],
    "子犬": ["puppy", "young dog"],
    "子猫": ["kitten", "young cat"],
    "犬": ["dog"],
    "猫": ["cat"],
}


def test_gloss_words_keep_what_carries_meaning():
    assert gloss_words("To lend (money) to someone") == ["lend"]
    assert gloss_words("a young DOG") == ["young", "dog"]
    assert gloss_words("(usu. in the negative)") == []


def test_the_table_holds_positive_pmi_worked_out_on_paper():
    glossary = {"借りる": ["to borrow", "rent"], "貸す": ["to lend", "to rent out"]}
    row_of = {"borrow": 0, "lend": 1, "rent": 2}
    table = ppmi_table(glossary, row_of).to_dense()  # (words, headwords)
    # 4 (word, headword) pairs; borrow glosses 1 headword, rent 2, and each headword holds 2 words:
    # PMI(borrow, 借りる) = log(4 / (1·2)); PMI(rent, either) = log(4 / (2·2)) = 0
    assert table.flatten().tolist() == pytest.approx([math.log(2), 0, 0, math.log(2), 0, 0])


def test_a_word_is_nearest_the_headwords_of_its_own_family():
    space = GlossSpace.build(GLOSSARY, dims=4)
    borrow = dict(zip(GLOSSARY, space.closeness("borrow", list(GLOSSARY))))
    assert borrow["借りる"] == pytest.approx(1.0)  # glossed "to borrow": the same vector
    assert min(borrow["貸す"], borrow["借金"]) > max(borrow["子犬"], borrow["犬"], borrow["猫"])
    puppy = dict(zip(GLOSSARY, space.closeness("puppy", list(GLOSSARY))))
    assert puppy["犬"] > puppy["貸す"]


def test_building_is_repeatable_and_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = GlossSpace.build(GLOSSARY, dims=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(first.vectors, GlossSpace.build(GLOSSARY, dims=4).vectors)
    assert first.vectors.norm(dim=1).tolist() == pytest.approx([1.0] * len(first.row_of))
    # a dict filled in another order (the rejection index is read through sets, whose order changes with
    # every process) gives the same space: the SVD's random start belongs to the headwords by spelling
    backwards = dict(reversed(GLOSSARY.items()))
    assert torch.equal(first.vectors, GlossSpace.build(backwards, dims=4).vectors)


def test_what_the_space_does_not_know_is_none():
    space = GlossSpace.build(GLOSSARY, dims=4)
    assert space.closeness("zebra", ["犬"]) == [None]  # the word
    assert space.closeness("dog", ["馬"]) == [None]  # the candidate: no glosses
    assert GlossSpace.build({}).closeness("dog", ["犬"]) == [None]  # nothing glossed at all


def test_the_question_asks_each_candidate_about_its_own_word():
    space = GlossSpace.build(GLOSSARY, dims=4)
    question = GlossQuestion(["borrow", "puppy"], space)
    asked = question.closeness([1, 0, 1], ["犬", "借りる", "馬"])
    assert asked == [space.closeness("puppy", ["犬"])[0], pytest.approx(1.0), None]


def test_the_nearest_headwords_come_first_and_only_those_allowed():
    space = GlossSpace.build(GLOSSARY, dims=4)
    nearest = space.nearest("borrow", limit=3)
    assert nearest[0] == "借りる"  # glossed "to borrow" itself: cosine 1
    assert set(nearest[1:]) <= {"貸す", "借金", "家賃"}  # the rest of the lending family
    closeness = dict(zip(GLOSSARY, space.closeness("borrow", list(GLOSSARY))))
    found = [closeness[form] for form in nearest]
    assert found == sorted(found, reverse=True)
    assert space.nearest("borrow", limit=2, allowed=lambda form: form != "借りる") == nearest[1:3]
    assert space.nearest("zebra", limit=3) == [] and space.nearest("borrow", limit=0) == []
