"""The training loop, written as the recipe a teacher puts on the board.

    for each epoch:
        for each step: forward → loss → backward (for each of `accum` batches) → clip → optimizer step
        validate → keep the weights if the metric improved → metrics.csv → last.pt (the resumable state)
        stop early after `patience` validations without improvement

Mixed precision: the forward pass runs under autocast (bf16 on CPU and on GPUs that have it, else fp16
with a gradient scaler, which stops small fp16 gradients from rounding to zero). The loss and its softmax
are always computed in fp32.

Gradient accumulation and several processes (seq2seq/distributed.py) change how many batches make one
step, never what the step computes: the loss is summed over every target token of the step and divided
by their number, so 2 batches of B pairs give the same update as one batch of 2B.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from seq2seq.batching import Batch
from seq2seq.checkpoint import capture_rng, restore_rng, save_checkpoint
from seq2seq.config import ConfigError, TrainConfig
from seq2seq.distributed import Distributed
from seq2seq.errors import UserError
from seq2seq.model_folder import EPOCH_WEIGHTS, LAST_CHECKPOINT, METRICS, save_weights, write_atomic
from seq2seq.models.base import Seq2SeqModel
from seq2seq.run_log import METRIC_GOALS, RunLog
from seq2seq.schedule import LearningRate


def choose_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    if setting not in ("cpu", "cuda"):
        raise UserError(f"device '{setting}' is not known; use auto, cpu or cuda")
    return torch.device(setting)


def choose_precision(setting: str, device: torch.device) -> torch.dtype:
    """The autocast dtype for the forward pass; torch.float32 means no autocast.

    `auto` is bf16 on a GPU that has it (else fp16 with a gradient scaler) and fp32 on a CPU. Why not bf16
    on a CPU, even one that computes it natively (AMX, AVX512-BF16): there oneDNN builds a kernel for
    every new matrix shape, and these batches take a new shape almost every step (their lengths vary,
    and only real tokens reach the output layer). Measured on a 2-core Xeon with AMX, the default GRU
    trained at 2,436 target tokens/s in bf16 against 4,422 in fp32, and grew to 2.1 GB resident where fp32
    stays at 0.6 GB (docs/BENCHMARKS.md). `--precision bf16` still trains in bf16 autocast on a CPU.
    """
    choices = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if setting == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if setting not in choices:
        raise UserError(f"precision '{setting}' is not known; use auto, fp32, bf16 or fp16")
    if setting == "fp16" and device.type != "cuda":
        raise UserError("precision fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
    return choices[setting]


def autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def check_train_config(config: TrainConfig) -> None:
    """Refuse settings the loop cannot honour, naming the setting."""
    at_least = {"epochs": 1, "batch_size": 1, "accum": 1, "max_tokens": 0, "patience": 0, "warmup_steps": 0,
                "checkpoint_every": 0, "plateau_patience": 1, "gloss_epochs": 0}
    for name, lowest in at_least.items():
        if getattr(config, name) < lowest:
            raise ConfigError(f"train setting '{name}' must be at least {lowest}, "
                              f"got {getattr(config, name)}")
    if not 0 <= config.lr < math.inf:  # written so, NaN is refused too; 0 keeps the weights as they are
        raise ConfigError(f"train setting 'lr' must be at least 0 and finite, got {config.lr}")
    if config.time_budget_minutes < 0:
        raise ConfigError("train setting 'time_budget_minutes' must be at least 0, "
                          f"got {config.time_budget_minutes}")
    if not 0 <= config.empty_source_share < 1:
        raise ConfigError("train setting 'empty_source_share' must lie in [0, 1), "
                          f"got {config.empty_source_share}")
    if config.metric not in METRIC_GOALS:
        raise ConfigError(f"train setting 'metric' is '{config.metric}'; "
                          f"use one of: {', '.join(METRIC_GOALS)}")


def make_optimizer(model: Seq2SeqModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW that decays only weight matrices: shrinking biases, norms or embeddings toward 0 only hurts."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    decay, no_decay = [], []
    for param in model.parameters():  # a tied weight is yielded once
        is_matrix = param.dim() >= 2 and id(param) not in embeddings
        (decay if is_matrix else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-9)


def token_loss(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0,
               reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the real target tokens (mean or sum), in fp32: logits (tokens, vocab),
    targets (tokens,).

    Padding never gets here: the model is asked for the logits at real target positions only
    (`Seq2SeqModel.forward`'s `positions`).
    """
    return F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing, reduction=reduction)


def step_groups(batches: list[Batch], accum: int) -> list[list[Batch]]:
    """The batches of each optimizer step: `accum` at a time (the last step may have fewer)."""
    return [batches[first : first + accum] for first in range(0, len(batches), accum)]


def improves(metric: str, value: float, best: float | None) -> bool:
    """Whether `value` beats the best so far; without a validation split (nan) the latest weights count."""
    if best is None or math.isnan(value):
        return True
    return value < best if METRIC_GOALS[metric] == "min" else value > best


@dataclass
class Progress:
    """Where a run stands. Saved in every checkpoint; every process holds the same values."""

    epoch: int = 1  # the epoch in progress, counting from 1
    steps_in_epoch: int = 0  # optimizer steps of this epoch already taken
    step: int = 0  # optimizer steps taken in all
    epoch_loss_sum: float = 0.0  # training loss summed over this epoch's target tokens so far
    epoch_tokens: float = 0.0  # target tokens trained on this epoch so far (all processes)
    epoch_seconds: float = 0.0  # time spent in training steps this epoch
    elapsed_s: float = 0.0  # time of the whole run, validations included
    best_metric: float | None = None  # best value of the chosen validation metric
    best_epoch: int = 0
    best_valid_loss: float = math.inf  # validation loss of the best epoch
    validations_without_improvement: int = 0
    last_train_loss: float = math.nan  # of the last finished epoch
    last_tokens_per_s: float = 0.0
    # wall time of the longest validation so far: the budget keeps room for one
    longest_validation_s: float = 0.0

    def add_step(self, loss_sum: float, tokens: float, seconds: float) -> None:
        self.steps_in_epoch += 1
        self.epoch_loss_sum += loss_sum
        self.epoch_tokens += tokens
        self.epoch_seconds += seconds

    def epoch_train_loss(self) -> float:
        return self.epoch_loss_sum / self.epoch_tokens if self.epoch_tokens else math.nan

    def epoch_tokens_per_s(self) -> float:
        return self.epoch_tokens / self.epoch_seconds if self.epoch_seconds else 0.0

    def next_epoch(self) -> None:
        self.last_train_loss, self.last_tokens_per_s = self.epoch_train_loss(), self.epoch_tokens_per_s()
        self.epoch += 1
        self.steps_in_epoch, self.epoch_loss_sum, self.epoch_tokens, self.epoch_seconds = 0, 0.0, 0.0, 0.0


@dataclass
class FitResult:
    status: str  # "finished", "stopped early" (patience ran out), "time budget" (stopped when the budget was
    # spent, after validating; resumable with a larger budget) or "interrupted" (Ctrl-C; resumable)
    metric: str  # the validation metric that chose the best epoch
    best_metric: float  # its best value
    valid_loss: float  # validation loss of the best epoch
    best_epoch: int
    epochs: int  # epochs finished
    step: int
    elapsed_s: float
    tokens_per_s: float  # of the last finished epoch
    last_train_loss: float


class StopSignal:
    """Ctrl-C (SIGINT) or SIGTERM while training asks for a stop after the current step, so the checkpoint
    then saved holds whole steps; a second Ctrl-C stops at once, without saving.

    A signal the process was started deaf to (SIG_IGN: `nohup`, a shell's `&`) stays ignored, as whoever
    started it asked. On leaving, each signal gets back exactly the handler it had."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> "StopSignal":
        self.requested = False
        self.previous = {}
        if threading.current_thread() is threading.main_thread():  # only there can handlers be set
            for sig in self.SIGNALS:
                # None: set outside Python, not restorable
                if signal.getsignal(sig) not in (signal.SIG_IGN, None):
                    self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def agreed(self, dist: Distributed) -> bool:
        """Whether any process was asked to stop: all of them must stop after the same step."""
        (asked,) = dist.sum(float(self.requested))
        return asked > 0


@dataclass
class Trainer:
    """Holds what one training run needs; `fit` runs it, `resume_from` continues a saved one."""

    model: Seq2SeqModel
    config: TrainConfig
    pad_id: int
    device: torch.device
    dtype: torch.dtype
    folder: Path | None = None  # where model.pt, last.pt and the logs go; None keeps everything in memory
    progress: bool = True  # tqdm bars
    log: RunLog = field(default_factory=lambda: RunLog(echo=False))
    dist: Distributed = field(default_factory=Distributed)
    # stored in last.pt as given (the pipeline puts the data there)
    run_info: dict = field(default_factory=dict)

    def __post_init__(self):
        check_train_config(self.config)
        self.model.to(self.device)
        self.network = self.dist.wrap(self.model)  # what training calls: the model, or DDP around it
        self.optimizer = make_optimizer(self.model, self.config)
        self.schedule = LearningRate(self.optimizer, self.config)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.state = Progress()
        self.writes_files = self.folder is not None and self.dist.is_main

    def batch_loss(self, batch: Batch) -> torch.Tensor:
        """Training loss summed over the batch's target tokens."""
        logits, targets = self.real_token_logits(self.network, batch)
        return token_loss(logits, targets, self.config.label_smoothing, reduction="sum")

    def real_token_logits(self, network: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (real tokens, vocab), targets (real tokens,)): the batch's target tokens, padding
        left out."""
        real = batch.tgt_out != self.pad_id  # (batch, tgt_len)
        with autocast(self.device, self.dtype):
            logits = network(batch.src, batch.tgt_in, batch.src_index, real)  # (real tokens, vocab)
        return logits, batch.tgt_out[real]

    def train_step(self, batches: list[Batch]) -> tuple[float, float]:
        """One optimizer step on this process's `batches`; returns the step's loss sum and target tokens,
        both over all processes."""
        self.network.train()
        (tokens,) = self.dist.sum(sum(batch.n_target_tokens for batch in batches))
        self.schedule.before_step(self.state.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for i, batch in enumerate(batches):
            with self.dist.no_sync(self.network, sync=i == len(batches) - 1):  # DDP syncs after the last
                batch_loss = self.batch_loss(batch.to(self.device))  # forward: summed over its tokens
                step_loss = batch_loss / max(1.0, tokens)  # the step's loss is a mean over all its tokens
                # DDP averages the gradients of its processes; multiplying by their number undoes that
                # average, so the step's gradient is the mean over every process's tokens together.
                step_loss = step_loss * self.dist.world_size
                self.scaler.scale(step_loss).backward()  # backward (fp16: scaled up so it cannot underflow)
            loss_sum += batch_loss.item()
        self.scaler.unscale_(self.optimizer)  # back to the true gradients (a no-op without fp16)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)  # clip
        self.scaler.step(self.optimizer)  # step (skipped if fp16 overflowed)
        self.scaler.update()
        self.state.step += 1
        (loss_sum,) = self.dist.sum(loss_sum)
        return loss_sum, tokens

    @torch.no_grad()
    def validate(self, batches: list[Batch]) -> dict[str, float]:
        """Loss per target token (no label smoothing, so exp() is the perplexity) and accuracy: the share
        of target tokens the model ranks first. Each process scores its shard; the sums are combined."""
        self.model.eval()  # the model itself, not DDP's wrapper: shards differ in size, and no gradient syncs
        loss_sum, tokens, correct = 0.0, 0, 0
        for batch in self.dist.shard(batches, equal=False):
            batch = batch.to(self.device)
            logits, targets = self.real_token_logits(self.model, batch)
            loss_sum += token_loss(logits, targets, reduction="sum").item()
            correct += int((logits.argmax(-1) == targets).sum())
            tokens += len(targets)
        loss_sum, tokens, correct = self.dist.sum(loss_sum, tokens, correct)
        loss = loss_sum / tokens if tokens else math.nan
        return {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50)),
                "valid_acc": correct / tokens if tokens else math.nan}

    def fit(self, train_batches: Callable[[int], list[Batch]], valid_batches: list[Batch]) -> FitResult:
        """Train until config.epochs are done or patience runs out; `train_batches(epoch)` gives that
        epoch's shuffled batches (the same on every process, and again on resume)."""
        self.started = time.perf_counter() - self.state.elapsed_s
        with StopSignal() as stop, tqdm(total=self.config.epochs, initial=self.state.epoch - 1, desc="epochs",
                                        disable=not (self.progress and self.dist.is_main),
                                        dynamic_ncols=True) as bar:
            while self.has_epochs_left():
                steps = step_groups(self.dist.shard(train_batches(self.state.epoch)), self.config.accum)
                self.schedule.total_steps = len(steps) * self.config.epochs
                outcome = self.train_epoch(steps, stop)
                if outcome != "finished":
                    return self.stop_within_epoch(outcome, len(steps), valid_batches)
                self.end_epoch(valid_batches)
                bar.update()
        return self.result("stopped early" if self.patience_ran_out() else "finished")

    def stop_within_epoch(self, outcome: str, epoch_steps: int, valid_batches: list[Batch]) -> FitResult:
        """End the run part-way through an epoch and save where it stands, so `--resume` continues exactly.

        A run stopped by its time budget validates first, so its last steps can still give the best weights.
        """
        state = self.state
        where = f"step {state.step} (epoch {state.epoch}, step {state.steps_in_epoch} of {epoch_steps})"
        if outcome == "time budget":
            self.log(f"time budget: {self.config.time_budget_minutes:g} minutes spent at {where}; validating "
                     "(--time-budget-minutes 0 for no limit)")
            self.record_validation(valid_batches, whole_epoch=False)
        self.save_checkpoint()
        self.log(f"stopped at {where}; the state is saved in {LAST_CHECKPOINT}")
        return self.result(outcome)

    def out_of_time(self) -> bool:
        """Whether the time budget is spent, less the time a validation takes (the run validates before it
        stops, and that should end within the budget too). Every process must agree."""
        budget_s = self.config.time_budget_minutes * 60
        if budget_s <= 0:  # no budget: every process knows it, so no need to ask the others after each step
            return False
        over = time.perf_counter() - self.started + self.state.longest_validation_s >= budget_s
        (processes_over,) = self.dist.sum(float(over))
        return processes_over > 0

    def has_epochs_left(self) -> bool:
        return self.state.epoch <= self.config.epochs and not self.patience_ran_out()

    def patience_ran_out(self) -> bool:
        patience = self.config.patience
        return patience > 0 and self.state.validations_without_improvement >= patience

    def train_epoch(self, steps: list[list[Batch]], stop: StopSignal) -> str:
        """The epoch's steps from where the epoch stands: "finished", or why it stopped before its end
        ("interrupted" when a stop was asked for, "time budget" when the budget is spent)."""
        state = self.state
        bar = tqdm(total=len(steps), initial=state.steps_in_epoch, desc=f"epoch {state.epoch}", leave=False,
                   disable=not (self.progress and self.dist.is_main), dynamic_ncols=True)
        with bar:
            for batches in steps[state.steps_in_epoch :]:
                started = time.perf_counter()
                loss_sum, tokens = self.train_step(batches)
                state.add_step(loss_sum, tokens, time.perf_counter() - started)
                lr = self.optimizer.param_groups[0]["lr"]
                bar.update()
                bar.set_postfix(loss=f"{loss_sum / max(1.0, tokens):.3f}", lr=f"{lr:.2e}",
                                tok_s=f"{state.epoch_tokens_per_s():.0f}")
                self.log.step(state.step, loss_sum / max(1.0, tokens), lr)
                if self.config.checkpoint_every and state.step % self.config.checkpoint_every == 0:
                    self.save_checkpoint()
                if stop.agreed(self.dist):
                    return "interrupted"
                if self.out_of_time():
                    return "time budget"
        return "finished"

    def end_epoch(self, valid_batches: list[Batch]) -> None:
        """Validate, keep the best weights, record the epoch, and save the state for resuming."""
        state = self.state
        self.record_validation(valid_batches, whole_epoch=True)
        if self.config.keep_epochs and self.writes_files:
            save_weights(self.folder, self.model, EPOCH_WEIGHTS.format(epoch=state.epoch))
        state.next_epoch()
        self.save_checkpoint()
        if self.patience_ran_out():
            self.log(f"early stop: {self.config.metric} has not improved for {self.config.patience} "
                     f"validations; best epoch {state.best_epoch}")

    def record_validation(self, valid_batches: list[Batch], whole_epoch: bool) -> None:
        """Validate; keep the weights if they are the best so far; log the scores (a metrics row per epoch).

        Part-way through an epoch (the time budget's last validation), the row is the epoch's so far: a
        resumed run drops it and writes the whole epoch's.
        """
        state, metric = self.state, self.config.metric
        started = time.perf_counter()
        scores = self.validate(valid_batches)
        state.longest_validation_s = max(state.longest_validation_s, time.perf_counter() - started)
        improved = improves(metric, scores[metric], state.best_metric)
        if improved:
            state.best_metric, state.best_epoch, state.best_valid_loss = (
                scores[metric], state.epoch, scores["valid_loss"])
            state.validations_without_improvement = 0
            if self.writes_files:
                save_weights(self.folder, self.model)
        elif whole_epoch:
            state.validations_without_improvement += 1
        if whole_epoch:
            self.schedule.after_validation(improved)
        row = self.metrics_row(scores)
        if self.dist.is_main:
            self.log.validation(row)
        self.log(self.epoch_line(row, improved, whole_epoch))

    def metrics_row(self, scores: dict[str, float]) -> dict:
        state = self.state
        return dict(epoch=state.epoch, step=state.step, train_loss=round(state.epoch_train_loss(), 4),
                    valid_loss=round(scores["valid_loss"], 4), valid_ppl=round(scores["valid_ppl"], 3),
                    valid_acc=round(scores["valid_acc"], 4), lr=f"{self.optimizer.param_groups[0]['lr']:.3e}",
                    tokens_per_s=round(state.epoch_tokens_per_s()),
                    elapsed_s=round(time.perf_counter() - self.started, 1))

    @staticmethod
    def epoch_line(row: dict, improved: bool, whole_epoch: bool = True) -> str:
        return (f"epoch {row['epoch']}{'' if whole_epoch else ' so far'}: "
                f"train loss {row['train_loss']:.3f}, valid loss {row['valid_loss']:.3f} "
                f"(ppl {row['valid_ppl']:.1f}, acc {row['valid_acc']:.3f}){' (best)' if improved else ''}, "
                f"{row['tokens_per_s']} tok/s, {row['elapsed_s']} s")

    def save_checkpoint(self) -> None:
        """Write last.pt (rank 0), with every process's random-number state."""
        self.state.elapsed_s = time.perf_counter() - self.started
        rng_states = self.dist.gather(capture_rng(self.device))  # every process takes part
        if not self.writes_files:
            return
        save_checkpoint(self.folder / LAST_CHECKPOINT, {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
            "progress": asdict(self.state), "rng": rng_states, "world_size": self.dist.world_size,
            "run": self.run_info,
        })

    def resume_from(self, checkpoint: dict) -> None:
        """Continue a saved run: weights, optimizer, schedule, scaler, progress and random states."""
        if checkpoint["world_size"] != self.dist.world_size:
            raise UserError(f"the checkpoint was saved by {checkpoint['world_size']} process(es); "
                            f"resume with the same number (this run has {self.dist.world_size})")
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.schedule.load_state_dict(checkpoint["schedule"])
        if self.scaler.is_enabled() and checkpoint["scaler"]:
            self.scaler.load_state_dict(checkpoint["scaler"])
        # a checkpoint from before a field was renamed keeps the rest
        known = {f.name for f in fields(Progress)}
        self.state = Progress(**{key: value for key, value in checkpoint["progress"].items() if key in known})
        restore_rng(checkpoint["rng"][self.dist.rank], self.device)
        if self.writes_files:
            forget_metrics_after(self.folder / METRICS, self.state.epoch)

    def result(self, status: str) -> FitResult:
        state = self.state
        return FitResult(status, self.config.metric, state.best_metric, state.best_valid_loss,
                         state.best_epoch, state.epoch - 1, state.step, time.perf_counter() - self.started,
                         state.last_tokens_per_s, state.last_train_loss)


def forget_metrics_after(path: Path, epoch: int) -> None:
    """Drop metrics rows of epochs from `epoch` on: written by a run that stopped before its checkpoint
    was saved, they are about to be written again."""
    if not path.is_file():
        return
    metrics = pd.read_csv(path)
    if (metrics["epoch"] >= epoch).any():
        write_atomic(path, metrics[metrics["epoch"] < epoch].to_csv(index=False).encode("utf-8"))

