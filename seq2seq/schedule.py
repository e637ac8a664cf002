"""The learning rate over a run: peak × shape(step) × plateau scale.

    inverse_sqrt   rise linearly over the warm-up, then fall as 1/sqrt(step)     (the Transformer paper's)
    cosine         rise over the warm-up, then follow half a cosine down to 0 at the last planned step
    plateau        rise over the warm-up, then stay; multiply by `plateau_factor` whenever the validation
                   metric has not improved for `plateau_patience` validations in a row
    constant       rise over the warm-up, then stay

Why warm up at all: at the start Adam's estimates of each gradient's variance rest on a few samples, so
its steps can be huge; a small learning rate for the first few hundred steps keeps them from wrecking
the freshly initialised weights.

The shape is a pure function of the step, so the only state to save for resuming is the plateau scale.
"""
from __future__ import annotations

import math

import torch

from seq2seq.config import ConfigError, TrainConfig

SCHEDULES = ("inverse_sqrt", "cosine", "plateau", "constant")


def shape_factor(schedule: str, steps_done: int, warmup_steps: int, total_steps: int) -> float:
    """The factor of the peak learning rate for the step after `steps_done` steps."""
    step = steps_done + 1  # the step about to be taken, counting from 1
    warmup_steps = max(1, warmup_steps)
    if step <= warmup_steps:
        return step / warmup_steps
    if schedule == "inverse_sqrt":
        return math.sqrt(warmup_steps / step)
    if schedule == "cosine":  # from 1 at the end of warm-up to 0 at the last planned step
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0  # "plateau" and "constant"


class LearningRate:
    """Sets the optimizer's learning rate before every step; told of each validation, for "plateau"."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig):
        if config.schedule not in SCHEDULES:
            raise ConfigError(f"schedule '{config.schedule}' is not known; use {', '.join(SCHEDULES)}")
        self.optimizer = optimizer
        self.config = config
        self.total_steps = 0  # steps the run plans to take; the trainer sets it once it knows ("cosine")
        self.plateau_scale = 1.0  # product of the reductions so far ("plateau")
        self.validations_without_improvement = 0

    def before_step(self, steps_done: int) -> float:
        """Set and return the learning rate of the step after `steps_done` steps."""
        config = self.config
        lr = config.lr * shape_factor(config.schedule, steps_done, config.warmup_steps, self.total_steps)
        lr *= self.plateau_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def after_validation(self, improved: bool) -> None:
        if self.config.schedule != "plateau":
            return
        self.validations_without_improvement = 0 if improved else self.validations_without_improvement + 1
        if self.validations_without_improvement >= self.config.plateau_patience:
            self.plateau_scale *= self.config.plateau_factor
            self.validations_without_improvement = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale,
                "validations_without_improvement": self.validations_without_improvement}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale = state["plateau_scale"]
        self.validations_without_improvement = state["validations_without_improvement"]
