"""A JMdict entry as plain data, and the rules read off one entry: common?, headword, reading, POS.

JMdict terms used here: an entry has kanji forms (書き方, "keb") and kana forms (読み方, "reb"), each
with priority tags, and senses, each with part-of-speech tags, misc tags and English glosses.
"""

from __future__ import annotations

from dataclasses import dataclass

# JMdict's own definition of a "common" word (the (P) mark in EDICT): one of these on any form.
COMMON_PRIORITIES = frozenset({"news1", "ichi1", "spec1", "spec2", "gai1"})

# Senses a learner should not be quizzed on: dated, unusual, or offensive meanings.
SKIPPED_MISC = frozenset(
    {"archaism", "obsolete term", "obscure term", "rare", "derogatory", "vulgar expression or word"}
)
USUALLY_KANA = "word usually written using kana alone"

# Coarse part of speech of one JMdict POS tag, by how the tag begins; the first matching rule wins.
# Order matters: "noun or participle which takes the aux. verb suru" is a noun although it says "verb".
_NO_CONTENT_TAGS = ("auxiliary", "noun, used as", "suffix", "prefix", "particle", "counter", "conjunction",
                    "interjection", "copula", "expressions", "numeric", "unclassified")
_POS_TAG_RULES = (
    ("noun or participle which takes the aux. verb suru", "noun"),
    ("noun or verb acting prenominally", "adjective"),
    (_NO_CONTENT_TAGS, None),
    ("adverb", "adverb"),
)
# When one sense carries several classes, the most specific one names it (幸せ, noun and adjectival
# noun, is an adjective; 少し, adverb and noun, is an adverb).
COARSE_POS_ORDER = ("verb", "adjective", "adverb", "noun")


@dataclass(frozen=True)
class Form:
    """One written form; `applies_to` lists the kanji forms a kana reading is limited to (empty: all)."""

    text: str
    priorities: frozenset[str] = frozenset()
    applies_to: tuple[str, ...] = ()

    @property
    def is_common(self) -> bool:
        return bool(self.priorities & COMMON_PRIORITIES)


@dataclass(frozen=True)
class Sense:
    pos: tuple[str, ...]
    misc: tuple[str, ...]
    glosses: tuple[str, ...]

    @property
    def is_skipped(self) -> bool:
        return bool(SKIPPED_MISC.intersection(self.misc))


@dataclass(frozen=True)
class Entry:
    idseq: int
    kanji: tuple[Form, ...]
    kana: tuple[Form, ...]
    senses: tuple[Sense, ...]

    @property
    def forms(self) -> tuple[Form, ...]:
        return self.kanji + self.kana


def is_common(entry: Entry) -> bool:
    """Common by JMdict's rule: a news1/ichi1/spec1/spec2/gai1 priority on any kanji or kana form."""
    return any(form.is_common for form in entry.forms)


def is_usually_kana(entry: Entry) -> bool:
    """Written in kana in practice: no kanji form, none of them common, or the first sense says so."""
    if not any(form.is_common for form in entry.kanji):
        return True
    return bool(entry.senses) and USUALLY_KANA in entry.senses[0].misc


def headword(entry: Entry) -> str:
    """The form a learner would write: the first common kanji form, else the first (common) kana form."""
    if is_usually_kana(entry):
        return _first_common(entry.kana).text
    return _first_common(entry.kanji).text


def reading(entry: Entry) -> str:
    """The kana reading of the headword: itself when it is kana, else the first kana form that may
    be read for it (JMdict limits some readings to some kanji forms, as やまと to 大和 beside 日本)."""
    word = headword(entry)
    if any(form.text == word for form in entry.kana):
        return word
    fitting = (form for form in entry.kana if not form.applies_to or word in form.applies_to)
    return next(fitting, entry.kana[0]).text


def _first_common(forms: tuple[Form, ...]) -> Form:
    return next((form for form in forms if form.is_common), forms[0])


def coarse_pos(sense: Sense) -> str | None:
    """noun / verb / adjective / adverb, or None for function words, affixes, expressions and the rest."""
    classes = {pos_class(tag) for tag in sense.pos}
    return next((coarse for coarse in COARSE_POS_ORDER if coarse in classes), None)


def pos_class(tag: str) -> str | None:
    """The coarse class of one POS tag: 'Godan verb with 'ku' ending' → 'verb'; 'suffix' → None."""
    for beginning, coarse in _POS_TAG_RULES:
        if tag.startswith(beginning):
            return coarse
    if "verb" in tag:
        return "verb"
    if "adjective" in tag or "adjectival" in tag:
        return "adjective"
    return "noun" if tag.startswith(("noun", "pronoun")) else None
