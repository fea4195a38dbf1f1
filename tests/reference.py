"""Shared test references: torch's own activation functions, a seeded generator shorthand, and a RunLike that
checkpoints to a directory."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from udl.train.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


REFERENCE_ACTIVATIONS = {
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "heaviside": lambda z: torch.heaviside(z, torch.zeros((), dtype=z.dtype)),
    "linear": lambda z: z,
    "softplus": F.softplus,
    "gelu": F.gelu,
}
"""The book's activations as torch computes them (UDL fig. 3.13), the reference for udl's own."""


class DirRun:
    """A minimal RunLike that checkpoints to a directory and records (step, metrics) log calls; it raises
    KeyboardInterrupt right after logging ``stop_after_epoch``, a kill before any later checkpoint."""

    def __init__(self, directory, stop_after_epoch=None):
        self.directory = directory
        self.logged = []
        self.stop_after_epoch = stop_after_epoch

    def log(self, step, **metrics):
        self.logged.append((step, metrics))
        if self.stop_after_epoch is not None and step == self.stop_after_epoch:
            raise KeyboardInterrupt  # simulate a kill right after this epoch's log (before any later checkpoint)

    @contextlib.contextmanager
    def progress(self, total, description):
        class P:
            def update(self, completed, **fields):
                pass

        yield P()

    def save_state(self, key, tree):
        save_checkpoint(self.directory / key, tree)

    def load_state(self, key):
        if not checkpoint_exists(self.directory / key):
            return None
        return load_checkpoint(self.directory / key)
