"""A trained model is a folder; this module writes and reads it.

    config.json    every setting needed to rebuild the model, tokenizer and decoder, and the folder's "format"
    model.pt       the weights (a state dict; loaded with weights_only=True, so loading runs no code)
    spm.model      the SentencePiece vocabulary
    answers.json   known correct answers per source word, excluded when generating distractors
    test.csv       the held-out test split (English, Japanese, Correct_Japanese): words never trained on
    metrics.csv    one row per validation (written by the trainer)
    last.pt        the resumable state of the latest step: weights, optimizer, progress
                   (seq2seq/checkpoint.py)
    epoch{N}.pt    with train.keep_epochs, the weights after each epoch, to study quality against
                   training time
    gloss_vectors.pt  the gloss space's word vectors, tuned on the training pairs after training
                   (seq2seq/gloss_tuning.py); ranking reads the untuned space where it is missing
    train.log      what the run said; tensorboard/ its event files, when tensorboard is installed

Every file is written to a temporary name and then renamed, so a crash mid-write leaves the previous
file intact rather than a half-written one. A folder may come from anyone: reading one checks every file
and stops at the first bad one with a UserError that names it, never a traceback, and never runs code.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from seq2seq.config import Config, config_to_json, load_json, read_json
from seq2seq.data import pairs_to_csv
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossVectors
from seq2seq.models import build_model
from seq2seq.models.base import Seq2SeqModel
from tokenizer import Tokenizer

CONFIG, WEIGHTS, VOCABULARY, ANSWERS, METRICS = ("config.json", "model.pt", "spm.model", "answers.json",
                                                 "metrics.csv")
TEST_SPLIT, LAST_CHECKPOINT, TRAIN_LOG, TENSORBOARD = "test.csv", "last.pt", "train.log", "tensorboard"
GLOSS_VECTORS = "gloss_vectors.pt"
MODEL_FILES = (CONFIG, WEIGHTS, VOCABULARY, ANSWERS, METRICS, TEST_SPLIT, LAST_CHECKPOINT, TRAIN_LOG,
               GLOSS_VECTORS)
EPOCH_WEIGHTS = "epoch{epoch}.pt"  # the weights after one epoch, kept with train.keep_epochs


@dataclass
class TrainedModel:
    """Everything inference needs, rebuilt from a model folder."""

    model: Seq2SeqModel
    tokenizer: Tokenizer
    config: Config
    answers: dict[str, list[str]]  # word key → known correct answers
    gloss_vectors: GlossVectors | None = None  # the folder's tuned gloss space, if it has one


def write_atomic(path: Path, data: bytes) -> None:
    """Write to `path.tmp`, flush to disk, then rename over `path` (a rename is atomic on POSIX)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def check_folder_can_be_written(folder: Path, option: str) -> None:
    """Refuse, before any work, a folder that `option` names but that cannot be made or written in, so the
    error never comes after the minutes of work whose result the folder was to hold. Missing parent
    folders are fine: they are made."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: is a file, not a folder; choose another {option}")
    nearest = next(place for place in (folder, *folder.parents) if place.exists())
    if not nearest.is_dir():
        raise UserError(f"{folder}: cannot be made, because {nearest} is a file; choose another {option}")
    refuse_unwritable(nearest, folder, option)


def refuse_unwritable(folder: Path, path: Path, option: str) -> None:
    """`path` is to be written in `folder`, which must let us."""
    if not os.access(folder, os.W_OK):
        raise UserError(f"{path}: no permission to write in {folder}; choose another {option}")


def save_setup(folder: Path, config: Config, tokenizer: Tokenizer, answers: dict[str, list[str]],
               test_split: pd.DataFrame) -> None:
    """Write what is fixed before training starts: settings, vocabulary, known answers, the test split.

    The files of an earlier model in `folder` are removed first (only those: the folder may hold others),
    so no old weights or metrics rows are mixed with the new model's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        (folder / name).unlink(missing_ok=True)
    for kept in folder.glob(EPOCH_WEIGHTS.format(epoch="*")):
        kept.unlink()
    shutil.rmtree(folder / TENSORBOARD, ignore_errors=True)
    write_atomic(folder / CONFIG, config_to_json(config).encode("utf-8"))
    write_atomic(folder / VOCABULARY, tokenizer.model_proto)
    write_atomic(folder / ANSWERS, json.dumps(answers, ensure_ascii=False, indent=0).encode("utf-8"))
    write_atomic(folder / TEST_SPLIT, pairs_to_csv(test_split).encode("utf-8"))


def save_weights(folder: Path, model: Seq2SeqModel, name: str = WEIGHTS) -> None:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(folder / name, buffer.getvalue())


def load_model(folder: str | Path, device: str | torch.device = "cpu",
               weights: str = WEIGHTS) -> TrainedModel:
    """Rebuild the model exactly as saved, in eval mode, on `device`; `weights` may name another file of
    the folder's weights (epoch3.pt)."""
    folder = Path(folder)
    for name in (CONFIG, weights, VOCABULARY):
        if not (folder / name).is_file():
            raise UserError(f"{folder}: no {name}; pass a folder written by train.py (did "
                            "training finish an epoch?)")
    config = load_json(folder / CONFIG)
    tokenizer = Tokenizer.load(folder / VOCABULARY)
    if tokenizer.vocab_size != config.model.vocab_size:
        raise UserError(f"{folder / VOCABULARY}: {tokenizer.vocab_size} pieces, but {CONFIG} says the model "
                        f"has {config.model.vocab_size}; put back the {VOCABULARY} trained with this model")
    try:
        model = build_model(config.model)
    except UserError as err:
        raise UserError(f"{folder / CONFIG}: {err}") from None
    load_weights(model, folder / weights)
    return TrainedModel(model.to(device).eval(), tokenizer, config, load_answers(folder / ANSWERS),
                        load_gloss_vectors(folder / GLOSS_VECTORS))


def save_gloss_vectors(folder: Path, tuned: GlossVectors) -> None:
    buffer = io.BytesIO()
    torch.save({"words": tuned.words, "vectors": tuned.vectors, "members": tuned.members}, buffer)
    write_atomic(folder / GLOSS_VECTORS, buffer.getvalue())


def load_gloss_vectors(path: Path) -> GlossVectors | None:
    """gloss_vectors.pt, checked: a list of words and one vector for each; None when the folder has none."""
    if not path.is_file():
        return None
    fix = "delete it to rank with the untuned space, or tune again: python -m seq2seq.gloss_tuning FOLDER"
    saved = load_tensors(path, fix)
    if not isinstance(saved, dict):
        raise UserError(f"{path}: not the word list and vectors train.py writes; {fix}")
    words, vectors, members = saved.get("words"), saved.get("vectors"), saved.get("members", 1)  # older: 1
    if not (isinstance(words, list) and all(isinstance(word, str) for word in words)
            and isinstance(vectors, torch.Tensor) and vectors.dim() == 2 and len(vectors) == len(words)
            and isinstance(members, int) and members >= 1 and vectors.shape[1] % members == 0):
        raise UserError(f"{path}: not the word list and vectors train.py writes; {fix}")
    return GlossVectors(words, vectors.float(), str(path), members)


def load_weights(model: Seq2SeqModel, path: Path) -> None:
    """Put a state dict file's weights into `model`: every name and shape must match."""
    state = load_tensors(path, f"use the {path.name} that train.py wrote, or train the model again")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError):  # TypeError: not a dict of weights at all
        raise UserError(f"{path}: these weights do not fit the model {CONFIG} describes (other layers or "
                        f"sizes); use the {path.name} trained with it") from None


def load_tensors(path: Path, fix: str):
    """What a file written by torch.save holds, read with weights_only=True: tensors, numbers, strings and
    containers of them only, so a file from anywhere can never run code while it is read. A damaged file, or
    one that holds anything else, stops with one line naming it and saying what to do (`fix`)."""
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive, whose directory is at its very end
        raise UserError(f"{path}: damaged (cut short?) or not written by torch.save; {fix}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the pickle protocol of files it then refuses
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"{path}: refused: it holds Python objects besides tensors, and "
                        f"loading them could run code; {fix}") from None
    except Exception:  # a damaged archive fails in many ways: RuntimeError, UnicodeDecodeError, KeyError, …
        raise UserError(f"{path}: damaged, or not written by torch.save; {fix}") from None


def load_answers(path: Path) -> dict[str, list[str]]:
    """answers.json (word key → known correct answers); a folder without one knows none."""
    if not path.is_file():
        return {}
    answers = read_json(path, "it is written by train.py: undo any edit to it, or train the model again")
    if not all(isinstance(known, list) and all(isinstance(answer, str) for answer in known)
               for known in answers.values()):
        raise UserError(f"{path}: each word must map to a list of answers, as train.py writes it; undo any "
                        "edit to it, or train the model again")
    return answers
