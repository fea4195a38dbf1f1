"""Exact laws and tests of fit for Monte Carlo measurements: the chi distribution of a standard normal's norm,
the Kolmogorov-Smirnov distance and the binomial z-score (UDL chapter 8 notes, fig. 8.13, notebook 8.4)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["binomial_z", "chi_cdf", "chi_pdf", "ks_statistic", "log10_chi_cdf"]

F64 = torch.float64


def chi_cdf(r: Tensor | float, d: int) -> Tensor:
    """P(‖x‖ ≤ r) for x a D-dimensional standard normal: the regularized lower incomplete gamma P(D/2, r²/2)."""
    r = torch.as_tensor(r, dtype=F64)
    return torch.special.gammainc(torch.full_like(r, d / 2), r.clamp(min=0) ** 2 / 2)


def chi_pdf(r: Tensor | float, d: int) -> Tensor:
    """Density of ‖x‖: r^(D−1) e^(−r²/2) / (2^(D/2−1) Γ(D/2)), for r > 0."""
    r = torch.as_tensor(r, dtype=F64)
    log = (d - 1) * torch.log(r) - r**2 / 2 - (d / 2 - 1) * math.log(2.0) - math.lgamma(d / 2)
    return torch.exp(log)


def log10_chi_cdf(r: float, d: int, terms: int = 400) -> float:
    """log10 P(‖x‖ ≤ r) for a D-dimensional standard normal, finite where P itself underflows: the series
    P(a, x) = x^a e^(−x) / Γ(a + 1) · Σ_k x^k / ((a + 1)···(a + k)), a = D/2, x = r²/2 (accurate when x ≲ a)."""
    a, x = d / 2, r * r / 2
    if x == 0:
        return -math.inf
    k = torch.arange(1, terms + 1, dtype=F64)
    series = 1 + float(torch.cumprod(x / (a + k), dim=0).sum())
    return (a * math.log(x) - x - math.lgamma(a + 1) + math.log(series)) / math.log(10)


def ks_statistic(samples: Tensor, cdf: Tensor) -> float:
    """Kolmogorov-Smirnov distance sup |F_M − F| between the samples' empirical CDF and ``cdf`` (F at each
    sample, in the samples' order). Under the null, √M · KS exceeds 1.95 with probability about 0.1%."""
    m = samples.numel()
    order = torch.argsort(samples)
    f = cdf[order]
    k = torch.arange(1, m + 1, dtype=F64)
    return float(torch.maximum(k / m - f, f - (k - 1) / m).max())


def binomial_z(count: int, total: int, p: float) -> float:
    """|count/total − p| in binomial standard errors sqrt(p(1 − p)/total) (0 if both are exactly equal)."""
    p = min(max(p, 0.0), 1.0)
    diff = abs(count / total - p)
    se = math.sqrt(p * (1 - p) / total)
    if diff == 0:
        return 0.0
    return diff / se if se > 0 else math.inf
