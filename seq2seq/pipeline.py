"""The whole job, one plain call per arrow of the design:

    CSV ─► pairs ─► split by word ─► tokenizer (train split only) ─► batches ─► model ─► trainer ─► folder

`train_from_csv` is what `train.py` calls; `distractors_for` is what `infer.py` calls.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seq2seq.batching import encode_pairs, make_batches
from seq2seq.config import Config, DecodeConfig, resolve_model
from seq2seq.data import DataError, correct_answers_by_word, load_pairs, normalize_text, split_by_word, word_key
from seq2seq.decoding import distinct_outputs
from seq2seq.errors import UserError
from seq2seq.lexicon import load_forms, load_rejection_index, normalize_gloss
from seq2seq.model_folder import WEIGHTS, TrainedModel, save_setup
from seq2seq.models import build_model, num_parameters
from seq2seq.trainer import FitResult, Trainer, choose_device, choose_precision
from tokenizer import Tokenizer, train_tokenizer

BUNDLED_DATA = Path(__file__).resolve().parent.parent / "data"
BUNDLED_REJECTION_INDEX = BUNDLED_DATA / "rejection.csv.gz"  # every JMdict form per English gloss
BUNDLED_FORMS = BUNDLED_DATA / "ja_forms.txt.gz"  # every Japanese form in JMdict


@dataclass
class TrainSummary:
    fit: FitResult
    splits: dict[str, pd.DataFrame]
    trained: TrainedModel


def targets_are_correct(config: Config, pairs_have_refs: bool) -> bool:
    """Translation mode (targets are correct answers) or distractor mode (targets are near misses)."""
    mode = config.data.targets
    if mode == "auto":
        return not pairs_have_refs
    if mode not in ("correct", "distractors"):
        raise UserError(f"targets '{mode}' is not known; use auto, correct or distractors")
    return mode == "correct"


def report_correct_targets(pairs: pd.DataFrame, translation_mode: bool, log) -> None:
    """In distractor mode, say how many targets are also correct answers: trained on, but never output."""
    if translation_mode:
        return
    overlap = sum(target in correct for target, correct in zip(pairs["target"], pairs["correct"]))
    if overlap:
        log(f"note: {overlap} rows have a target that is also a correct answer for their word (noise augmentation "
            "makes such rows); they are trained on as given, and are still never output")


def refuse_to_replace(out: Path, overwrite: bool) -> None:
    """Checked before any work, so a finished model is never replaced by accident."""
    if (out / WEIGHTS).exists() and not overwrite:
        raise UserError(f"{out} already holds a trained model; pass --overwrite or choose another --out")


def train_from_csv(config: Config, data_path: str | Path, out: str | Path | None, progress: bool = True,
                   overwrite: bool = False, log=print) -> TrainSummary:
    """Train a model on a CSV and, if `out` is given, write its model folder there.

    Everything that can fail on the user's input (the CSV, the split, the settings) is checked before the
    first file is written.
    """
    folder = Path(out) if out is not None else None
    if folder is not None:
        refuse_to_replace(folder, overwrite)
    pairs, splits, translation_mode = read_and_split(config, data_path, log)
    tokenizer = train_tokenizer(pd.concat([splits["train"]["source"], splits["train"]["target"]]),
                                config.tokenizer.vocab_size, config.tokenizer.model_type,
                                config.tokenizer.character_coverage)
    config = replace(config, model=resolve_model(config.model, tokenizer.vocab_size, tokenizer.pad_id))
    train_examples, dropped = encode_pairs(splits["train"], tokenizer, config.model.max_len)
    valid_examples, _ = encode_pairs(splits["valid"], tokenizer, config.model.max_len)
    if dropped:
        log(f"left out {dropped} training pairs longer than max_len {config.model.max_len} pieces")
    if not train_examples:
        raise DataError(f"{data_path}: no training pairs left after the split; add more words")
    trainer = make_trainer(config, tokenizer, folder, progress, log)

    answers = correct_answers_by_word(pairs, translation_mode)
    if folder is not None:
        save_setup(folder, config, tokenizer, answers, splits["test"])
    rng = np.random.default_rng(config.train.seed)
    fit = trainer.fit(lambda epoch: make_batches(train_examples, tokenizer, config.train.batch_size, rng),
                      make_batches(valid_examples, tokenizer, config.train.batch_size))
    model = trainer.model
    if folder is not None:  # continue with the best weights, as a reload would
        model.load_state_dict(torch.load(folder / WEIGHTS, map_location=trainer.device, weights_only=True))
    return TrainSummary(fit, splits, TrainedModel(model.eval(), tokenizer, config, answers))


def read_and_split(config: Config, data_path: str | Path, log) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], bool]:
    """The checked pairs, their split by word, and whether the targets are correct translations."""
    data = config.data
    pairs = load_pairs(data_path, data.src_col, data.tgt_col, data.ref_col or None)
    translation_mode = targets_are_correct(config, pairs["correct"].map(len).any())
    report_correct_targets(pairs, translation_mode, log)
    splits = split_by_word(pairs, data.valid_fraction, data.test_fraction, config.train.seed)
    log(f"{data_path}: {len(pairs)} pairs, {pairs['source'].map(word_key).nunique()} words; "
        f"train/valid/test pairs {len(splits['train'])}/{len(splits['valid'])}/{len(splits['test'])}; "
        f"targets are {'correct translations' if translation_mode else 'distractors'}")
    return pairs, splits, translation_mode


def make_trainer(config: Config, tokenizer: Tokenizer, folder: Path | None, progress: bool, log) -> Trainer:
    """A freshly initialised model (seeded) on the chosen device and precision, ready to train."""
    torch.manual_seed(config.train.seed)
    model = build_model(config.model)
    device = choose_device(config.train.device)
    dtype = choose_precision(config.train.precision, device)
    log(f"model: {config.model.arch}, {num_parameters(model):,} parameters, vocabulary {tokenizer.vocab_size}; "
        f"device {device}, precision {str(dtype).removeprefix('torch.')}")
    return Trainer(model, config.train, tokenizer.pad_id, device, dtype, folder, progress)


def load_lexicon(setting: str) -> dict[str, frozenset[str]] | None:
    """'auto': the bundled JMdict rejection index if it is there; 'none': no lexicon; else a path to one."""
    if setting == "none":
        return None
    if setting == "auto":
        return load_rejection_index(BUNDLED_REJECTION_INDEX) if BUNDLED_REJECTION_INDEX.is_file() else None
    return load_rejection_index(setting)


def known_answers(trained: TrainedModel, word: str, lexicon: dict[str, frozenset[str]] | None = None) -> set[str]:
    """Correct answers to exclude for `word`: those stored in the model folder and the lexicon's."""
    from_lexicon = (lexicon or {}).get(normalize_gloss(word), frozenset())
    return set(trained.answers.get(word_key(word), ())) | from_lexicon


def load_known_words(setting: str) -> frozenset[str] | None:
    """'auto': the bundled JMdict form list if it is there; 'none': any output allowed; else a path to one."""
    if setting == "none":
        return None
    if setting == "auto":
        return load_forms(BUNDLED_FORMS) if BUNDLED_FORMS.is_file() else None
    return load_forms(setting)


def distractors_for(trained: TrainedModel, words: list[str], decode: DecodeConfig, exclude: list[set[str]] | None = None,
                    lexicon: dict[str, frozenset[str]] | None = None,
                    known_words: frozenset[str] | None = None) -> list[list[str]]:
    """`decode.n` distinct near misses per word, none of them a known correct answer, and each one of
    `known_words` when that is given."""
    words = [normalize_text(word) for word in words]
    excluded = [known_answers(trained, word, lexicon) | (exclude[i] if exclude else set()) for i, word in enumerate(words)]
    return distinct_outputs(trained.model, trained.tokenizer, words, excluded, decode.n, decode,
                            trained.config.model.max_len, known_words)
