"""Shared test references: torch's own activation functions, and a seeded generator shorthand."""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
