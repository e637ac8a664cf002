"""Decoding driven by a fake model whose next-token probabilities are set by hand, so every expected
result below can be worked out on paper."""
import math
import pickle

import pytest
import torch
from torch import nn

from seq2seq import decoding
from seq2seq.config import DecodeConfig
from seq2seq.decoding import (SHARES_KANJI, Distractor, ReverseQuestion, beam_search, choose_output_dtype,
                              distinct_outputs, generate, greedy_pick, pair_log_probs, sample_distinct,
                              sampling_pick, sequence_log_probs, source_ids, top_k_filter, top_p_filter)
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossQuestion
from seq2seq.models.base import Memory, Seq2SeqModel

PAD, UNK, BOS, EOS, A, B, C, D = range(8)
LETTERS = {A: "a", B: "b", C: "c", D: "d"}

# prefix (without BOS) → probabilities of the next token. Unlisted prefixes end at once.
#   P("b") = .4,  P("ac") = P("ad") = .6 · .5 = .3
TABLE = {(): {A: 0.6, B: 0.4}, (A,): {C: 0.5, D: 0.5}, (B,): {EOS: 1.0}, (A, C): {EOS: 1.0},
         (A, D): {EOS: 1.0}}


class TableModel(Seq2SeqModel):
    """Ignores the source; its state is the prefix decoded so far, (batch, steps), batch first as required."""

    def __init__(self, table):
        super().__init__()
        self.table = table
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the model a device
        self.config = type("Config", (), {"pad_id": PAD})  # what encode_for_targets asks of a model

    def encode(self, src_ids, src_mask):
        return Memory(torch.zeros(src_ids.size(0), 1, 1), src_mask[:, :1])

    def decode_step(self, prev_ids, memory, state=None):
        prefix = prev_ids[:, None] if state is None else torch.cat([state, prev_ids[:, None]], dim=1)
        logits = torch.full((prev_ids.size(0), 8), float("-inf"))
        for row, tokens in enumerate(prefix[:, 1:].tolist()):  # drop BOS
            for token, prob in self.table.get(tuple(tokens), {EOS: 1.0}).items():
                logits[row, token] = math.log(prob)
        return logits, prefix

    def forward(self, src_ids, tgt_in_ids, src_index=None, positions=None):
        memory = self.encode_for_targets(src_ids, src_index)
        state, steps = None, []
        for t in range(tgt_in_ids.size(1)):
            logits, state = self.decode_step(tgt_in_ids[:, t], memory, state)
            steps.append(logits)
        logits = torch.stack(steps, dim=1)  # (batch, tgt_len, vocab)
        return logits if positions is None else logits[positions]


class LetterTokenizer:
    pad_id, unk_id, bos_id, eos_id = PAD, UNK, BOS, EOS

    def encode(self, text):
        """Spells a, b, c, d as their ids; any other character is <unk> (so a source word is not empty)."""
        ids = {letter: token for token, letter in LETTERS.items()}
        return [ids.get(char, UNK) for char in text]

    def decode(self, ids):
        return "".join(LETTERS[i] for i in ids if i in LETTERS)

    def piece(self, piece_id):
        return LETTERS.get(piece_id, "</s>" if piece_id == EOS else "<special>")


def memory(batch=1):
    return Memory(torch.zeros(batch, 1, 1), torch.ones(batch, 1, dtype=torch.bool))


def test_greedy_takes_the_likeliest_token_each_step():
    outputs = generate(TableModel(TABLE), memory(2), LetterTokenizer(), max_len=5, pick=greedy_pick())
    assert outputs == [[A, C], [A, C]]  # a (.6), then c and d tie at .5: argmax takes the first


def test_beam_search_finds_the_likelier_sequence_greedy_misses():
    best = beam_search(TableModel(TABLE), memory(), LetterTokenizer(), beam_size=2, max_len=5,
                       length_penalty=0.0)
    assert [h.tokens for h in best] == [[B], [A, C]]
    assert [math.exp(h.log_prob) for h in best] == pytest.approx([0.4, 0.3])


def test_unfinished_outputs_are_none():
    looping = {(): {A: 1.0}, (A,): {A: 1.0}, (A, A): {A: 1.0}}
    assert generate(TableModel(looping), memory(), LetterTokenizer(), max_len=3, pick=greedy_pick()) == [None]


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    kept = top_k_filter(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, True, False]]
    assert top_k_filter(logits, 0).equal(logits)


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert torch.isfinite(top_p_filter(logits, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.81)).tolist() == [[True, True, True, False]]
    shuffled = logits[:, [2, 0, 3, 1]]  # order of the vocabulary must not matter
    assert torch.isfinite(top_p_filter(shuffled, 0.7)).tolist() == [[False, True, False, True]]


def test_sampling_frequencies_follow_the_table():
    generator = torch.Generator().manual_seed(0)
    outputs = generate(TableModel(TABLE), memory(4000), LetterTokenizer(), 5,
                       sampling_pick(1.0, 0, 1.0, generator))
    share_b = sum(ids == [B] for ids in outputs) / len(outputs)
    assert share_b == pytest.approx(0.4, abs=0.03)


def test_top_k_one_sampling_is_greedy():
    generator = torch.Generator().manual_seed(0)
    outputs = generate(TableModel(TABLE), memory(50), LetterTokenizer(), 5,
                       sampling_pick(1.0, 1, 1.0, generator))
    assert all(ids[0] == A for ids in outputs)


def test_sampling_is_reproducible_with_a_seed():
    def run(seed):
        generator = torch.Generator().manual_seed(seed)
        return generate(TableModel(TABLE), memory(30), LetterTokenizer(), 5,
                        sampling_pick(1.0, 0, 1.0, generator))

    assert run(1) == run(1)
    assert run(1) != run(2)


def draw_distinct(table, words, k, seed=0, temperature=1.0, top_p=1.0, max_len=5):
    """sample_distinct on the table model: per word, [(text or None, log p)] in the order drawn."""
    drawn = sample_distinct(TableModel(table), memory(words), LetterTokenizer(), k, max_len, temperature, 0,
                            top_p, torch.Generator().manual_seed(seed))
    return [[(None if ids is None else LetterTokenizer().decode(ids), log_p) for ids, log_p in outputs]
            for outputs in drawn]


def test_drawing_without_replacement_follows_the_table():
    """The first output is an ordinary sample: b .4, ac .3, ad .3. Two drawn without replacement are {ac, ad}
    with probability .3 · .3/.7 + .3 · .3/.7 = .257, {b, ac} and {b, ad} .4 · .3/.6 + .3 · .4/.7 = .371."""
    words = draw_distinct(TABLE, 6000, k=2)
    first = [outputs[0][0] for outputs in words]
    assert first.count("b") / len(first) == pytest.approx(0.4, abs=0.02)
    pairs = [frozenset(text for text, _ in outputs) for outputs in words]
    assert all(len(pair) == 2 for pair in pairs)  # never the same output twice
    assert pairs.count(frozenset({"ac", "ad"})) / len(pairs) == pytest.approx(0.257, abs=0.02)
    assert pairs.count(frozenset({"b", "ac"})) / len(pairs) == pytest.approx(0.371, abs=0.02)


def test_a_beam_larger_than_the_support_gives_each_output_once_with_its_log_p():
    for outputs in draw_distinct(TABLE, 3, k=5):
        outputs.sort()
        assert [text for text, _ in outputs] == ["ac", "ad", "b"]
        assert [log_p for _, log_p in outputs] == pytest.approx([math.log(0.3), math.log(0.3), math.log(0.4)])


def test_drawing_without_replacement_keeps_to_the_filtered_distribution_and_the_raw_log_p():
    # temperature 0.5 and top-p 0.5 leave a, then c, alone (as in the trace test below); the log p listed
    # is still the model's own, .6 · .5
    only_ac = [("ac", pytest.approx(math.log(0.3)))]
    assert draw_distinct(TABLE, 2, k=3, temperature=0.5, top_p=0.5) == [only_ac, only_ac]


def test_an_output_still_running_at_max_len_is_none():
    looping = {(): {A: 0.5, B: 0.5}, (A,): {A: 1.0}, (A, A): {A: 1.0}}
    [outputs] = draw_distinct(looping, 1, k=2, max_len=3)
    texts = sorted(text or "" for text, _ in outputs)
    assert texts == ["", "b"]  # "": None, the output that never ended


def test_distinct_outputs_exclude_known_answers_and_stop_when_exhausted():
    config = DecodeConfig(method="sample", max_attempts=5, seed=0)
    found = distinct_outputs(TableModel(TABLE), LetterTokenizer(), ["x", "y"], [{"b"}, set()], n=3,
                             config=config)
    assert sorted(found[0]) == ["ac", "ad"]  # only two allowed answers exist: fewer than n, and it ends
    assert sorted(found[1]) == ["ac", "ad", "b"]


def test_distinct_outputs_with_beam_and_greedy():
    model, tokenizer = TableModel(TABLE), LetterTokenizer()
    beam = distinct_outputs(model, tokenizer, ["x"], [{"ac"}], n=2,
                            config=DecodeConfig(method="beam", beam_size=2))
    # default length penalty 1: log-prob per token (EOS included): "ad" log(.3)/3 = -0.40 beats
    # "b" log(.4)/2 = -0.46
    assert beam == [["ad", "b"]]
    greedy = distinct_outputs(model, tokenizer, ["x"], [set()], n=1, config=DecodeConfig(method="greedy"))
    assert greedy == [["ac"]]


def test_sampled_outputs_come_best_first_with_their_log_prob_per_piece():
    config = DecodeConfig(method="sample", max_attempts=5, seed=0)
    found = distinct_outputs(TableModel(TABLE), LetterTokenizer(), ["x"], [set()], n=3, config=config)[0]
    # b: log .4 over 2 pieces (b, EOS) = −0.46; ac and ad: log .3 over 3 = −0.40
    assert [round(d.score, 2) for d in found] == [-0.40, -0.40, -0.46] and found[-1] == "b"
    assert isinstance(found[0], Distractor) and pickle.loads(pickle.dumps(found[0])).score == found[0].score


def test_a_later_round_takes_the_short_words_of_every_chunk_together(monkeypatch):
    """Round 1 draws for eight words in two chunks of four (beams of 3, n = 2). Words 3 and 4 exclude b and
    ac, so one answer is all they can get: both draw again in round 2, in one chunk."""
    monkeypatch.setattr(decoding, "HYPOTHESES_PER_CHUNK", 12)
    chunks = []
    original = decoding.sample_distinct
    monkeypatch.setattr(decoding, "sample_distinct",
                        lambda model, memory, tokenizer, k, *rest: chunks.append((memory.states.size(0), k))
                        or original(model, memory, tokenizer, k, *rest))
    excluded = [set()] * 3 + [{"b", "ac"}] * 2 + [set()] * 3
    found = distinct_outputs(TableModel(TABLE), LetterTokenizer(), list("abcdabcd"), excluded, n=2,
                             config=DecodeConfig(method="sample", max_attempts=5, seed=0))
    assert [len(texts) for texts in found] == [2, 2, 2, 1, 1, 2, 2, 2]
    assert chunks == [(4, 3), (4, 3), (2, 6)]  # then all three outputs drawn, fewer than 6: spent


def test_chunks_hold_sources_of_about_the_same_length():
    pieces = [[1] * length for length in (5, 1, 9, 1, 3, 2, 8)]
    chunks = decoding.chunks_by_length(pieces, size=3)
    assert chunks == [[1, 3, 5], [4, 0, 6], [2]]  # shortest first; equal lengths keep their order
    assert [[len(pieces[i]) for i in chunk] for chunk in chunks] == [[1, 1, 2], [3, 5, 8], [9]]


def test_ranking_explains_each_word_in_its_place_when_chunks_reorder_them():
    """The longer source comes first in the list but is ranked after the shorter; its explanation is still
    the first."""
    explained = []
    config = DecodeConfig(method="rank", rank_samples=1, generic_weight=0.0, seed=0)
    distinct_outputs(table_model(), LetterTokenizer(), ["long word", "w"], [{"ac"}, {"b"}], n=1,
                     config=config, proposals=[kanji_proposals("b", "ad", "ac")] * 2, explain=explained)
    refused = [{row.text for row in rows if row.verdict == "correct answer"} for rows in explained]
    assert refused == [{"ac"}, {"b"}]


def test_known_words_restrict_the_outputs():
    config = DecodeConfig(method="sample", max_attempts=5, seed=0)
    found = distinct_outputs(TableModel(TABLE), LetterTokenizer(), ["x"], [set()], n=3, config=config,
                             known_words=frozenset({"ad", "b", "zz"}))
    assert sorted(found[0]) == ["ad", "b"]


# --- ranking ------------------------------------------------------------------------------------------------

# What the same model expects with no word to go on (the empty source): "b" fits anything.
#   P(b) = .8,  P(ac) = P(ad) = .2 · .5 = .1
GENERIC_TABLE = {(): {A: 0.2, B: 0.8}, (A,): {C: 0.5, D: 0.5}, (B,): {EOS: 1.0}, (A, C): {EOS: 1.0},
                 (A, D): {EOS: 1.0}}


class SourceTableModel(TableModel):
    """TABLE for a source with a word in it, GENERIC_TABLE for the empty source (EOS alone)."""

    def encode(self, src_ids, src_mask):
        has_word = ((src_ids != EOS) & src_mask).any(dim=1).float()  # (batch,)
        return Memory(has_word[:, None, None], src_mask)

    def decode_step(self, prev_ids, memory, state=None):
        prefix = prev_ids[:, None] if state is None else torch.cat([state, prev_ids[:, None]], dim=1)
        logits = torch.full((prev_ids.size(0), 8), float("-inf"))
        for row, tokens in enumerate(prefix[:, 1:].tolist()):
            table = TABLE if memory.states[row, 0, 0] > 0 else GENERIC_TABLE
            for token, prob in table.get(tuple(tokens), {EOS: 1.0}).items():
                logits[row, token] = math.log(prob)
        return logits, prefix



def table_model():
    return SourceTableModel(TABLE)


def kanji_proposals(*texts):
    return [(text, SHARES_KANJI) for text in texts]


def rank(weight, excluded=frozenset(), n=2, reverse=None, reverse_weight=0.0, closeness_weight=0.0,
         meanings=None, gloss_weight=0.0):
    config = DecodeConfig(method="rank", rank_samples=1, generic_weight=weight, reverse_weight=reverse_weight,
                          closeness_weight=closeness_weight, gloss_weight=gloss_weight, seed=0)
    return distinct_outputs(table_model(), LetterTokenizer(), ["word"], [set(excluded)], n=n, config=config,
                            proposals=[kanji_proposals("b", "ad", "ac")], reverse=reverse,
                            meanings=meanings)[0]


def test_sequence_log_probs_are_the_table_products():
    model = SourceTableModel(TABLE)
    model.config = type("Config", (), {"pad_id": PAD})
    src = torch.tensor([[UNK, EOS], [EOS, PAD]])  # a word; the empty source
    scores = sequence_log_probs(model, LetterTokenizer(), src, torch.tensor([0, 0, 1, 1]),
                                [[B], [A, C], [B], [A, D]])
    assert scores.exp().tolist() == pytest.approx([0.4, 0.3, 0.8, 0.1])


def test_rank_by_likelihood_alone_keeps_the_likeliest():
    assert rank(weight=0.0) == ["b", "ac"]  # .4, then .3 and .3 tied: by spelling


def test_rank_pushes_down_what_fits_any_word():
    # λ = 1: log(.3/.1) = 1.10 for ac and ad, log(.4/.8) = -0.69 for b
    assert rank(weight=1.0, n=3) == ["ac", "ad", "b"]
    # λ = .5: ac log .3 − .5 log .1 = −0.05 beats b log .4 − .5 log .8 = −0.80
    assert rank(weight=0.5) == ["ac", "ad"]


def test_ranking_samples_again_for_a_word_left_short():
    """One sample a round cannot give three answers at once: later rounds add samples, and all are ranked
    again."""
    config = DecodeConfig(method="rank", rank_samples=1, generic_weight=0.0, max_attempts=30, seed=0)
    explained = []
    found = distinct_outputs(table_model(), LetterTokenizer(), ["word"], [set()], n=3, config=config,
                             explain=explained)[0]
    assert found == ["b", "ac", "ad"]  # all three, by likelihood: .4, .3, .3
    assert [c.text for c in explained[0] if c.verdict == "kept"] == found  # the last ranking, as explained
    one_round = DecodeConfig(method="rank", rank_samples=1, generic_weight=0.0, max_attempts=1, seed=0)
    assert len(distinct_outputs(table_model(), LetterTokenizer(), ["word"], [set()], n=3,
                                config=one_round)[0]) == 1


def test_rank_never_offers_an_excluded_candidate():
    assert rank(weight=1.0, excluded={"ac"}, n=3) == ["ad", "b"]


# The reverse question: each candidate's own input, shown to the model, and how likely the word's answer
# "ac" then is. "ac" reads a word (TABLE: P(ac) = .3), "ad" the empty source (GENERIC_TABLE: .1), "b" nothing.
REVERSE = ReverseQuestion(answers=[["ac"]], inputs_of={"ac": ("x",), "ad": ("",), "b": ()}.get)


def test_the_reverse_question_scores_the_answer_given_each_candidates_input():
    scores = REVERSE.log_probs(table_model(), LetterTokenizer(), ["ac", "ad", "b"], [["ac"], ["ac"], ["ac"]])
    # b has no input of its own: it gets the lowest score beside it, ad's, not a free pass
    assert scores.exp().tolist() == pytest.approx([0.3, 0.1, 0.1])
    two_answers = REVERSE.log_probs(table_model(), LetterTokenizer(), ["ad"], [["ac", "b"]])
    assert two_answers.exp().tolist() == pytest.approx([0.8])  # the likelier answer counts: P(b | empty) = .8


def test_the_reverse_question_takes_the_best_of_a_candidates_inputs():
    two_inputs = ReverseQuestion(answers=[["ac"]], inputs_of={"ac": ("", "x"), "b": ("",)}.get)
    scores = two_inputs.log_probs(table_model(), LetterTokenizer(), ["ac", "b"], [["ac"], ["ac"]])
    # ac reads the empty source (P(ac) = .1) and x (.3): the better input counts
    assert scores.exp().tolist() == pytest.approx([0.3, 0.1])


def test_rank_adds_the_reverse_question_with_its_weight():
    assert rank(weight=0.0, n=3) == ["b", "ac", "ad"]  # .4, .3, .3 by likelihood alone
    # μ = 1: ac log .3 + log .3 = −2.41, b log .4 + log .1 = −3.22, ad log .3 + log .1 = −3.51
    assert rank(weight=0.0, n=3, reverse=REVERSE, reverse_weight=1.0) == ["ac", "b", "ad"]
    assert rank(weight=0.0, n=3, reverse=REVERSE, reverse_weight=0.0) == ["b", "ac", "ad"]  # 0: not asked


class LetterCountModel(SourceTableModel):
    """Its encoder states are the source's tokens one-hot, so a reading (their mean, unit length) is the
    source's letter counts, EOS included, and two readings' cosine can be worked out on paper."""

    def encode(self, src_ids, src_mask):
        return Memory(nn.functional.one_hot(src_ids, 8).float(), src_mask)


def test_closeness_is_the_best_cosine_of_readings_over_a_candidates_inputs():
    model, tokenizer = LetterCountModel(TABLE), LetterTokenizer()
    question = ReverseQuestion(answers=[["ac"]], inputs_of={"ac": ("ab",), "ad": ("cd", "a"), "b": ()}.get)
    src = source_ids(model, tokenizer, ["ab"])  # the word reads a, b, EOS: (1, 1, 1)/√3
    cosines = question.closeness(model, tokenizer, src, torch.zeros(3, dtype=torch.long), ["ac", "ad", "b"])
    # ac reads the word's own source: 1. ad: "cd" (c, d, EOS) shares only EOS, 1/3; "a" (a, EOS) 2/√6: the
    # better one counts. b has no input of its own: the lowest beside it, ad's.
    assert cosines.tolist() == pytest.approx([1.0, 2 / math.sqrt(6), 2 / math.sqrt(6)])


def test_rank_adds_the_closeness_with_its_weight():
    """SourceTableModel reads any word as 1 and the empty source as 0, so with REVERSE's inputs the
    closeness is 1 for ac (it reads x), 0 for ad (the empty source) and 0 for b (none: the lowest beside
    it)."""
    # ν = 1: ac log .3 + 1 = −0.20 beats b log .4 + 0 = −0.92 and ad log .3 + 0 = −1.20
    assert rank(weight=0.0, n=3, reverse=REVERSE, closeness_weight=1.0) == ["ac", "b", "ad"]
    # 0: not compared
    assert rank(weight=0.0, n=3, reverse=REVERSE, closeness_weight=0.0) == ["b", "ac", "ad"]


class HandSetSpace:
    """A gloss space whose closeness to any word is set by hand: ac 1, ad 0; b is not in it."""

    def closeness(self, word, candidates):
        return [{"ac": 1.0, "ad": 0.0}.get(candidate) for candidate in candidates]


MEANINGS = GlossQuestion(["word"], HandSetSpace())


def test_rank_adds_the_gloss_closeness_with_its_weight():
    # ρ = 1: ac log .3 + 1 = −0.20 beats b log .4 + 0 (unknown: the lowest beside it) = −0.92 and
    # ad log .3 + 0 = −1.20
    assert rank(weight=0.0, n=3, meanings=MEANINGS, gloss_weight=1.0) == ["ac", "b", "ad"]
    assert rank(weight=0.0, n=3, meanings=MEANINGS, gloss_weight=0.0) == ["b", "ac", "ad"]  # 0: not asked


def test_pair_log_probs_match_scoring_each_pair_alone():
    model, tokenizer = table_model(), LetterTokenizer()
    sources, targets = ["x", "", "x", ""], ["b", "ac", "ad", "b"]
    together = pair_log_probs(model, tokenizer, sources, targets)
    alone = [pair_log_probs(model, tokenizer, [source], [target]).item()
             for source, target in zip(sources, targets)]
    assert together.tolist() == pytest.approx(alone)
    assert together.exp().tolist() == pytest.approx([0.4, 0.1, 0.3, 0.8])


@pytest.mark.parametrize("setting, message", [
    ({"rank_samples": 0}, "--rank-samples must be at least 1"),
    ({"reverse_weight": -1.0}, "reverse weight must be at least 0"),
    ({"closeness_weight": -1.0}, "closeness weight must be at least 0"),
    ({"rank_meaning": -1}, "--rank-meaning must be at least 0"),
    ({"gloss_weight": -1.0}, "gloss weight must be at least 0"),
    ({"reverse_keys": 0}, "reverse keys must be at least 1"),
])
def test_rank_settings_are_checked(setting, message):
    with pytest.raises(UserError, match=message):
        distinct_outputs(SourceTableModel(TABLE), LetterTokenizer(), ["word"], [set()], n=1,
                         config=DecodeConfig(method="rank", **setting))


def test_samples_of_related_words_join_the_candidates():
    """The empty source here stands in for a related word: one sample of the word itself, 'b' alone
    (GENERIC_TABLE: the neighbour's likeliest output) cannot be missed in 40 samples of the neighbour."""
    model = SourceTableModel(TABLE)
    config = DecodeConfig(method="rank", rank_samples=1, neighbour_samples=40, generic_weight=0.0,
                          max_attempts=1, seed=0)  # one round: no fresh samples for a word left short
    alone = distinct_outputs(model, LetterTokenizer(), ["word"], [set()], n=3, config=config)[0]
    helped = distinct_outputs(model, LetterTokenizer(), ["word"], [set()], n=3, config=config,
                              neighbour_sources=[[""]])[0]
    assert len(alone) == 1 and alone[0] in ("ac", "ad", "b")  # one sample: one candidate
    assert helped == ["b", "ac", "ad"]  # all three, ranked for the word itself: .4, .3, .3


def test_explain_gives_every_candidate_its_scores_and_what_became_of_it():
    """What `infer.py --explain` prints is the ranking's own numbers: the kept ones are the answers, in
    order, and each score is forward − λ·generic + μ·reverse + ν·closeness + ρ·gloss of the table's
    probabilities."""
    config = DecodeConfig(method="rank", rank_samples=1, generic_weight=1.0, reverse_weight=1.0,
                          closeness_weight=2.0, gloss_weight=3.0, seed=0)
    explained = []
    found = distinct_outputs(table_model(), LetterTokenizer(), ["word"], [{"ad"}], n=1, config=config,
                             proposals=[kanji_proposals("b", "ad", "ac", "ac")], reverse=REVERSE,
                             explain=explained,
                             meanings=MEANINGS)[0]
    (rows,) = explained
    by_text = {row.text: row for row in rows}
    assert sorted(by_text) == ["ac", "ad", "b"]  # each candidate once
    assert [row.text for row in rows if row.verdict == "kept"] == found == ["ac"]
    assert by_text["b"].verdict == "rank" and by_text["ad"].verdict == "correct answer"
    assert by_text["ad"].score is None  # refused before scoring
    b = by_text["b"]  # P(b | word) = .4, P(b | no word) = .8, P(ac | b's input) unknown: the lowest beside it
    assert (math.exp(b.forward), math.exp(b.generic)) == pytest.approx((0.4, 0.8))
    assert by_text["ac"].closeness == 1.0  # ac reads x, a word, as the word itself is read
    # no input of its own: the lowest beside it, that of ac, the only other one scored
    assert b.closeness == 1.0
    # b is not in the gloss space: the lowest beside it, ac's 1 (ad was refused before scoring)
    assert (by_text["ac"].gloss, b.gloss) == (1.0, 1.0)
    assert b.score == pytest.approx(b.forward - b.generic + b.reverse + 2.0 * b.closeness + 3.0 * b.gloss)
    scored = [row.score for row in rows if row.score is not None]
    assert scored == sorted(scored, reverse=True)  # best first
    # no related words were given
    assert {row.origin for row in rows} <= {"sample", "lexicon, shares a kanji"}


def traced(n=3, **settings):
    """(outputs, the word's trace) of distinct_outputs with --explain on the table model, for the word x."""
    explained = []
    found = distinct_outputs(TableModel(TABLE), LetterTokenizer(), ["x"], [set()], n=n,
                             config=DecodeConfig(**settings), explain=explained)
    [trace] = explained
    return found[0], trace


def test_the_sampling_trace_shows_the_probabilities_each_piece_was_drawn_with():
    # temperature 0.5 squares the table's odds: a .6 → .36/(.36 + .16) = .692; top-p .5 then keeps a alone,
    # and after a, c alone (c and d tie at .5: the first reaches p)
    found, trace = traced(method="sample", temperature=0.5, top_k=0, top_p=0.5, max_attempts=3)
    first = trace.outputs[0].steps[0]
    assert [p.piece for p in first.likeliest[:2]] == ["a", "b"]
    a, b = first.likeliest[:2]
    assert (a.raw, a.tempered, a.drawn_from) == pytest.approx((0.6, 0.36 / 0.52, 1.0))
    assert (b.raw, b.tempered, b.drawn_from) == pytest.approx((0.4, 0.16 / 0.52, 0.0))
    for output in trace.outputs:
        # the pieces actually emitted
        assert "".join(step.drawn for step in output.steps) == output.text + "</s>"
        assert output.steps[-1].log_prob == pytest.approx(math.log(0.3))  # ac: .6 · .5 · 1
    assert [o.text for o in trace.outputs if o.verdict == "kept"] == found
    assert {o.verdict for o in trace.outputs} <= {"kept", "duplicate",
                                                  "not needed: n answers were found already"}
    assert found == ["ac"]  # b and ad were never drawn: top-p removed them


def test_tracing_does_not_change_what_is_drawn():
    settings = dict(method="sample", temperature=1.0, top_k=0, top_p=1.0, max_attempts=5, seed=4)
    plain = distinct_outputs(TableModel(TABLE), LetterTokenizer(), ["x"], [set()], n=3,
                             config=DecodeConfig(**settings))
    found, trace = traced(**settings)
    assert found == plain[0] and [d.score for d in found] == [d.score for d in plain[0]]
    kept = {o.text: o for o in trace.outputs if o.verdict == "kept"}
    for answer in found:  # the listed score is the traced log p per piece, EOS included
        assert answer.score == pytest.approx(kept[answer].score / len(kept[answer].steps))


def test_the_greedy_trace_takes_the_likeliest_piece_each_step():
    found, trace = traced(n=1, method="greedy", seed=0)
    [output] = trace.outputs
    assert [step.drawn for step in output.steps] == ["a", "c", "</s>"] and found == ["ac"]
    assert [step.likeliest[0].raw for step in output.steps] == pytest.approx([0.6, 0.5, 1.0])
    assert output.steps[0].likeliest[0].tempered is None  # no temperature in greedy


def test_the_beam_trace_shows_each_steps_live_and_ended_hypotheses():
    found, trace = traced(n=2, method="beam", beam_size=2, length_penalty=0.0)
    texts = lambda hypotheses: [h.text for h in hypotheses]
    assert [sorted(texts(step.live)) for step in trace.beam_steps] == [["a", "b"], ["ac", "ad"], []]
    assert [sorted(texts(step.ended)) for step in trace.beam_steps] == [[], ["b"], ["ac", "ad"]]
    assert trace.beam_steps[1].ended[0].score == pytest.approx(math.log(0.4))  # length penalty 0: plain log p
    # offered best first by the beam's score; listed (found) by log p per piece, as every method lists its
    # outputs
    assert ([o.text for o in trace.outputs[:1]] == ["b"]
            and [o.verdict for o in trace.outputs] == ["kept", "kept"])
    assert sorted(found) == sorted(o.text for o in trace.outputs)


def test_the_length_penalty_decides_between_short_and_long():
    # log p / (pieces + 1)^α: b = log .4 / 2^α, ac = ad = log .3 / 3^α; α = 0 prefers b, α = 1 prefers ac, ad
    short, _ = traced(n=2, method="beam", beam_size=2, length_penalty=0.0)
    long, _ = traced(n=2, method="beam", beam_size=2, length_penalty=1.0)
    assert "b" in short and sorted(long) == ["ac", "ad"]
    with pytest.raises(UserError, match="--length-penalty"):
        traced(method="beam", length_penalty=float("nan"))


def test_the_output_precision_is_bf16_only_where_asked_or_computed_natively(monkeypatch):
    """auto: bf16 on a CPU that has AVX512-BF16 or AMX, fp32 on one that would emulate it."""
    cpu = torch.device("cpu")
    assert choose_output_dtype("fp32", cpu) == torch.float32
    assert choose_output_dtype("bf16", cpu) == torch.bfloat16
    for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, check, lambda: False, raising=False)
    assert choose_output_dtype("auto", cpu) == torch.float32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert choose_output_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)  # renamed by a later torch
    assert choose_output_dtype("auto", cpu) == torch.float32
