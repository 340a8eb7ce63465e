"""Data parallelism under ``torchrun``: the rank's place and what it shares.

``torchrun --nproc-per-node N -m optimlab.experiments run GRID`` starts N copies of
the command and tells each its place through the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and the rendezvous address).
:func:`join` reads it and starts the process group -- NCCL for CUDA tensors, gloo
for CPU tensors -- and returns the :class:`World`; without torchrun it returns
:data:`SINGLE`, and nothing else changes: a single-process run is the run it
always was.

What a run does with N ranks (:func:`optimlab.experiments.runner.run`):

* every rank draws the same epoch order from the same seed and takes the
  :meth:`World.share` of each *global* batch (``config.batch_size`` images), so
  the images of update t do not depend on N;
* :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients
  (:meth:`World.wrap`), so every rank takes the step of the global batch's mean
  loss; BatchNorm becomes SyncBatchNorm on CUDA, which normalises over the global
  batch.  SyncBatchNorm does not run on a CPU: there each rank normalises over
  its own share, and the run's record says so (:func:`batchnorm`);
* each rank evaluates a contiguous :meth:`World.part` of a split and the sums are
  added up (:meth:`World.sum`);
* only rank 0 (:attr:`World.is_main`) computes the fingerprint, logs, writes
  checkpoints and stores the result.

There is no launcher and no hand-written reduction here: torchrun starts the
processes, DDP averages the gradients, and the few other collectives are
``torch.distributed``'s own.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "SINGLE", "join", "leave", "batchnorm", "SharingError"]

#: How long a rank waits for the others (an ImageNet folder scan, a fingerprint).
TIMEOUT = datetime.timedelta(minutes=30)


class SharingError(RuntimeError):
    """A run the ranks cannot share: its global batch does not split into equal
    shares, or they disagree about something they must hold in common."""


@dataclass(frozen=True)
class World:
    """This process's place among the ``size`` ranks of a run (one per device)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs, checkpoints and writes the result."""
        return self.rank == 0

    def device(self, config) -> torch.device:
        """The device of this rank: ``config.device``, or this node's GPU
        ``cuda:<local rank>`` for a CUDA config under torchrun."""
        device = torch.device(config.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{config.label}: the config asks for device "
                               f"{config.device!r} but CUDA is not available here")
        if self.size > 1 and device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise SharingError(
                    f"local rank {self.local_rank} needs GPU {self.local_rank}, but "
                    f"this node has {torch.cuda.device_count()}: start at most that "
                    f"many processes per node (--nproc-per-node)")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def check_batch(self, config) -> None:
        """:class:`SharingError` unless the global batch splits into equal shares."""
        if config.batch_size % self.size:
            raise SharingError(
                f"{config.label}: batch_size={config.batch_size} cannot be split "
                f"into equal shares over {self.size} ranks (WORLD_SIZE="
                f"{self.size}); use a number of processes that divides it")

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch (all of it for one
        rank)."""
        if self.size == 1:
            return batch
        each = batch.shape[0] // self.size
        return batch[self.rank * each:(self.rank + 1) * each]

    def part(self, n: int) -> tuple[int, int]:
        """``(start, stop)``: this rank's contiguous part of ``range(n)``."""
        return n * self.rank // self.size, n * (self.rank + 1) // self.size

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` itself for one rank; else DDP around it (its BatchNorm layers
        made SyncBatchNorm on CUDA).  Parameters and state-dict names stay those of
        ``model``, so the optimizer and checkpoints keep using ``model``."""
        if self.size == 1:
            return model
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over the ranks (``value`` itself for one rank)."""
        if self.size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over the ranks (``value`` itself for one rank)."""
        return value if self.size == 1 else self.sum(value) / self.size

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm's running statistics), as DDP
        does before each training forward; needed before an evaluation when each
        rank normalised over its own share."""
        if self.size > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def from_main(self, compute: Callable[[], Any]) -> Any:
        """``compute()`` on rank 0, its value on every rank (a decision that the
        ranks must take together, such as whether a run is cached)."""
        if self.size == 1:
            return compute()
        box = [compute() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def check_same(self, value, what: str) -> None:
        """:class:`SharingError` naming ``what`` unless every rank holds the same
        ``value``."""
        if self.size == 1:
            return
        values = [None] * self.size
        dist.all_gather_object(values, value)
        if any(v != values[0] for v in values):
            listed = ", ".join(f"rank {rank}: {held!r}"
                               for rank, held in enumerate(values))
            raise SharingError(f"the ranks disagree about {what} ({listed})")


#: The world of a run in one process: rank 0 of 1.
SINGLE = World()


def batchnorm(model: nn.Module, device: torch.device) -> str:
    """What the BatchNorm layers of ``model`` normalise over when several ranks
    share a run on ``device`` (for the run's record)."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    if not any(isinstance(module, norms) for module in model.modules()):
        return "none"
    if device.type == "cuda":
        return "synchronised over the global batch"
    return "over each rank's share"


def _int_from_environment(name: str) -> int:
    text = os.environ.get(name, "")
    try:
        value = int(text)
    except ValueError:
        raise RuntimeError(f"the environment variable {name}={text!r} that torchrun "
                           f"sets is not an integer") from None
    if value < 0:
        raise RuntimeError(f"the environment variable {name}={value} is negative")
    return value


def join() -> World:
    """This process's :class:`World`: :data:`SINGLE` unless torchrun started more
    than one rank, in which case the process group is started here."""
    if "WORLD_SIZE" not in os.environ or _int_from_environment("WORLD_SIZE") <= 1:
        return SINGLE
    world = World(*(_int_from_environment(name) for name in
                    ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")))
    backend = "gloo"
    if torch.cuda.is_available():
        backend = "cpu:gloo,cuda:nccl"
        if world.local_rank < torch.cuda.device_count():
            torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend, timeout=TIMEOUT)
    return world


def leave(world: World) -> None:
    """End the process group of ``world`` (nothing for one rank)."""
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
