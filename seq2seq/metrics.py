"""How good is a list of distractors? Numbers that can be worked out by hand, with no model in sight.

A good distractor for 'borrow' (correct: 借りる) is *wrong* (not a correct answer), a *real* word, and
*near in meaning*: 貸す means "lend", close to "borrow" without being it. Secondarily it is *close* in
form: it looks like the answer (貸し出す shares characters with 貸す), is written in the same script and
is the same part of speech, so a learner has to know the word to reject it. A list of them should be
*distinct*, and not the same few words offered for every English word.

Everything here takes plain strings and sets, already NFKC-normalised by the caller
(`seq2seq.data.normalize_text`): this module compares characters and does not clean them. Numbers are
averaged per word first and then over words, so a word with many candidates counts as much as one with few.

How near in meaning a candidate is comes from outside (`seq2seq.meaning`: a sentence-embedding cosine
between the English word and the candidate's English glosses); `score` takes it as a function, so this
module only decides what counts as near.

Quality measures (meaning, edit distance, script, POS, mined match) describe wrong candidates only and are
None for a copy of a correct answer: a copy is no distractor, so how close it is says nothing. Closeness is
the exception: a copy scores 0 there, so that a system which copies answers is marked down, not skipped.
"""
from __future__ import annotations

from collections import Counter
from statistics import mean
from typing import Callable, Iterable, NamedTuple

import numpy as np

CHRF_MAX_N = 2  # character unigrams and bigrams: Japanese words are short (借りる is three characters)
CHRF_BETA = 1.0  # precision and recall weigh the same: longer or shorter than the answer is not favoured


# --- edit distance ----------------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over characters: the fewest insertions, deletions and substitutions.

    Why characters: a kanji or kana is one unit of spelling; 貸す → 貸し出す is two insertions.
    Two rows of the dynamic-programming table are enough.
    """
    previous = list(range(len(b) + 1))  # distance from a[:0] to each prefix of b
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def normalized_edit_distance(a: str, b: str) -> float:
    """Edit distance over the longer length, in [0, 1]: 0 identical, 1 nothing in common position-wise.

    Why normalise: one edit between two one-character words is total change, in a ten-character word it
    is small. Two empty strings are identical (0).
    """
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0


class Nearest(NamedTuple):
    distance: int  # the smallest raw edit distance to any correct answer
    normalized: float  # the smallest normalised edit distance (possibly to another answer)


def nearest_correct(candidate: str, correct_answers: Iterable[str]) -> Nearest | None:
    """The candidate's distance to the closest correct answer; None when no answer is known.

    Why the minimum: a word with several answers (borrow: 借りる, 取り入れる) is confusable through any one.
    """
    answers = list(correct_answers)
    if not answers:
        return None
    return Nearest(min(edit_distance(candidate, answer) for answer in answers),
                   min(normalized_edit_distance(candidate, answer) for answer in answers))


# --- right or wrong, real or not ------------------------------------------------------------------------


def is_wrong(candidate: str, correct_answers: Iterable[str]) -> bool:
    """True when the candidate is not a correct answer, which is the first thing a distractor must be.

    Pass every known correct form: the data's own answers and the rejection index's JMdict forms for the
    word (かわ and 河 are as correct as 川 for 'river').
    """
    return candidate not in set(correct_answers)


def is_valid(candidate: str, known_forms: frozenset[str] | set[str]) -> bool:
    """True when the candidate is a real Japanese word (a form in the JMdict list), not invented text."""
    return candidate in known_forms


# --- closeness that does not reward copying ---------------------------------------------------------------


def char_ngrams(text: str, n: int) -> Counter:
    """The multiset of character n-grams: 'かりる', 2 → {かり: 1, りる: 1}."""
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf(candidate: str, reference: str, max_n: int = CHRF_MAX_N, beta: float = CHRF_BETA) -> float:
    """chrF-style F-score of shared character n-grams (n = 1..max_n), in [0, 1].

    Precision (shared n-grams over the candidate's) and recall (over the reference's) are each averaged
    over the orders n that both strings are long enough to have, then combined as an F-beta score.
    Why averaging over the orders both have: one-character words (川, 池) have no bigrams, and would
    otherwise be scored 0 for a reason that has nothing to do with closeness.
    """
    precisions, recalls = [], []
    for n in range(1, max_n + 1):
        grams_c, grams_r = char_ngrams(candidate, n), char_ngrams(reference, n)
        if not grams_c or not grams_r:
            continue
        shared = sum((grams_c & grams_r).values())  # a shared n-gram counts as often as it is in both
        precisions.append(shared / sum(grams_c.values()))
        recalls.append(shared / sum(grams_r.values()))
    if not precisions:
        return 0.0
    precision, recall = mean(precisions), mean(recalls)
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def closeness(candidate: str, correct_answers: Iterable[str], rejected: Iterable[str] = ()) -> float | None:
    """chrF against the most similar correct answer; 0 for a copy of any correct or rejected form.

    Why 0 for a copy: the most 'similar' output is the answer itself, and it is not a distractor; without
    this, a system could score perfectly by handing back the key. None when no correct answer is known.
    """
    answers = list(correct_answers)
    if not answers:
        return None
    if not is_wrong(candidate, set(answers) | set(rejected)):
        return 0.0
    return max(chrf(candidate, answer) for answer in answers)


# --- script and part of speech ----------------------------------------------------------------------------

SCRIPTS = ("kanji", "hiragana", "katakana", "mixed", "latin", "other")


def char_class(char: str) -> str | None:
    """kanji / hiragana / katakana / latin for one character, or None for digits, spaces and punctuation.

    Ranges: CJK ideographs (extension A, the main block, compatibility) and 々 are kanji; U+3041–309F
    hiragana; U+30A1–30FF and the small-kana extension U+31F0–31FF katakana, except the middle dot ・ and
    the long-vowel mark ー, which both kana write (すげー); ASCII and Latin-1/Extended letters latin.
    """
    code = ord(char)
    if 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or char == "々":
        return "kanji"
    if 0x3041 <= code <= 0x309F:
        return "hiragana"
    if (0x30A1 <= code <= 0x30FF and char not in "・ー") or 0x31F0 <= code <= 0x31FF:
        return "katakana"
    if char.isalpha() and (code < 0x80 or 0xC0 <= code <= 0x24F):
        return "latin"
    return None


def script_of(word: str) -> str:
    """One of SCRIPTS, by the classes of the word's letters (digits and punctuation do not count).

    kanji: at least one kanji, otherwise only kana (借りる, 川, ノート型), as the corpus README counts
    headwords; hiragana, katakana, latin: only that class; mixed: kana of both kinds or Japanese with Latin
    (ひらカタ, Tシャツ); other: no letters at all (empty, digits, symbols).
    """
    classes = {cls for cls in map(char_class, word) if cls}
    if not classes:
        return "other"
    if "kanji" in classes and "latin" not in classes:
        return "kanji"
    return classes.pop() if len(classes) == 1 else "mixed"


def same_script(candidate: str, correct_answers: Iterable[str]) -> bool | None:
    """True when the candidate is written like one of the answers; None when no answer is known.

    Why: a katakana loanword among kanji answers stands out, and a learner can reject it by its look.
    """
    scripts = {script_of(answer) for answer in correct_answers}
    return script_of(candidate) in scripts if scripts else None


def same_pos(candidate: str, correct_answers: Iterable[str], pos_table: dict[str, frozenset[str]],
             answer_pos: frozenset[str] | None = None) -> bool | None:
    """True when the candidate shares a part of speech with the answers: `answer_pos` when the caller
    knows the English word's own (the lexicon by English key), else every POS the table gives an answer.

    None when the table does not know the candidate, or no answer POS is known: unknown is not
    disagreement, and averages skip it. Why: a noun offered for a verb can be rejected on grammar alone.
    """
    candidate_pos = pos_table.get(candidate)
    if not answer_pos:
        answer_pos = set().union(*(pos_table.get(answer, ()) for answer in correct_answers))
    if not candidate_pos or not answer_pos:
        return None
    return bool(candidate_pos & answer_pos)


# --- near in meaning ---------------------------------------------------------------------------------------

# A wrong real word is a near miss from this cosine on. The corpus builder called a neighbour "close in
# meaning" from 0.45 (its band [0.45, 0.85), data/README.md): below it MiniLM neighbours were unrelated.
# Measured on 300 bundled words (README, Evaluate), it is also where the word's own mined distractors and
# random words of the answer's class part best: 82% of the mined ones reach it (99.5% of the semantic ones)
# against 2.6% of the random ones; at 0.40 it is 84% against 6.7%, at 0.50 71% against 0.7%.
NEAR_THRESHOLD = 0.45


def is_near(meaning: float | None, wrong: bool, valid: bool | None) -> bool:
    """A wrong, real word whose meaning cosine reaches NEAR_THRESHOLD.

    `valid` None (no form list to check against) does not block: a candidate with glosses is a JMdict
    form anyway. No meaning (no glosses known) is not near: nothing shows that it is.
    """
    return wrong and valid is not False and meaning is not None and meaning >= NEAR_THRESHOLD


def near_miss_rate(candidates: list[str], near: list[bool], n: int) -> float:
    """Distinct near candidates out of the n asked for: a short list lowers it, as for `distinct`."""
    near_candidates = {candidate for candidate, near_miss in zip(candidates, near) if near_miss}
    return min(len(near_candidates), n) / n if n > 0 else 0.0


# --- lists of outputs ---------------------------------------------------------------------------------------


def distinct(candidates: list[str], n: int) -> float:
    """Distinct candidates out of the n asked for, in [0, 1]: duplicates and a short list both lower it."""
    return min(len(set(candidates)), n) / n if n > 0 else 0.0


def words_per_output(candidate_lists: list[list[str]]) -> Counter:
    """How many words each output was given for (a word listing it twice counts once)."""
    return Counter(candidate for candidates in candidate_lists for candidate in set(candidates))


def shared_share(candidate_lists: list[list[str]]) -> float:
    """Share of all outputs that are also an output for another word: the cross-word repetition.

    Chosen over "share of the single most frequent output" because a model that offers ten stock words
    everywhere repeats badly but has no one dominant word; this catches both. 0 when there are no outputs.
    """
    counts = words_per_output(candidate_lists)
    outputs = [candidate for candidates in candidate_lists for candidate in candidates]
    return sum(counts[candidate] > 1 for candidate in outputs) / len(outputs) if outputs else 0.0


def exact_match_rate(predictions: list[str | None],
                     correct_sets: list[set[str] | frozenset[str]]) -> float | None:
    """Share of words whose single prediction is one of its correct answers (translation mode).

    A None prediction (the model never ended its output) is a miss. None when there are no words.
    """
    if not predictions:
        return None
    return (sum(prediction in correct for prediction, correct in zip(predictions, correct_sets))
            / len(predictions))


# --- is a difference real? ----------------------------------------------------------------------------------

BOOTSTRAP_SAMPLES = 2000  # resamples of the words; enough for a stable 95% interval


class Difference(NamedTuple):
    mean: float  # mean over words of (system − reference)
    low: float  # 2.5th percentile of the resampled means
    high: float  # 97.5th percentile
    words: int  # words where both systems have a value

    @property
    def clear(self) -> bool:
        """The 95% interval leaves out 0: another draw of test words would most likely keep the sign."""
        return self.low > 0 or self.high < 0


def paired_difference(reference: list[float | None], system: list[float | None],
                      samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Difference | None:
    """How much `system` differs from `reference` on the same words, with a 95% paired bootstrap interval.

    Why paired: a word that is hard for one system is usually hard for the other, so the per-word
    differences vary far less than either system's scores. Resampling words (with replacement) and
    averaging their differences shows how much the mean would move with other test words.
    It says nothing about training noise: a second training seed can move the numbers too.
    None when no word has both values.
    """
    pairs = [(a, b) for a, b in zip(reference, system) if a is not None and b is not None]
    if not pairs:
        return None
    differences = np.array([float(b) - float(a) for a, b in pairs])  # (words,)
    picks = np.random.default_rng(seed).integers(0, len(differences), (samples, len(differences)))
    resampled_means = differences[picks].mean(axis=1)  # (samples,)
    low, high = np.percentile(resampled_means, [2.5, 97.5])
    return Difference(float(differences.mean()), float(low), float(high), len(differences))


# --- scoring a system's output ------------------------------------------------------------------------------

ITEM_METRICS = ("wrong", "valid", "meaning", "closeness", "edit_distance", "edit_distance_norm",
                "same_script", "same_pos", "mined", "shared")
SUMMARY_METRICS = ("distinct", "near_miss") + ITEM_METRICS
Meaning = Callable[[str, str], float | None]  # (English word, candidate) → cosine, None when unknown


class Item(NamedTuple):
    """One English word and what a system offered for it."""

    word: str
    correct: frozenset[str]  # the data's correct answers: the reference for closeness, script and POS
    candidates: list[str]  # the system's outputs, in its order
    rejected: frozenset[str] = frozenset()  # further correct forms (rejection index): never a distractor
    mined: frozenset[str] | None = None  # the data's own distractors for the word, when it has them
    # the English word's parts of speech, when the lexicon knows them
    answer_pos: frozenset[str] | None = None


class Scores(NamedTuple):
    items: list[dict]  # one row per (word, candidate)
    words: list[dict]  # one row per word: its candidates' averages
    summary: dict  # the per-word rows averaged over words, and the most repeated output


def score_candidate(candidate: str, item: Item, known_forms: frozenset[str] | None,
                    pos_table: dict[str, frozenset[str]] | None, word_counts: Counter,
                    meaning_of: Meaning | None = None) -> dict:
    """Every per-candidate measure for one output (see the module docstring for which are None when).

    `near` is None without `meaning_of`: not measured, which is not the same as not near.
    """
    wrong = is_wrong(candidate, item.correct | item.rejected)
    valid = is_valid(candidate, known_forms) if known_forms is not None else None
    meaning = meaning_of(item.word, candidate) if wrong and meaning_of is not None else None
    nearest = nearest_correct(candidate, item.correct) if wrong else None
    return {
        "word": item.word, "candidate": candidate, "wrong": wrong, "valid": valid,
        "meaning": meaning, "near": is_near(meaning, wrong, valid) if meaning_of is not None else None,
        "closeness": closeness(candidate, item.correct, item.rejected),
        "edit_distance": nearest.distance if nearest else None,
        "edit_distance_norm": nearest.normalized if nearest else None,
        "script": script_of(candidate),
        "same_script": same_script(candidate, item.correct) if wrong else None,
        "same_pos": same_pos(candidate, item.correct, pos_table, item.answer_pos)
                    if wrong and pos_table is not None else None,
        "mined": candidate in item.mined if wrong and item.mined is not None else None,
        "shared": word_counts[candidate] > 1,
    }


def average(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are known (True counts 1, False 0); None when none is known."""
    known = [float(value) for value in values if value is not None]
    return mean(known) if known else None


def score(items: list[Item], n: int, known_forms: frozenset[str] | None = None,
          pos_table: dict[str, frozenset[str]] | None = None, meaning_of: Meaning | None = None) -> Scores:
    """Score a system: per-candidate rows, per-word averages, and those averaged over words.

    `n` is how many candidates were asked for per word (for `distinct` and `near_miss`). Without
    `known_forms`, `valid` is None; without `pos_table`, `same_pos` is None; without `meaning_of`
    (word, candidate → cosine), `meaning` and `near_miss` are None.
    """
    word_counts = words_per_output([item.candidates for item in items])
    item_rows, word_rows = [], []
    for item in items:
        rows = [score_candidate(candidate, item, known_forms, pos_table, word_counts, meaning_of)
                for candidate in item.candidates]
        item_rows.extend(rows)
        near_miss = near_miss_rate(item.candidates, [row["near"] for row in rows], n) if meaning_of else None
        word_rows.append({"word": item.word, "correct": "|".join(sorted(item.correct)),
                          "candidates": "|".join(item.candidates), "distinct": distinct(item.candidates, n),
                          "near_miss": near_miss,
                          **{metric: average(row[metric] for row in rows) for metric in ITEM_METRICS}})
    summary = {"words": len(items),
               **{metric: average(row[metric] for row in word_rows) for metric in SUMMARY_METRICS}}
    summary["shared"] = shared_share([item.candidates for item in items])  # of all outputs, not per word
    top = word_counts.most_common(1)
    summary["most_repeated"] = {"output": top[0][0], "words": top[0][1]} if top else None
    return Scores(item_rows, word_rows, summary)
