r"""Orders of growth: the exponent p of an error that scales like c · h^p, read off a log-log fit.

Backward error analysis (UDL section 9.2.1) says how the distance between gradient descent with step α and a
continuous flow grows with α: like α for the flow of L, like α² for the flow of the modified loss (eq. 9.8).
:func:`loglog_slope` estimates such an exponent from measurements at several step sizes.

Example:
    >>> round(loglog_slope([0.1, 0.2, 0.4], [0.03, 0.12, 0.48]), 6)
    2.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["loglog_slope"]


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (float64).

    Args:
        x, y: positive, finite values of one length >= 2; x must not be all equal.

    Returns:
        p such that y ≈ c · x^p in the least-squares sense on the logs.
    """
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"loglog_slope needs two sequences of one length >= 2, got {len(x)} and {len(y)}")
    if any(not math.isfinite(v) or v <= 0 for v in [*x, *y]):
        raise ValueError("loglog_slope needs positive, finite values")
    lx = torch.tensor(list(x), dtype=torch.float64).log()
    ly = torch.tensor(list(y), dtype=torch.float64).log()
    lx, ly = lx - lx.mean(), ly - ly.mean()
    denominator = float((lx * lx).sum())
    if denominator == 0:
        raise ValueError("loglog_slope needs at least two distinct x values")
    return float((lx * ly).sum()) / denominator
