"""English-side closeness of keys without a model: shared stems and spelling neighbours.

Two different jobs. `same_stem` and `same_family` throw away neighbours that are the *same* word in
another form (river/rivers, economic/economy): their translations are correct answers, not near misses.
`spelling_neighbours` finds *different* words spelt alike (adopt/adapt), whose translations make the
orthographic distractors a learner who misreads the word would pick.
"""

from __future__ import annotations

import os

import numpy as np

# Inflectional and derivational endings, longest first so 'happiness' loses 'iness', not 's'.
_SUFFIXES = tuple(
    sorted(
        ("s", "es", "ies", "ed", "ied", "ing", "er", "ers", "ly", "ily", "y", "e", "al", "ally", "ic", "ical",
         "ically", "ness", "iness", "ment", "ments", "ion", "ions", "ation", "ations", "ity", "ive", "ous",
         "ful"),
        key=len,
        reverse=True,
    )
)
_SHORTEST_STEM = 3
_FAMILY_PREFIX = 4


def stem(word: str) -> str:
    """Crude stem: the word less its longest listed ending, keeping at least three letters."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _SHORTEST_STEM:
            return word[: -len(suffix)]
    return word


def same_stem(first: str, second: str) -> bool:
    """river/rivers, economic/economy, happy/happiness: one word in two forms (checked word by word)."""
    first_words, second_words = first.split(), second.split()
    return len(first_words) == len(second_words) and all(
        stem(a) == stem(b) for a, b in zip(first_words, second_words)
    )


def same_family(first: str, second: str) -> bool:
    """Looser than same_stem, for meaning neighbours: the stems share all but one letter of the shorter
    one (at least four letters), so hunger/hungry and decide/decision count as one word family.

    Not used for spelling neighbours, where star/start and bride/bridge must stay apart.
    """
    if same_stem(first, second):
        return True
    if " " in first or " " in second:
        return False
    first_stem, second_stem = stem(first), stem(second)
    shared = len(os.path.commonprefix([first_stem, second_stem]))
    return shared >= _FAMILY_PREFIX and shared >= min(len(first_stem), len(second_stem)) - 1


def spelling_neighbours(
    keys: list[str], min_length: int = 4, max_distance: int = 2
) -> dict[str, list[tuple[str, int]]]:
    """key → [(other key, edit distance)] for keys of ≥ min_length letters, distance 1..max_distance.

    Same-stem pairs are left out. rapidfuzz compares every pair in C (a few seconds for 17 k keys);
    the loop runs over blocks of rows so the distance matrix never has to fit in memory at once.
    """
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    long_keys = [key for key in keys if len(key) >= min_length]
    neighbours: dict[str, list[tuple[str, int]]] = {}
    for start in range(0, len(long_keys), 1024):
        block = long_keys[start : start + 1024]
        distances = cdist(
            block,
            long_keys,
            scorer=Levenshtein.distance,
            score_cutoff=max_distance,
            dtype=np.uint8,
            workers=-1,
        )
        for row, key in enumerate(block):
            close = np.flatnonzero((distances[row] >= 1) & (distances[row] <= max_distance))
            found = [(long_keys[col], int(distances[row, col])) for col in close]
            neighbours[key] = sorted((other, d) for other, d in found if not same_stem(key, other))
    return neighbours
