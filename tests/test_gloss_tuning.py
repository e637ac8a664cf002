"""Tuning the gloss space on training pairs (seq2seq/gloss_tuning.py), and keeping it in the model folder."""
import pytest
import torch
from torch.nn.functional import normalize

from seq2seq.candidates import CandidateLexicon
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossSpace, GlossVectors
from seq2seq.gloss_tuning import (HeadwordMember, SubwordMember, WordBags, best_gloss_cosines,
                                  character_ngrams, ngram_bags, padded_gloss_rows, tune_gloss_space,
                                  tuning_pairs)
from seq2seq.model_folder import GLOSS_VECTORS, load_gloss_vectors, save_gloss_vectors
from tests.test_gloss_space import GLOSSARY


# each word with its near miss: puppy → 借りる ("borrow", "have a loan"), …
PAIRS = (["puppy", "kitten", "lend"] * 20, ["借りる", "子猫", "借金"] * 20)


def space() -> GlossSpace:
    return GlossSpace.build(GLOSSARY, dims=4)


def test_each_forms_glosses_are_gathered_padded_and_masked():
    built = space()
    rows, present = padded_gloss_rows(built)  # (forms, most glosses)
    assert rows.shape == present.shape == (len(built.forms), 3)  # 貸す has the most glosses: 3
    lend = built.form_row["貸す"]
    assert rows[lend].tolist() == list(range(built.first_gloss[lend], built.first_gloss[lend] + 3))
    dog = built.form_row["犬"]
    assert present[dog].tolist() == [True, False, False] and rows[dog, 1:].tolist() == [0, 0]


def test_the_batch_scores_equal_the_spaces_own_closeness():
    built = space()
    rows, present = padded_gloss_rows(built)
    forms = ["借りる", "貸す", "子犬", "犬"]
    picked = torch.tensor([built.form_row[form] for form in forms])
    words = torch.stack([built.text_vector("borrow"), built.text_vector("puppy")])  # (2, dims)
    scores = best_gloss_cosines(words, built.gloss_vectors, rows[picked], present[picked])  # (2, 4)
    assert scores[0].tolist() == pytest.approx(built.closeness("borrow", forms), abs=1e-6)
    assert scores[1].tolist() == pytest.approx(built.closeness("puppy", forms), abs=1e-6)


def test_only_pairs_the_space_can_read_are_kept():
    built = space()
    queries, targets = tuning_pairs(built, ["lend", "zebra", "lend", "dog"], ["借りる", "犬", "馬", "子猫"])
    assert targets.tolist() == [built.form_row["借りる"], built.form_row["子猫"]]  # zebra: unknown; 馬: no glosses
    assert queries.starts.tolist() == [0, 1, 2]  # each kept word is a bag of one word: its own
    assert queries.words.tolist() == [built.row_of["lend"], built.row_of["dog"]]
    idf = [float(built.idf[built.row_of[word]]) for word in ("lend", "dog")]
    assert queries.weights.tolist() == pytest.approx(idf)


def test_word_bags_sum_the_vectors_of_the_chosen_rows_only():
    built = space()
    glosses = WordBags.from_sparse(built.gloss_words)
    chosen = torch.tensor([4, 0, 4])  # any rows, in any order, repeated
    expected = torch.sparse.mm(built.gloss_words, built.vectors)[chosen]  # every gloss placed, then chosen
    assert torch.allclose(glosses.sums(built.vectors, chosen), expected, atol=1e-6)
    assert glosses.sums(built.vectors, torch.tensor([], dtype=torch.long)).shape == (0, 4)


def test_tuning_moves_words_the_pairs_never_name():
    """The pairs say puppy's near miss is 借りる ("borrow", "have a loan"). Tuning pulls puppy towards those
    glosses, and the words of those glosses towards puppy: borrow, in no pair, comes nearer the puppy
    headword 子犬, which it had nothing to do with before."""
    built = space()
    messages = []
    tuned = tune_gloss_space(built, *PAIRS, epochs=30, seed=0, log=messages.append, kinds=(SubwordMember,))
    placed = built.with_vectors(tuned)
    before, after = built.closeness("borrow", ["子犬"])[0], placed.closeness("borrow", ["子犬"])[0]
    assert after > before + 0.2
    assert placed.closeness("puppy", ["借りる"])[0] > built.closeness("puppy", ["借りる"])[0] + 0.2
    losses = [float(message.split(", loss ")[1].split()[0]) for message in messages]
    assert len(losses) == 30 and losses[-1] < losses[0]
    again = tune_gloss_space(built, *PAIRS, epochs=30, seed=0, log=lambda _: None, kinds=(SubwordMember,))
    assert torch.equal(tuned.vectors, again.vectors)  # the same every run


def test_members_are_tuned_with_their_own_seeds_and_ranking_averages_their_cosines():
    built = space()
    messages = []
    both = tune_gloss_space(built, *PAIRS, epochs=3, seed=5, log=messages.append)  # one of each kind
    assert both.members == 2 and [message.split(",")[0] for message in messages[::3]] == [
        "gloss space: member 1/2 (SubwordMember)", "gloss space: member 2/2 (HeadwordMember)"]
    alone = [tune_gloss_space(built, *PAIRS, epochs=3, seed=seed, log=lambda _: None, kinds=(kind,))
             for seed, kind in ((5, SubwordMember), (6, HeadwordMember))]
    assert torch.equal(both.vectors, torch.cat([member.vectors for member in alone], dim=1))
    forms = built.forms  # every headword of the glossary
    mean = torch.tensor([built.with_vectors(member).closeness("borrow", forms) for member in alone]).mean(0)
    assert built.with_vectors(both).closeness("borrow", forms) == pytest.approx(mean.tolist(), abs=1e-6)
    nearest = [forms[i] for i in mean.argsort(descending=True)[:4]]
    assert built.with_vectors(both).nearest("borrow", 4) == nearest


def test_a_headword_member_moves_words_that_no_pair_touches():
    """"dog" is no pair's word, in no target's gloss and shares no n-gram with another word, so a
    SubwordMember leaves it where it was; it glosses 子犬 ("young dog") as puppy does, so when puppy moves
    through 子犬, dog moves with it."""
    built = space()
    start = HeadwordMember(built)()  # (words, dims)
    assert torch.allclose(start.norm(dim=1), torch.ones(len(built.row_of)), atol=1e-5)
    cosines = (normalize(start, dim=1) * built.vectors).sum(dim=1)  # where the untuned space has each word
    assert cosines.min() > 0.9
    free, through = [tune_gloss_space(built, *PAIRS, epochs=30, seed=0, log=lambda _: None, kinds=(kind,))
                     for kind in (SubwordMember, HeadwordMember)]
    dog = built.row_of["dog"]
    assert torch.equal(free.vectors[dog], built.vectors[dog])
    assert (through.vectors[dog] - start[dog]).norm() > 0.05
    tuned = built.with_vectors(through)
    assert tuned.closeness("dog", ["借りる"])[0] > built.closeness("dog", ["借りる"])[0] + 0.1


def test_a_words_ngrams_mark_its_ends_and_only_shared_ones_are_kept():
    assert character_ngrams("lend") == {"<le", "len", "end", "nd>", "<len", "lend", "end>", "<lend", "lend>"}
    assert character_ngrams("ox") == {"<ox", "ox>", "<ox>"}
    bags, count = ngram_bags(["lend", "lender", "dog"])
    shared = sorted(character_ngrams("lend") & character_ngrams("lender"))  # <le, <len, <lend, end, len, lend
    assert count == len(shared) == 6
    assert bags.starts.tolist() == [0, 6, 12, 12]  # lend and lender hold all six; dog none
    assert bags.words[:6].tolist() == bags.words[6:].tolist() == list(range(6))
    assert bags.weights.tolist() == pytest.approx([1 / 6] * 12)  # a word is the mean of its n-grams


def test_a_subword_member_starts_untuned_and_moves_a_word_with_those_spelled_like_it():
    """"lender" is no pair's word and in no target's gloss, but it is spelled like "lend": when a pair
    pulls lend towards 子猫's glosses ("kitten"), lender follows through their shared n-grams."""
    glossary = {**GLOSSARY, "貸し手": ["lender"]}
    built = GlossSpace.build(glossary, dims=4)
    assert torch.equal(SubwordMember(built)(), built.vectors)  # the n-grams start at 0
    pairs = (["lend", "puppy", "kitten"] * 20, ["子猫", "借りる", "借金"] * 20)
    tuned = tune_gloss_space(built, *pairs, epochs=30, seed=0, log=lambda _: None, kinds=(SubwordMember,))
    lender, dog = built.row_of["lender"], built.row_of["dog"]
    assert (tuned.vectors[lender] - built.vectors[lender]).norm() > 0.05
    assert torch.equal(tuned.vectors[dog], built.vectors[dog])  # no n-gram shared: only its own vector
    placed = built.with_vectors(tuned)
    assert placed.closeness("lender", ["子猫"])[0] > built.closeness("lender", ["子猫"])[0] + 0.1


def test_no_readable_pair_tunes_nothing_and_says_so():
    messages = []
    assert tune_gloss_space(space(), ["zebra"], ["縞馬"], epochs=2, seed=0, log=messages.append) is None
    assert "untuned space" in messages[0]


def test_untuned_vectors_place_every_gloss_where_it_was():
    built = space()
    same = built.with_vectors(GlossVectors(sorted(built.row_of), built.vectors))
    assert torch.allclose(same.gloss_vectors, built.gloss_vectors)
    with pytest.raises(UserError, match="tuned on another lexicon"):
        built.with_vectors(GlossVectors(["borrow"], torch.zeros(1, 4), "x/gloss_vectors.pt"))


def test_a_lexicon_places_each_models_vectors_once():
    lexicon = CandidateLexicon.from_pos_tables({form: frozenset({"noun"}) for form in GLOSSARY}, {},
                                               {form: glosses for form, glosses in GLOSSARY.items()})
    assert lexicon.space_for(None) is lexicon.gloss_space
    tuned = GlossVectors(sorted(lexicon.gloss_space.row_of), lexicon.gloss_space.vectors * 2)
    assert lexicon.space_for(tuned) is lexicon.space_for(tuned) is not lexicon.gloss_space


def test_the_folder_keeps_the_vectors_and_refuses_a_bad_file(tmp_path):
    assert load_gloss_vectors(tmp_path / GLOSS_VECTORS) is None  # an older folder: the untuned space
    vectors = GlossVectors(["borrow", "lend"], torch.randn(2, 4))
    save_gloss_vectors(tmp_path, vectors)
    loaded = load_gloss_vectors(tmp_path / GLOSS_VECTORS)
    assert loaded.words == vectors.words and torch.equal(loaded.vectors, vectors.vectors)
    save_gloss_vectors(tmp_path, GlossVectors(["borrow", "lend"], torch.randn(2, 4), members=2))
    assert load_gloss_vectors(tmp_path / GLOSS_VECTORS).members == 2
    torch.save({"words": ["borrow"], "vectors": torch.zeros(1, 4)}, tmp_path / GLOSS_VECTORS)
    assert load_gloss_vectors(tmp_path / GLOSS_VECTORS).members == 1  # written before members: one set
    torch.save({"words": ["borrow"], "vectors": torch.zeros(1, 4), "members": 3}, tmp_path / GLOSS_VECTORS)
    with pytest.raises(UserError, match="not the word list and vectors"):  # 4 columns are not 3 members
        load_gloss_vectors(tmp_path / GLOSS_VECTORS)
    torch.save({"words": ["borrow"], "vectors": torch.zeros(2, 4)}, tmp_path / GLOSS_VECTORS)
    with pytest.raises(UserError, match="not the word list and vectors"):
        load_gloss_vectors(tmp_path / GLOSS_VECTORS)
    (tmp_path / GLOSS_VECTORS).write_bytes(b"not a zip")
    with pytest.raises(UserError, match="damaged"):
        load_gloss_vectors(tmp_path / GLOSS_VECTORS)
