"""Mining near-miss wrong translations: candidates by three rules, filtered, ranked, then capped.

For an English key (borrow) a candidate is a common Japanese headword of the same coarse POS that
is *not* correct for it, reached one of three ways:

    semantic      a key close in meaning, within a cosine band (lend → 貸す)
    orthographic  a key spelt within edit distance 1-2 (adopt → adapt → 当てはめる)
    homophone     a headword read like a correct answer but written otherwise (橋 はし → 箸, 端)

A neighbouring key is mapped to Japanese only through the headwords whose *first* sense carries it,
so 'lend' brings 貸す, not a word that means 'lend' only in its fifth sense.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from jmdict_corpus.english import same_family, same_stem, stem
from jmdict_corpus.entries import Entry, headword, is_common
from jmdict_corpus.reference import LexiconRow
from seq2seq.data import normalize_text
from seq2seq.lexicon import normalize_gloss

KINDS = ("semantic", "orthographic", "homophone")
# Which rule a key's next distractor comes from, round and round: meaning neighbours make the best
# near misses, so they get three turns in five; a kind that has run out is skipped.
KIND_TURNS = ("semantic", "orthographic", "semantic", "homophone", "semantic")
WORDS_PER_NEIGHBOUR = 2
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")

Similarity = Callable[[str, str], float]  # English-side cosine of two keys or glosses


@dataclass(frozen=True)
class Candidate:
    japanese: str
    pos: str  # coarse POS of the word's first sense
    kind: str
    score: float  # English-side cosine between the key and the gloss that led to this word


@dataclass
class Vocabulary:
    """What the miner knows about the common headwords, indexed the ways the three rules look them up."""

    correct: dict[str, list[LexiconRow]] = field(default_factory=lambda: defaultdict(list))
    first_sense: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    by_reading: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    main_gloss: dict[str, str] = field(default_factory=dict)
    # headword → its whole glosses and the stems of their words, over every entry that writes it so
    gloss_terms: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def build_vocabulary(rows: list[LexiconRow], entries: list[Entry]) -> Vocabulary:
    """Index the lexicon rows, and gather every gloss of every entry that writes a headword the same way."""
    vocabulary = Vocabulary()
    for row in rows:
        vocabulary.correct[row.english].append(row)
        if row.sense == 1:
            vocabulary.first_sense[row.english].add((row.japanese, row.pos))
            vocabulary.by_reading[row.reading].add((row.japanese, row.pos))
    headwords = {row.japanese for row in rows}
    for entry in entries:
        glosses = [normalize_gloss(gloss) for sense in entry.senses for gloss in sense.glosses]
        for word in {normalize_text(form.text) for form in entry.forms} & headwords:
            vocabulary.gloss_terms[word].update(glosses, *(map(stem, gloss.split()) for gloss in glosses))
        if is_common(entry) and glosses:
            vocabulary.main_gloss.setdefault(normalize_text(headword(entry)), glosses[0])
    return vocabulary


def is_near_miss(
    key: str, candidate: Candidate, vocabulary: Vocabulary, rejection: dict[str, set[str]]
) -> bool:
    """Same coarse POS as a correct answer, not correct in any JMdict entry, and the key (or its stem)
    nowhere in the candidate's glosses: 犬小屋 'dog kennel' is no wrong answer for 'dog', nor 保護
    'protection' for 'protect', though neither gloss is the key itself."""
    key_pos = {row.pos for row in vocabulary.correct[key]}
    key_terms = {key, stem(key)} if " " not in key else {key}
    word = candidate.japanese
    return (
        candidate.pos in key_pos
        and word not in rejection.get(key, ())
        and not key_terms & vocabulary.gloss_terms[word]
    )


def semantic_candidates(
    key: str, neighbours: list[tuple[str, float]], vocabulary: Vocabulary
) -> list[Candidate]:
    """Headwords of the key's in-band meaning neighbours, closest neighbour first; word families dropped."""
    return [
        Candidate(word, pos, "semantic", cosine)
        for other, cosine in neighbours
        if not same_family(key, other)
        for word, pos in words_meaning(other, vocabulary)
    ]


def orthographic_candidates(
    key: str, neighbours: list[tuple[str, int]], vocabulary: Vocabulary, similarity: Similarity, high: float
) -> list[Candidate]:
    """Headwords of keys spelt alike: nearest spelling first, then the more related meaning.

    Spelling variants of one word (colour/color: cosine at or above `high`) are synonyms, not near
    misses, and are dropped with the same-stem pairs.
    """
    scored = [(distance, -similarity(key, other), other) for other, distance in neighbours]
    return [
        Candidate(word, pos, "orthographic", -negative_cosine)
        for distance, negative_cosine, other in sorted(scored)
        if -negative_cosine < high and not same_stem(key, other)
        for word, pos in words_meaning(other, vocabulary)
    ]


def words_meaning(english: str, vocabulary: Vocabulary) -> list[tuple[str, str]]:
    """The (headword, POS) pairs whose first sense carries `english`, at most WORDS_PER_NEIGHBOUR:
    those whose main gloss it is come first, so one neighbour cannot fill all of a key's places."""
    pairs = sorted(
        vocabulary.first_sense.get(english, ()),
        key=lambda pair: (vocabulary.main_gloss.get(pair[0]) != english, pair),
    )
    return pairs[:WORDS_PER_NEIGHBOUR]


def homophone_candidates(key: str, vocabulary: Vocabulary, similarity: Similarity) -> list[Candidate]:
    """Headwords read like a correct kanji answer but written with other kanji, most related first."""
    found = {}
    for row in vocabulary.correct[key]:
        if not _KANJI.search(row.japanese):
            continue
        for word, pos in sorted(vocabulary.by_reading[row.reading]):
            if word != row.japanese and _KANJI.search(word):
                found[word] = Candidate(word, pos, "homophone", similarity(key, vocabulary.main_gloss[word]))
    return sorted(found.values(), key=lambda candidate: (-candidate.score, candidate.japanese))


def ranked_candidates(
    key: str, by_kind: dict[str, list[Candidate]], vocabulary: Vocabulary, rejection: dict[str, set[str]]
) -> list[Candidate]:
    """The key's near misses in the order KIND_TURNS takes the kinds; a word found twice keeps its first
    place."""
    near_misses = {
        kind: [candidate for candidate in candidates if is_near_miss(key, candidate, vocabulary, rejection)]
        for kind, candidates in by_kind.items()
    }
    ranked, seen = [], set()
    for candidate in _take_turns(near_misses):
        if candidate.japanese not in seen:
            seen.add(candidate.japanese)
            ranked.append(candidate)
    return ranked


def _take_turns(by_kind: dict[str, list[Candidate]]):
    """Yield candidates kind by kind in KIND_TURNS order, each kind's own best first, until all run out."""
    queues = {kind: deque(by_kind.get(kind, [])) for kind in KINDS}
    while any(queues.values()):
        for kind in KIND_TURNS:
            if queues[kind]:
                yield queues[kind].popleft()


def select_with_cap(
    ranked: dict[str, list[Candidate]], per_key: int, cap: int, seed: int
) -> dict[str, list[Candidate]]:
    """Up to `per_key` distractors per key, no Japanese word used for more than `cap` keys.

    Keys take turns, one distractor each per round, in an order shuffled once with `seed`: a cap
    filled greedily key by key would hand the common words to whichever keys came first.
    """
    order = sorted(ranked)
    random.Random(seed).shuffle(order)
    chosen: dict[str, list[Candidate]] = {key: [] for key in order}
    remaining = {key: deque(ranked[key]) for key in order}
    uses: dict[str, int] = defaultdict(int)
    for _ in range(per_key):
        for key in order:
            candidate = _next_under_cap(remaining[key], uses, cap)
            if candidate is not None:
                chosen[key].append(candidate)
                uses[candidate.japanese] += 1
    return {key: picks for key, picks in chosen.items() if picks}


def _next_under_cap(queue: deque[Candidate], uses: dict[str, int], cap: int) -> Candidate | None:
    """Take the queue's best candidate still used fewer than `cap` times; those at the cap are spent."""
    while queue:
        candidate = queue.popleft()
        if uses[candidate.japanese] < cap:
            return candidate
    return None
