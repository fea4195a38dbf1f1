"""Seeded hold-out splits: a validation set carved out of the training data (never out of the test set).

Hyper-parameters, epochs and models are chosen on a validation split; the test set only reports the chosen one.
:func:`validation_split` draws which training examples are held out from an explicit generator, so the same seed
gives the same split.

Example:
    >>> import torch
    >>> fit, val = validation_split(10, 3, generator=torch.Generator().manual_seed(0))
    >>> len(fit), len(val), sorted(fit.tolist() + val.tolist()) == list(range(10))
    (7, 3, True)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["validation_split"]


def validation_split(n: int, num_val: int, *, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Indices (fit, val) of a random hold-out of ``num_val`` of ``n`` training examples, each sorted.

    Args:
        n: training examples, >= 2.
        num_val: how many to hold out, in [1, n − 1] (both parts non-empty).
        generator: a CPU generator; the split is a uniform random subset drawn from it.

    Returns:
        (n − num_val,) and (num_val,) int64 index tensors, disjoint, together 0..n−1, each in increasing order.
    """
    if n < 2 or not 1 <= num_val <= n - 1:
        raise ValueError(f"need n >= 2 and num_val in [1, n - 1], got n={n}, num_val={num_val}")
    perm = torch.randperm(n, generator=generator)
    return perm[num_val:].sort().values, perm[:num_val].sort().values
