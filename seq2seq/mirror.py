"""Mirrored pairs: a near miss read the other way round is a near miss too.

The corpus says that 貸す (lend) is a near miss of borrow, whose answer is 借りる. Read backwards, 借りる is a
near miss of any word whose answer is 貸す, such as lend. The corpus rarely says so itself: it was mined
word by word. Adding those rows teaches the model, for the answer it is shown, the words that were mined
*towards* it, and that is what carries over to words it never saw: on the bundled corpus's test words,
looking this relation up picks near misses five times as often as a random word sharing a kanji
(docs/RESULTS.md).

    training rows                     mirrored row added
    borrow ⟨sep⟩ 借りる  → 貸す         lend ⟨sep⟩ 貸す → 借りる    (lend is a training word answered by 貸す)

Only training rows are read and only training words get new rows, so no held-out word leaks in. A word
gets at most `per_word` mirrored rows: the answers that most of its near misses point back to.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd

from seq2seq.data import word_key
from seq2seq.lexicon import normalize_gloss


def mirrored_pairs(pairs: pd.DataFrame, per_word: int,
                   rejection_index: dict[str, frozenset[str]] | None = None) -> pd.DataFrame:
    """New (source, target, correct) rows: for each word, up to `per_word` answers of other words whose
    near miss is this word's answer, best-supported first.

    A new target is never one of the word's own answers or targets, nor a form the rejection index lists
    as a correct translation of the word (the corpus builder kept those out of the corpus too).
    """
    if per_word <= 0 or pairs.empty:
        return pairs.iloc[0:0]
    spelling, answers, targets = word_facts(pairs)
    words_answered_by: dict[str, list[str]] = {}  # answer form → the words it translates
    for word in sorted(answers):
        for answer in answers[word]:
            words_answered_by.setdefault(answer, []).append(word)
    votes: dict[str, Counter] = {}  # word → mirrored answer → how many corpus rows point it back
    for source, target, correct in pairs[["source", "target", "correct"]].itertuples(index=False):
        for word in words_answered_by.get(target, ()):
            votes.setdefault(word, Counter()).update(a for a in correct if a not in answers[word] | targets[word])
    rows = []
    for word in sorted(votes):
        refused = (rejection_index or {}).get(normalize_gloss(spelling[word]), frozenset())
        ranked = sorted((-count, answer) for answer, count in votes[word].items() if answer not in refused)
        rows += [(spelling[word], answer, tuple(sorted(answers[word]))) for _, answer in ranked[:per_word]]
    return pd.DataFrame(rows, columns=["source", "target", "correct"])


def word_facts(pairs: pd.DataFrame) -> tuple[dict[str, str], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Per word key: its first spelling, its correct answers and its targets."""
    spelling: dict[str, str] = {}
    answers: dict[str, set[str]] = {}
    targets: dict[str, set[str]] = {}
    for source, target, correct in pairs[["source", "target", "correct"]].itertuples(index=False):
        word = word_key(source)
        spelling.setdefault(word, source)
        answers.setdefault(word, set()).update(correct)
        targets.setdefault(word, set()).add(target)
    return spelling, {w: frozenset(a) for w, a in answers.items()}, {w: frozenset(t) for w, t in targets.items()}
