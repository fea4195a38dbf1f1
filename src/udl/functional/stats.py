"""Small statistics used by the experiments' claims."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["average_ranks", "spearman"]


def average_ranks(values: Sequence[float] | Tensor) -> Tensor:
    """Ranks 0..n−1 of ``values`` (float64), tied values sharing the mean of their ranks."""
    t = torch.as_tensor(values, dtype=torch.float64)
    below = (t.unsqueeze(0) < t.unsqueeze(1)).sum(1)
    ties = (t.unsqueeze(0) == t.unsqueeze(1)).sum(1)
    return below.to(torch.float64) + 0.5 * (ties.to(torch.float64) - 1)


def spearman(a: Sequence[float] | Tensor, b: Sequence[float] | Tensor) -> float:
    """Spearman's rank correlation: the Pearson correlation of the (average) ranks; 0 if either is constant."""
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.shape != rb.shape:
        raise ValueError(
            f"spearman needs two sequences of one length, got {tuple(ra.shape)} and {tuple(rb.shape)}"
        )
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denominator if denominator > 0 else 0.0
