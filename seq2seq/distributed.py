"""Training on several processes with DistributedDataParallel, and the same code on one.

    torchrun --nproc_per_node=2 train.py ...

torchrun starts N copies of train.py and tells each its RANK and the WORLD_SIZE in environment
variables. Every copy builds the same batches (same seed), trains on its own shard of them (every N-th
batch), and DDP averages the gradients across copies inside `backward()`, so all copies take the same
step and keep identical weights. Only rank 0 writes files and draws progress bars.

Run as plain `python train.py`, `Distributed.from_environment()` gives a world of one, where every
method here does nothing, so the trainer has one code path.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int = 0  # this process's number, 0 … world_size - 1
    world_size: int = 1  # processes training together
    local_rank: int = 0  # number on this machine: which GPU to use

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and prints."""
        return self.rank == 0

    @staticmethod
    def from_environment(device_type: str) -> "Distributed":
        """Join the process group torchrun describes (NCCL between GPUs, gloo on CPUs), if there is one."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return Distributed()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device_type == "cuda":
            # NCCL talks through the current GPU: make it this process's own
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        return Distributed(dist.get_rank(), world_size, local_rank)

    def device(self, device: torch.device) -> torch.device:
        """Each process on a machine takes its own GPU."""
        return (torch.device("cuda", self.local_rank) if device.type == "cuda" and self.world_size > 1
                else device)

    def shard(self, batches: list, equal: bool = True) -> list:
        """This rank's batches: every world_size-th one. With `equal`, the few left over are dropped so
        every rank takes the same number of steps (a rank with one step more would wait forever)."""
        if self.world_size == 1:
            return batches
        if equal:
            batches = batches[: len(batches) // self.world_size * self.world_size]
        return batches[self.rank :: self.world_size]

    def sum(self, *values: float) -> list[float]:
        """Each value summed over all ranks (in float64, so token counts stay exact)."""
        if self.world_size == 1:
            return list(values)
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        total = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(total)
        return total.tolist()

    def gather(self, value) -> list:
        """Every rank's `value` (any picklable object), in rank order, on every rank."""
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to train through: DDP around `model` when there are several ranks."""
        if self.world_size == 1:
            return model
        device_ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def no_sync(self, network: torch.nn.Module, sync: bool):
        """Skip DDP's gradient averaging in `backward()` unless `sync`: during gradient accumulation only
        the last batch of a step needs it, because the gradients add up locally until then."""
        if sync or self.world_size == 1:
            return contextlib.nullcontext()
        return network.no_sync()

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
