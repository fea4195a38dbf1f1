r"""The toy problems of UDL chapter 5, one per choice of likelihood: outliers, angles, input-dependent noise,
rankings. Each returns float64 tensors drawn from ``generator`` in a fixed order (reproducible per seed).

Example:
    >>> import torch
    >>> x, y = outlier_line(20, (0.5, 1.5), 0.1, generator=torch.Generator().manual_seed(0))
    >>> int((y > 7).sum())   # 10% of 20 targets replaced by gross errors in [8, 10]
    2
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "heteroscedastic_sine",
    "heteroscedastic_std",
    "outlier_line",
    "plackett_luce_rankings",
    "wrapped_angles",
]

F64 = torch.float64


def outlier_line(
    n: int, line: tuple[float, float], outlier_fraction: float, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """x ~ U[−1, 1], y = φ0 + φ1 x + N(0, 0.1²), then ⌊fraction · n⌋ random targets replaced by U[8, 10].

    Returns:
        ``(x, y)``, each (n,).
    """
    if n < 1 or not 0 <= outlier_fraction < 1:
        raise ValueError(f"need n >= 1 and outlier_fraction in [0, 1), got {n}, {outlier_fraction}")
    x = torch.rand(n, generator=generator, dtype=F64) * 2 - 1
    y = line[0] + line[1] * x + 0.1 * torch.randn(n, generator=generator, dtype=F64)
    outliers = torch.randperm(n, generator=generator)[: int(outlier_fraction * n)]
    y[outliers] = 8.0 + 2.0 * torch.rand(len(outliers), generator=generator, dtype=F64)  # gross, all above
    return x, y


def wrapped_angles(n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """x ~ U[0, 1]; the true angle 1 + 4x turns from 1 to 5 rad, crossing +π at x ≈ 0.54; the observation is
    the true angle plus N(0, 0.2²) noise, wrapped to [−π, π).

    Returns:
        ``(x, y, true_angle)``, each (n,).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    x = torch.rand(n, generator=generator, dtype=F64)
    true_angle = 1.0 + 4.0 * x
    noisy = true_angle + 0.2 * torch.randn(n, generator=generator, dtype=F64)
    return x, torch.remainder(noisy + math.pi, 2 * math.pi) - math.pi, true_angle


def heteroscedastic_std(x: Tensor) -> Tensor:
    """The noise level of :func:`heteroscedastic_sine`: 0.05 at x = −1 growing linearly to 0.35 at x = 1."""
    return 0.05 + 0.3 * (x + 1) / 2


def heteroscedastic_sine(n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """x ~ U[−1, 1], y = sin 2x + σ(x)·ε with σ(x) from :func:`heteroscedastic_std` (UDL fig. 5.6's setting).

    Returns:
        ``(x, y)``, each (n, 1).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    x = torch.rand(n, 1, generator=generator, dtype=F64) * 2 - 1
    return x, torch.sin(2 * x) + heteroscedastic_std(x) * torch.randn(n, 1, generator=generator, dtype=F64)


def plackett_luce_rankings(scores: Tensor, count: int, *, generator: torch.Generator | None = None) -> Tensor:
    """``count`` exact samples of the Plackett-Luce model with item scores ``scores`` (I,): each ranking is the
    order of scores + Gumbel noise (the Gumbel-max construction), best item first.

    Returns:
        (count, I) item indices.
    """
    if scores.dim() != 1 or count < 1:
        raise ValueError(f"need 1-D scores and count >= 1, got {tuple(scores.shape)}, {count}")
    uniform = torch.rand(count, len(scores), generator=generator, dtype=scores.dtype)
    gumbel = -torch.log(-torch.log(uniform))
    return torch.argsort(scores + gumbel, dim=1, descending=True)
