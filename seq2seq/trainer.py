"""The training loop, written as the recipe a teacher puts on the board.

    for each epoch:
        for each batch:  forward → loss → backward → clip → step → schedule → log
        validate → keep the weights if they are the best so far → one row in metrics.csv

Mixed precision: the forward pass runs under autocast (bf16 on CPU and on GPUs that have it, else fp16
with a gradient scaler, which stops small fp16 gradients from rounding to zero). The loss and its softmax
are always computed in fp32.
"""
from __future__ import annotations

import contextlib
import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from seq2seq.batching import Batch
from seq2seq.config import TrainConfig
from seq2seq.errors import UserError
from seq2seq.model_folder import METRICS, save_weights
from seq2seq.models.base import Seq2SeqModel

METRIC_COLUMNS = ["epoch", "step", "train_loss", "valid_loss", "valid_ppl", "lr", "tokens_per_s", "elapsed_s"]


def choose_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    if setting not in ("cpu", "cuda"):
        raise UserError(f"device '{setting}' is not known; use auto, cpu or cuda")
    return torch.device(setting)


def choose_precision(setting: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for the forward pass; torch.float32 means no autocast."""
    choices = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if setting == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if torch.backends.mkldnn.is_available() and _cpu_has_bf16() else torch.float32
    if setting not in choices:
        raise UserError(f"precision '{setting}' is not known; use auto, fp32, bf16 or fp16")
    if setting == "fp16" and device.type != "cuda":
        raise UserError("precision fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
    return choices[setting]


def _cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); without it bf16 is slower than fp32."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_optimizer(model: Seq2SeqModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW that decays only weight matrices: shrinking biases, norms or embeddings toward 0 only hurts."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    decay, no_decay = [], []
    for param in model.parameters():  # a tied weight is yielded once
        is_matrix = param.dim() >= 2 and id(param) not in embeddings
        (decay if is_matrix else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-9)


def warmup_then_inverse_sqrt(warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: rises linearly to 1 over `warmup_steps`, then falls as 1/sqrt(step).

    Why warm up: at the start Adam's variance estimates are poor and large steps can wreck the weights.
    """
    warmup_steps = max(1, warmup_steps)

    def factor(steps_done: int) -> float:
        step = steps_done + 1  # the step about to be taken, counting from 1
        return min(step / warmup_steps, math.sqrt(warmup_steps / step))

    return factor


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy per real target token, in fp32. logits (batch, len, vocab), targets (batch, len)."""
    return F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=pad_id, label_smoothing=label_smoothing
    )


@dataclass
class Trainer:
    """Holds what one training run needs; `fit` runs it."""

    model: Seq2SeqModel
    config: TrainConfig
    pad_id: int
    device: torch.device
    dtype: torch.dtype
    folder: Path | None = None  # where model.pt and metrics.csv go; None keeps everything in memory
    progress: bool = True  # tqdm bars

    def __post_init__(self):
        self.model.to(self.device)
        self.optimizer = make_optimizer(self.model, self.config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_then_inverse_sqrt(self.config.warmup_steps))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.step = 0

    def train_step(self, batch: Batch) -> float:
        """One optimisation step on one batch; returns its loss."""
        self.model.train()
        with autocast(self.device, self.dtype):
            logits = self.model(batch.src, batch.tgt_in)  # (batch, tgt_len, vocab)
        loss = sequence_loss(logits, batch.tgt_out, self.pad_id, self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return loss.item()

    @torch.no_grad()
    def validation_loss(self, batches: list[Batch]) -> float:
        """Mean negative log-likelihood per target token (no label smoothing, so exp() is the perplexity)."""
        self.model.eval()
        total, tokens = 0.0, 0
        for batch in batches:
            batch = batch.to(self.device)
            with autocast(self.device, self.dtype):
                logits = self.model(batch.src, batch.tgt_in)
            n = batch.n_target_tokens
            total += sequence_loss(logits, batch.tgt_out, self.pad_id).item() * n
            tokens += n
        return total / max(1, tokens)

    def train_epoch(self, batches: list[Batch], epoch: int) -> tuple[float, float]:
        """One pass over `batches`; returns (mean training loss, target tokens per second)."""
        bar = tqdm(batches, desc=f"epoch {epoch}", disable=not self.progress, leave=False, dynamic_ncols=True)
        start, tokens, loss_sum = time.perf_counter(), 0, 0.0
        for batch in bar:
            batch = batch.to(self.device)
            loss = self.train_step(batch)
            loss_sum += loss
            tokens += batch.n_target_tokens
            speed = tokens / max(1e-9, time.perf_counter() - start)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}", tok_s=f"{speed:.0f}")
        return loss_sum / max(1, len(batches)), tokens / max(1e-9, time.perf_counter() - start)

    def fit(self, train_batches: Callable[[int], list[Batch]], valid_batches: list[Batch]) -> "FitResult":
        """Train for config.epochs; `train_batches(epoch)` gives that epoch's (shuffled) batches."""
        start, best = time.perf_counter(), FitResult()
        for epoch in range(1, self.config.epochs + 1):
            train_loss, speed = self.train_epoch(train_batches(epoch), epoch)
            valid_loss = self.validation_loss(valid_batches) if valid_batches else float("nan")
            row = self._metrics_row(epoch, train_loss, valid_loss, speed, time.perf_counter() - start)
            best = best.after_epoch(row, is_best=not valid_loss > best.valid_loss)
            if self.folder is not None:
                if best.best_epoch == epoch:
                    save_weights(self.folder, self.model)
                append_metrics(self.folder / METRICS, row)
            self._report(row, best)
        return best

    def _metrics_row(self, epoch, train_loss, valid_loss, speed, elapsed) -> dict:
        row = dict(epoch=epoch, step=self.step, train_loss=round(train_loss, 4), valid_loss=round(valid_loss, 4),
                   valid_ppl=round(math.exp(min(valid_loss, 50)), 3), lr=f"{self.scheduler.get_last_lr()[0]:.3e}",
                   tokens_per_s=round(speed), elapsed_s=round(elapsed, 1))
        return row

    def _report(self, row: dict, best: "FitResult") -> None:
        if self.progress:
            mark = " (best)" if best.best_epoch == row["epoch"] else ""
            tqdm.write(f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}, valid loss {row['valid_loss']:.3f}"
                       f" (ppl {row['valid_ppl']:.1f}){mark}, {row['tokens_per_s']} tok/s, {row['elapsed_s']} s")


@dataclass
class FitResult:
    valid_loss: float = math.inf  # best validation loss so far
    best_epoch: int = 0
    epochs: int = 0  # epochs run
    elapsed_s: float = 0.0
    tokens_per_s: float = 0.0  # of the last epoch
    last_train_loss: float = math.inf

    def after_epoch(self, row: dict, is_best: bool) -> "FitResult":
        return FitResult(
            valid_loss=row["valid_loss"] if is_best else self.valid_loss,
            best_epoch=row["epoch"] if is_best else self.best_epoch,
            epochs=row["epoch"], elapsed_s=row["elapsed_s"], tokens_per_s=row["tokens_per_s"],
            last_train_loss=row["train_loss"],
        )


def append_metrics(path: Path, row: dict) -> None:
    """Add one row to metrics.csv, writing the header first if the file is new."""
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
