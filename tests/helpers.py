"""Pieces several test files share: tiny id batches, and training a tiny model until it knows 26 pairs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from seq2seq.batching import encode_pairs, make_batches
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.decoding import encode_sources, generate, greedy_pick
from seq2seq.models import build_model
from seq2seq.models.base import Seq2SeqModel
from seq2seq.trainer import FitResult, Trainer
from tests.conftest import PAIRS
from tokenizer import Tokenizer, train_tokenizer

PAD = 0


def batch_of_sources() -> torch.Tensor:
    """Two sources of lengths 5 and 3, padded to 5 with PAD."""
    return torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, PAD, PAD]])


def targets() -> torch.Tensor:
    """Teacher-forcing inputs (a start id, 1, first: these tests feed ids straight to the model, which gives
    no id a special meaning but PAD), the second row padded at the end."""
    return torch.tensor([[1, 13, 14, 15, 16, 17], [1, 18, 19, 20, PAD, PAD]])


def translation_pairs() -> pd.DataFrame:
    """English → correct Japanese, one row per word of the shared corpus."""
    rows = sorted({(english, correct) for english, _, correct in PAIRS})
    return pd.DataFrame({"source": [r[0] for r in rows], "target": [r[1] for r in rows],
                         "correct": [()] * len(rows)})


@dataclass
class Overfit:
    pairs: pd.DataFrame
    tokenizer: Tokenizer
    model: Seq2SeqModel  # in eval mode
    loss_before: float  # on the training pairs, before training
    result: FitResult  # its valid_loss is the loss on the training pairs after training

    def greedy_exact_rate(self) -> float:
        """Share of training sources whose greedy output is exactly their target."""
        memory = encode_sources(self.model, self.tokenizer, list(self.pairs["source"]))
        outputs = generate(self.model, memory, self.tokenizer, 10, greedy_pick())
        decoded = [self.tokenizer.decode(ids) if ids is not None else None for ids in outputs]
        return float(np.mean([out == target for out, target in zip(decoded, self.pairs["target"])]))


def overfit(model_settings: dict, epochs: int, lr: float, dtype: torch.dtype = torch.float32) -> Overfit:
    """Train a fresh tiny model on the translation pairs, validating on those same pairs."""
    pairs = translation_pairs()
    tokenizer = train_tokenizer(list(pairs["source"]) + list(pairs["target"]), 400)
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=tokenizer.vocab_size, dropout=0.0, **model_settings))
    examples, _ = encode_pairs(pairs, tokenizer, max_len=32)
    config = TrainConfig(epochs=epochs, batch_size=10, lr=lr, warmup_steps=10, label_smoothing=0.0,
                         weight_decay=0.0, metric="valid_loss")  # result.valid_loss: the lowest loss reached
    trainer = Trainer(model, config, tokenizer.pad_id, torch.device("cpu"), dtype, folder=None,
                      progress=False)
    everything = make_batches(examples, tokenizer, len(examples))
    before = trainer.validate(everything)["valid_loss"]
    result = trainer.fit(lambda epoch: make_batches(examples, tokenizer, 10, np.random.default_rng(epoch)),
                         everything)
    return Overfit(pairs, tokenizer, model.eval(), before, result)
