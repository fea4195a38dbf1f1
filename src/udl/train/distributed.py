"""Data-parallel training under ``torchrun``: the process group, each rank's shard of udl's seeded batches,
and the collectives the loop and the run object need.

udl's order stays the one of a single process: every rank draws the *same* global permutation from the same
seeded generator (the generators are identical because every rank seeds identically), cuts it into the same
global batches, and takes its contiguous share of each (``torch.tensor_split``: shares differ by at most one
sample). With gradients all-reduced by ``DistributedDataParallel`` (which averages over ranks), scaling each
rank's mean loss by ``world · n_rank / n_batch`` makes the averaged gradient the gradient of the global batch's
mean loss, exactly as one process computes it (:func:`shard_weight`), whatever the batch's size.

Only rank 0 writes (the run directory, metrics, checkpoints, figures); a checkpoint is read by rank 0 and
broadcast, so the ranks need no shared file system. The launcher is PyTorch's own: ``torchrun`` /
``python -m torch.distributed.run`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous
variables that :func:`init_from_env` reads.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "all_reduce_mean",
    "all_reduce_sum",
    "barrier",
    "batch_indices",
    "broadcast_object",
    "init_from_env",
    "is_distributed",
    "launched_by_torchrun",
    "local_rank",
    "rank_and_world",
    "shard",
    "shard_weight",
    "sharded_minibatches",
]


def launched_by_torchrun() -> bool:
    """True in a worker process started by torchrun with more than one process (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``; 0 outside torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    """True when a process group of more than one rank is initialized."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, the number of ranks); (0, 1) outside a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def init_from_env(device: torch.device, *, timeout_s: float = 600.0) -> None:
    """Join the process group torchrun set up: gloo on CPU, nccl on CUDA (each rank on cuda:LOCAL_RANK).

    Does nothing when already initialized or when not launched by torchrun with several processes.
    """
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return
    if device.type == "cuda":
        torch.cuda.set_device(local_rank())
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_s))


def shard(indices: Tensor) -> Tensor:
    """This rank's contiguous share of ``indices`` (all of them outside a process group)."""
    rank, world = rank_and_world()
    return indices if world == 1 else torch.tensor_split(indices, world)[rank]


def shard_weight(n_rank: int, n_batch: int) -> float:
    """The factor on a rank's mean loss over its ``n_rank`` samples that makes DDP's gradient average equal to
    the gradient of the mean loss over the whole ``n_batch`` batch: ``world · n_rank / n_batch``."""
    _, world = rank_and_world()
    return world * n_rank / n_batch


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator | None, shuffle: bool, device: torch.device
) -> Iterator[Tensor]:
    """The index sets of one epoch's mini-batches: a permutation drawn from ``generator`` at the call (not
    lazily), cut into runs of ``batch_size`` (the last may be shorter)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(device)
    return (order[i : i + batch_size] for i in range(0, n, batch_size))


def sharded_minibatches(
    *tensors: Tensor, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True
) -> Iterator[tuple[int, tuple[Tensor, ...]]]:
    """udl's seeded mini-batches (:func:`udl.train.minibatches`' order), each cut to this rank's share:
    ``(global batch size, this rank's tensors)`` per batch. The permutation is drawn at the call, from
    ``generator``, identically on every rank."""
    batches = batch_indices(len(tensors[0]), batch_size, generator, shuffle, tensors[0].device)
    return ((len(b), tuple(t[mine] for t in tensors)) for b in batches for mine in (shard(b),))


def all_reduce_mean(values: Tensor) -> Tensor:
    """The mean of ``values`` over the ranks (``values`` itself outside a process group)."""
    if not is_distributed():
        return values
    out = values.clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def all_reduce_sum(value: Tensor) -> Tensor:
    """The sum of ``value`` over the ranks (``value`` itself outside a process group)."""
    if not is_distributed():
        return value
    out = value.clone()
    dist.all_reduce(out)
    return out


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (pickled; tensors arrive on the CPU)."""
    if not is_distributed():
        return value
    box = [value if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0, device=_collective_device())
    return box[0]


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def _collective_device() -> torch.device | None:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
