"""Systems with no neural network, so a model's scores mean something: does it beat these?

    random     common words of the answer's part of speech and script, drawn at random
    kanji      common words of the answer's part of speech that share a kanji with an answer, at random
    gloss      common words of the word's part of speech whose glosses are nearest the word in meaning
               (the gloss space that ranking asks; the only baseline that needs torch, for its SVD)
    tuned      the same in the first model folder's tuned gloss space (seq2seq/gloss_tuning.py): what the
               tuning learnt, without the model that ranks
    corpus     the word's own mined distractors from the training CSV: the teacher's level
    retrieval  the distractors of the training word spelled most like the test word

Each returns, like `pipeline.distractors_for`, a list of up to `n` distinct candidates per word, none of
them in that word's `rejected` set (its known correct forms).
"""
from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
import pandas as pd

from seq2seq.candidates import CandidateLexicon
from seq2seq.data import word_key
from seq2seq.gloss_space import GlossSpace
from seq2seq.metrics import script_of

NGRAM = 3  # retrieval compares spellings by padded character trigrams: '<bo', 'bor', ..., 'ow>'


# --- random words of the same part of speech and script ---------------------------------------------------


def pools_by_class(pos_table: dict[str, frozenset[str]]) -> dict[tuple[str, str], list[str]]:
    """(part of speech, script) → the headwords of that class, sorted so that a seed means the same draw."""
    pools: dict[tuple[str, str], list[str]] = {}
    for form in sorted(pos_table):
        for pos in pos_table[form]:
            pools.setdefault((pos, script_of(form)), []).append(form)
    return pools


def candidate_pool(correct: frozenset[str], pos_table: dict[str, frozenset[str]],
                   pools: dict[tuple[str, str], list[str]],
                   answer_pos: frozenset[str] | None = None) -> list[str]:
    """Headwords of the same (POS, script) as one of the correct answers.

    The POS is `answer_pos` (the English word's own) when given, else what the table says of each answer.
    Falls back to the same script, any POS, when no POS is known, and to every headword when the word
    has no correct answer at all: a baseline should still answer.
    """
    classes = {(pos, script_of(answer)) for answer in correct
               for pos in (answer_pos or pos_table.get(answer, ()))}
    if not classes:
        scripts = {script_of(answer) for answer in correct}
        classes = {key for key in pools if key[1] in scripts} if scripts else set(pools)
    return sorted({form for key in classes for form in pools.get(key, ())})


def word_rng(word: str, seed: int) -> np.random.Generator:
    """A generator for one word, from the seed and the word's own checksum.

    Why per word: a word's draw then does not change when other words are added to the evaluation.
    (crc32, not hash(): Python salts str hashes per process.)
    """
    return np.random.default_rng([seed, zlib.crc32(word_key(word).encode("utf-8"))])


def draw(pool: list[str], rng: np.random.Generator, n: int, banned: frozenset[str]) -> list[str]:
    """Up to n forms of the pool in a random order, skipping banned ones."""
    picked = []
    for index in rng.permutation(len(pool)):
        if len(picked) == n:
            break
        if pool[index] not in banned:
            picked.append(pool[index])
    return picked


def random_baseline(words: list[str], correct: list[frozenset[str]], rejected: list[frozenset[str]],
                    pos_table: dict[str, frozenset[str]], n: int, seed: int = 0,
                    answer_pos: list[frozenset[str] | None] | None = None) -> list[list[str]]:
    """Up to n random common words per word, of its answer's POS and script, none of them correct.

    `correct[i]` (with `answer_pos[i]`, the word's POS, when known) decides the class; `rejected[i]` (all
    known correct forms, `correct[i]` among them) is never drawn. The same words, tables and seed give
    the same lists.
    """
    pools = pools_by_class(pos_table)
    return [draw(candidate_pool(answers, pos_table, pools, word_pos), word_rng(word, seed), n,
                 banned | answers)
            for word, answers, banned, word_pos in zip(words, correct, rejected,
                                                       answer_pos or [None] * len(words))]


# --- random words sharing a kanji with the answer ---------------------------------------------------------


def kanji_baseline(words: list[str], correct: list[frozenset[str]], rejected: list[frozenset[str]],
                   pos_table: dict[str, frozenset[str]], n: int, seed: int = 0,
                   answer_pos: list[frozenset[str] | None] | None = None) -> list[list[str]]:
    """Up to n random common words per word that share a kanji with a correct answer, of the answer's POS.

    Look-alikes drawn with no sense of meaning (貸す → 貸し出す, 犬 → 番犬, 橋 → 陸橋). The POS
    is `answer_pos[i]` when known, else what the table says of the answers, and any POS when neither is
    known. A word whose answers have no kanji (ペット), or share none with a headword of that POS, gets
    fewer candidates, down to none: no fallback to other words, so the baseline is only what it says.
    Seeded per word like the random baseline; `rejected[i]` is never drawn.
    """
    lexicon = CandidateLexicon.from_pos_tables(pos_table, {})
    results = []
    for word, answers, banned, word_pos in zip(words, correct, rejected, answer_pos or [None] * len(words)):
        wanted_pos = word_pos or frozenset().union(*(pos_table.get(answer, ()) for answer in answers))
        pool = sorted(lexicon.kanji_neighbours(answers, wanted_pos))
        results.append(draw(pool, word_rng(word, seed), n, banned | answers))
    return results


def gloss_baseline(words: list[str], correct: list[frozenset[str]], rejected: list[frozenset[str]],
                   lexicon: CandidateLexicon, n: int, space: GlossSpace | None = None) -> list[list[str]]:
    """The n common words nearest each word in the gloss space (`space`; by default the untuned one), of
    its part of speech: what ranking's meaning proposals and gloss term know without the model
    (`CandidateLexicon.near_in_meaning`)."""
    return [[form for form in lexicon.near_in_meaning(word, answers, n + len(banned), space)
             if form not in banned][:n]
            for word, answers, banned in zip(words, correct, rejected)]


# --- the word's own mined distractors ---------------------------------------------------------------------


def targets_by_key(pairs: pd.DataFrame, leave_out: set[str] = frozenset()) -> dict[str, list[str]]:
    """word key → its distinct targets in the CSV's order; words whose key is in `leave_out` are left out."""
    targets: dict[str, list[str]] = {}
    for source, target in zip(pairs["source"], pairs["target"]):
        key = word_key(source)
        if key not in leave_out and target not in targets.setdefault(key, []):
            targets[key].append(target)
    return {key: found for key, found in targets.items() if found}


def corpus_baseline(words: list[str], rejected: list[frozenset[str]], train_pairs: pd.DataFrame,
                    n: int) -> list[list[str]]:
    """The first n of each word's own targets in the training CSV, in its order, less `rejected[i]`.

    On the bundled corpus these are the distractors the corpus builder mined for the word: what the models
    learn to imitate, so this is the teacher's level. It looks the evaluated word itself up, unlike every
    other system here (retrieval leaves it out): a word missing from the CSV gets nothing.
    """
    own = targets_by_key(train_pairs)
    return [[target for target in own.get(word_key(word), []) if target not in banned][:n]
            for word, banned in zip(words, rejected)]


# --- retrieval: the nearest training word's distractors ----------------------------------------------------


def padded_ngrams(word: str, n: int = NGRAM) -> frozenset[str]:
    """'<word>' cut into character n-grams; the padding marks the start and the end, which matter most."""
    text = f"<{word_key(word)}>"
    return frozenset(text[i : i + n] for i in range(max(1, len(text) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared n-grams over all n-grams of the two: 1 for the same spelling, 0 for nothing in common."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class RetrievalIndex:
    """Training words, their targets, and which words hold each n-gram (so a look-up skips the rest)."""

    def __init__(self, pairs: pd.DataFrame, leave_out: set[str] = frozenset()):
        """`pairs` as `data.load_pairs` returns them; words whose key is in `leave_out` are left out, so
        that a test word cannot retrieve its own distractors from a corpus that still holds it."""
        self.targets = targets_by_key(pairs, leave_out)
        self.grams = {key: padded_ngrams(key) for key in self.targets}
        self.holders: dict[str, list[str]] = {}
        for key, grams in self.grams.items():
            for gram in grams:
                self.holders.setdefault(gram, []).append(key)

    def nearest(self, word: str) -> list[tuple[float, str]]:
        """Training words sharing an n-gram with `word`, most similar first (ties: alphabetical)."""
        grams = padded_ngrams(word)
        shared = Counter(key for gram in grams for key in self.holders.get(gram, ()))
        scored = [(count / (len(grams) + len(self.grams[key]) - count), key) for key, count in shared.items()]
        return sorted(scored, key=lambda pair: (-pair[0], pair[1]))


def retrieval_baseline(words: list[str], rejected: list[frozenset[str]], train_pairs: pd.DataFrame,
                       n: int) -> list[list[str]]:
    """Up to n candidates per word: the targets of the nearest training word by spelling, then of the next.

    Every word being evaluated is left out of the training pairs first. A target in the word's
    `rejected` set is skipped; a word sharing no n-gram with any training word gets fewer than n.
    """
    index = RetrievalIndex(train_pairs, leave_out={word_key(word) for word in words})
    results = []
    for word, banned in zip(words, rejected):
        picked: list[str] = []
        for _, neighbour in index.nearest(word):
            for target in index.targets[neighbour]:
                if len(picked) < n and target not in banned and target not in picked:
                    picked.append(target)
            if len(picked) == n:
                break
        results.append(picked)
    return results
