"""Has a model learnt its training pairs? The share of its output for words it was trained on that is one
of those words' own training targets.

    folder ─► config.json, and last.pt's record of the training CSV ─► pipeline.read_and_split, as training
           ─► K training words (seeded) ─► pipeline.distractors_for, as infer.py ─► hits / outputs

Read it beside the test-word columns. Fit near 0 means the model has not even learnt the words it saw
(underfitting: train longer or bigger); fit high while near misses on unseen words stay low means it
learnt its pairs by heart rather than what makes a near miss. A model trained on correct translations
scores 0 by construction: its targets are correct answers, which are never output.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from seq2seq.candidates import CandidateLexicon
from seq2seq.checkpoint import load_checkpoint
from seq2seq.compare import read_test_split
from seq2seq.config import with_overrides
from seq2seq.data import word_key
from seq2seq.errors import UserError
from seq2seq.model_folder import LAST_CHECKPOINT, TEST_SPLIT, TrainedModel
from seq2seq.pipeline import distractors_for, file_sha256, read_and_split


class Fit(NamedTuple):
    words: list[str]  # the training words asked, in the training CSV's spelling
    outputs: list[list[str]]  # the model's distractors for each
    hits: int  # outputs that are among their own word's training targets
    total: int  # all outputs

    @property
    def rate(self) -> float | None:
        """hits / outputs, pooled over the words; None when the model gave nothing at all."""
        return self.hits / self.total if self.total else None


def training_data(folder: Path) -> Path:
    """The CSV the model was trained on, as its last.pt records it, checked to be unchanged since."""
    if not (folder / LAST_CHECKPOINT).is_file():
        raise UserError(f"{folder}: no {LAST_CHECKPOINT}, which records the training data that --fit-words "
                        "needs; leave --fit-words at 0 for this folder")
    run = load_checkpoint(folder / LAST_CHECKPOINT).get("run", {})
    if not run.get("data"):
        raise UserError(f"{folder}: its {LAST_CHECKPOINT} records no training data; "
                        "leave --fit-words at 0 for it")
    path = Path(run["data"])
    if not path.is_file():
        raise UserError(f"{folder}: its training data ({path}) is gone; put it back to measure --fit-words")
    if file_sha256(path) != run.get("data_sha256"):
        raise UserError(f"{path} has changed since {folder} was trained, so its training split cannot be "
                        "rebuilt; restore it or leave --fit-words at 0")
    return path


def training_targets(folder: Path, trained: TrainedModel, data_path: Path) -> dict[str, tuple[str, set[str]]]:
    """word key → (its first spelling, its targets) over the training split, rebuilt as training made it.

    The split is checked against the folder's test.csv, so a change in how splits are made is caught
    rather than silently scoring test words as training words.
    """
    _, _, splits, _ = read_and_split(trained.config, data_path, log=lambda message: None)
    rebuilt_test_words = set(splits["test"]["source"].map(word_key))
    if ((folder / TEST_SPLIT).is_file()
            and rebuilt_test_words != set(read_test_split(folder)["source"].map(word_key))):
        raise UserError(f"{folder}: the rebuilt split of {data_path} differs from its {TEST_SPLIT}; "
                        "--fit-words cannot tell its training words")
    targets: dict[str, tuple[str, set[str]]] = {}
    for source, target in zip(splits["train"]["source"], splits["train"]["target"]):
        targets.setdefault(word_key(source), (source, set()))[1].add(target)
    return targets


def choose_words(keys: list[str], k: int, seed: int) -> list[str]:
    """Up to k of the keys, drawn with the seed, in sorted order."""
    keys = sorted(keys)
    picks = np.random.default_rng(seed).choice(len(keys), size=min(k, len(keys)), replace=False)
    return [keys[index] for index in sorted(picks)]


def training_fit(folder: Path, trained: TrainedModel, data_path: Path, k: int, n: int, seed: int,
                 lexicon: dict[str, frozenset[str]] | None, known_words: frozenset[str] | None,
                 candidates: CandidateLexicon | None = None, settings: dict | None = None) -> Fit:
    """Ask the model for n distractors, as infer.py does, for up to k of its training words (drawn with
    `seed`) from `data_path` (`training_data(folder)`), and count the outputs that are among the word's
    own training targets. `settings`: decoding settings that replace the folder's (evaluate.py's
    DIR@method=sample), as for the test words."""
    targets = training_targets(folder, trained, data_path)
    keys = choose_words(list(targets), k, seed)
    words = [targets[key][0] for key in keys]
    decode = with_overrides(trained.config, "decode", n=n, seed=seed, **(settings or {})).decode
    outputs = distractors_for(trained, words, decode, None, lexicon, known_words, candidates)
    hits = sum(output in targets[key][1] for key, found in zip(keys, outputs) for output in found)
    return Fit(words, outputs, hits, sum(map(len, outputs)))
