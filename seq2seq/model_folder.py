"""A trained model is a folder; this module writes and reads it.

    config.json    every setting needed to rebuild the model, tokenizer and decoder
    model.pt       the weights (a state dict; loaded with weights_only=True, so loading runs no code)
    spm.model      the SentencePiece vocabulary
    answers.json   known correct answers per source word, excluded when generating distractors
    test.csv       the held-out test split (English, Japanese, Correct_Japanese): words never trained on
    metrics.csv    one row per validation (written by the trainer)
    last.pt        the resumable state of the latest step: weights, optimizer, progress (seq2seq/checkpoint.py)
    epoch{N}.pt    with train.keep_epochs, the weights after each epoch, to study quality against training time
    train.log      what the run said; tensorboard/ its event files, when tensorboard is installed

Every file is written to a temporary name and then renamed, so a crash mid-write leaves the previous
file intact rather than a half-written one.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from seq2seq.config import Config, config_to_json, load_json
from seq2seq.data import pairs_to_csv
from seq2seq.errors import UserError
from seq2seq.models import build_model
from seq2seq.models.base import Seq2SeqModel
from tokenizer import Tokenizer

CONFIG, WEIGHTS, VOCABULARY, ANSWERS, METRICS = "config.json", "model.pt", "spm.model", "answers.json", "metrics.csv"
TEST_SPLIT, LAST_CHECKPOINT, TRAIN_LOG, TENSORBOARD = "test.csv", "last.pt", "train.log", "tensorboard"
MODEL_FILES = (CONFIG, WEIGHTS, VOCABULARY, ANSWERS, METRICS, TEST_SPLIT, LAST_CHECKPOINT, TRAIN_LOG)
EPOCH_WEIGHTS = "epoch{epoch}.pt"  # the weights after one epoch, kept with train.keep_epochs


@dataclass
class TrainedModel:
    """Everything inference needs, rebuilt from a model folder."""

    model: Seq2SeqModel
    tokenizer: Tokenizer
    config: Config
    answers: dict[str, list[str]]  # word key → known correct answers


def write_atomic(path: Path, data: bytes) -> None:
    """Write to `path.tmp`, flush to disk, then rename over `path` (a rename is atomic on POSIX)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


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


def load_model(folder: str | Path, device: str | torch.device = "cpu", weights: str = WEIGHTS) -> TrainedModel:
    """Rebuild the model exactly as saved, in eval mode, on `device`; `weights` may name another file of
    the folder's weights (epoch3.pt)."""
    folder = Path(folder)
    for name in (CONFIG, weights, VOCABULARY):
        if not (folder / name).is_file():
            raise UserError(f"{folder}: no {name}; pass a folder written by train.py (did training finish an epoch?)")
    config = load_json(folder / CONFIG)
    model = build_model(config.model)
    model.load_state_dict(torch.load(folder / weights, map_location="cpu", weights_only=True))
    answers_file = folder / ANSWERS
    answers = json.loads(answers_file.read_text(encoding="utf-8")) if answers_file.is_file() else {}
    return TrainedModel(model.to(device).eval(), Tokenizer.load(folder / VOCABULARY), config, answers)
