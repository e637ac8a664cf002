"""last.pt: everything a stopped run needs to continue exactly where it was.

    model, optimizer (Adam's moment estimates), learning-rate schedule, fp16 gradient scaler,
    progress (epoch, step, position in the epoch, the epoch's running loss, the best score so far),
    every process's random-number generators (dropout), and what the run was trained on

The batches of an epoch are rebuilt from (seed, epoch), so the position in the epoch is just a count of
the steps already taken. With all of that restored, an interrupted run and an uninterrupted one end with
identical weights (tested on the CPU).

The file is written to a temporary name and renamed over the old one: a crash during a save leaves the
previous checkpoint whole. It is loaded with weights_only=True, so loading runs no code; a damaged file,
or one holding anything but tensors and plain data, stops with one line.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from seq2seq.errors import UserError
from seq2seq.model_folder import load_tensors, write_atomic


def capture_rng(device: torch.device) -> dict:
    """The random-number generators' states of this process (CPU, and the GPU if training on one)."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def restore_rng(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomic(path, buffer.getvalue())


CHECKPOINT_PARTS = {"model", "optimizer", "progress"}  # what every last.pt has held


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint to resume from; it is written after each epoch, every "
                        "--checkpoint-every steps and on Ctrl-C")
    checkpoint = load_tensors(path, "start again without --resume")
    if not isinstance(checkpoint, dict) or not CHECKPOINT_PARTS <= checkpoint.keys():
        raise UserError(f"{path}: not a checkpoint written by train.py (it lacks the weights, optimizer or "
                        "progress); start again without --resume")
    return checkpoint
