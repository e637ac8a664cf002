"""The whole build, step by step: JMdict entries → lexicon and rejection index → distractors → files."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jmdict_corpus.distractors import (
    Candidate,
    Vocabulary,
    build_vocabulary,
    homophone_candidates,
    orthographic_candidates,
    ranked_candidates,
    select_with_cap,
    semantic_candidates,
)
from jmdict_corpus.embedding import band_neighbours, embed
from jmdict_corpus.english import spelling_neighbours
from jmdict_corpus.jmdict_db import read_entries
from jmdict_corpus.output import write_csv_gz, write_lines_gz
from jmdict_corpus.reference import LexiconRow, all_forms, lexicon_rows, rejection_index
from seq2seq.data import ANSWER_SEPARATOR


@dataclass(frozen=True)
class BuildSettings:
    max_words: int = 1  # longest English key, in words
    per_key: int = 20  # distractors per English key, at most; 5 gave the tuned gloss space 0.609 near miss
    # on the validation words, 20 gave 0.681: its tuning learns from every pair (docs/RESULTS.md, 2026-12-04)
    cap: int = 20  # most keys one Japanese word may be a distractor for
    low: float = 0.45  # semantic band: below, neighbours are unrelated
    high: float = 0.85  # semantic band: at or above, neighbours are synonyms
    neighbours: int = 20  # semantic neighbours looked at per key
    seed: int = 0  # order in which keys take turns under the cap


def build(db_path: Path, licence_path: Path, out_dir: Path, settings: BuildSettings) -> dict[str, int]:
    """Build every shipped file into out_dir (made if missing); return the row count of each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = read_entries(db_path)
    rows = lexicon_rows(entries, settings.max_words)
    rejection = rejection_index(entries)
    vocabulary = build_vocabulary(rows, entries)
    chosen = mine_distractors(vocabulary, rejection, settings)
    shutil.copyfile(licence_path, out_dir / "LICENSE-JMdict")
    return {
        "lexicon.csv.gz": _write_lexicon(out_dir / "lexicon.csv.gz", rows),
        "rejection.csv.gz": _write_rejection(out_dir / "rejection.csv.gz", rejection),
        "distractors.csv.gz": _write_distractors(out_dir / "distractors.csv.gz", chosen, vocabulary),
        "related.csv.gz": _write_related(out_dir / "related.csv.gz", chosen, vocabulary),
        "ja_forms.txt.gz": write_lines_gz(out_dir / "ja_forms.txt.gz", sorted(all_forms(entries))),
    }


def mine_distractors(
    vocabulary: Vocabulary, rejection: dict[str, set[str]], settings: BuildSettings
) -> dict[str, list[Candidate]]:
    """English key → its chosen distractors, by the three rules, ranked, then capped."""
    keys = sorted(vocabulary.correct)
    texts = sorted(set(keys) | set(vocabulary.main_gloss.values()))
    vectors = embed(texts)
    row_of = {text: row for row, text in enumerate(texts)}

    def similarity(first: str, second: str) -> float:
        return float(vectors[row_of[first]] @ vectors[row_of[second]])

    key_vectors = vectors[[row_of[key] for key in keys]]
    semantic = band_neighbours(keys, key_vectors, settings.low, settings.high, settings.neighbours)
    spelling = spelling_neighbours(keys)
    ranked = {}
    for key in keys:
        by_kind = {
            "semantic": semantic_candidates(key, semantic[key], vocabulary),
            "orthographic": orthographic_candidates(
                key, spelling.get(key, []), vocabulary, similarity, settings.high
            ),
            "homophone": homophone_candidates(key, vocabulary, similarity),
        }
        ranked[key] = ranked_candidates(key, by_kind, vocabulary, rejection)
    return select_with_cap(ranked, settings.per_key, settings.cap, settings.seed)


def correct_answers(vocabulary: Vocabulary, key: str) -> str:
    """The key's correct headwords, sorted and joined with '|', as the Correct_Japanese column holds them."""
    return ANSWER_SEPARATOR.join(sorted({row.japanese for row in vocabulary.correct[key]}))


def _write_lexicon(path: Path, rows: list[LexiconRow]) -> int:
    return write_csv_gz(
        path,
        ("English", "Japanese", "reading", "pos", "sense"),
        ((row.english, row.japanese, row.reading, row.pos, row.sense) for row in rows),
    )


def _write_rejection(path: Path, rejection: dict[str, set[str]]) -> int:
    return write_csv_gz(
        path,
        ("English", "Japanese"),
        ((gloss, ANSWER_SEPARATOR.join(sorted(forms))) for gloss, forms in sorted(rejection.items())),
    )


def _write_distractors(path: Path, chosen: dict[str, list[Candidate]], vocabulary: Vocabulary) -> int:
    rows = sorted(
        (key, candidate.japanese, correct_answers(vocabulary, key), candidate.kind, f"{candidate.score:.3f}")
        for key, candidates in chosen.items()
        for candidate in candidates
    )
    return write_csv_gz(path, ("English", "Japanese", "Correct_Japanese", "kind", "score"), rows)


def _write_related(path: Path, chosen: dict[str, list[Candidate]], vocabulary: Vocabulary) -> int:
    """word,related: each correct headword of a key with each distractor of that key, for seq2seq.noise."""
    pairs = {
        (row.japanese, candidate.japanese)
        for key, candidates in chosen.items()
        for row in vocabulary.correct[key]
        for candidate in candidates
    }
    return write_csv_gz(path, ("word", "related"), sorted(pairs))
