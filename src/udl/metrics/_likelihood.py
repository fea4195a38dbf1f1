r"""Likelihood metrics for generative models (UDL chapter 14, used by chapters 16-18): negative log-likelihood
and bits per dimension, with uniform dequantization for discrete data.

A density model of D continuous variables is scored on held-out data by its negative log-likelihood
−log Pr(x) (in nats), or per variable in bits, bits/dim = −log₂ Pr(x) / D, which compares models across data
sizes.

**Discrete data.** Pixels take K levels k ∈ {0, …, K − 1} (K = 17 for the 8 × 8 digits, values 0..16; 256 for
8-bit images). A density on R^D can put unbounded density on the grid points, so it is fitted and scored on
*dequantized* data: y = (k + u)·Δ with u ~ U[0, 1)^D and bin width Δ (Δ = 1/K puts y in [0, 1)^D). The density p
on y defines a discrete model P(k) = ∫_{cell(k)} p(y) dy over the cube of side Δ at kΔ, and Jensen's inequality
gives

    −log P(k) = −log E_u[Δ^D p((k + u)Δ)] ≤ E_u[−log p((k + u)Δ)] − D log Δ,

so the dequantized NLL plus D log(1/Δ) is an upper bound on the discrete model's code length (Theis et al., 2016),
equal to it when p is constant inside each cell. In bits per dimension,

    bits/dim = ( −log p(y) / D − log Δ ) / log 2 = −log₂ p(y) / D + log₂(1/Δ),

e.g. + log₂ 17 ≈ 4.09 bits for digits scaled to [0, 1) with Δ = 1/17, + 8 bits for 8-bit images scaled to
[0, 1) with Δ = 1/256, and no correction (Δ = 1) when y is in pixel units (k + u).

:func:`uniform_dequantize` draws y, :func:`negative_log_likelihood` and :func:`bits_per_dim` turn log-densities into
the metrics; the VAE (an ELBO, a lower bound on log p) and diffusion models plug their bounds in the same way.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["bits_per_dim", "negative_log_likelihood", "uniform_dequantize"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduced(values: Tensor, reduction: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of 'mean', 'sum', 'none'; got {reduction!r}")
    return values.mean() if reduction == "mean" else values.sum() if reduction == "sum" else values


def _log_probs(log_prob: Tensor) -> Tensor:
    if not isinstance(log_prob, Tensor) or log_prob.ndim != 1 or not log_prob.is_floating_point():
        raise ValueError("log_prob must be a 1-D floating tensor (N,) of per-example log-densities")
    return log_prob


def negative_log_likelihood(log_prob: Tensor, reduction: str = "mean") -> Tensor:
    """−log Pr(x) in nats from per-example log-densities (N,): mean (default), sum or none."""
    return _reduced(-_log_probs(log_prob), reduction)


def bits_per_dim(log_prob: Tensor, dim: int, *, bin_width: float = 1.0, reduction: str = "mean") -> Tensor:
    """Bits per dimension (−log p(y)/D − log Δ)/log 2 from per-example log-densities of dequantized data.

    Args:
        log_prob: (N,) log p(y) in nats of the (dequantized) examples, each of ``dim`` variables.
        dim: D, the variables per example (64 for an 8 × 8 grey image).
        bin_width: Δ, the width of one quantization bin in the units p is a density in (1/K for K levels scaled
            to [0, 1); 1 for pixel units; 1 also for continuous data, which gives plain −log₂ p / D).
        reduction: "mean" (default), "sum" or "none" over the examples.

    For K-level pixels dequantized with Δ = 1/K this is an upper bound on the bits per pixel of the discrete model
    P(k) = ∫_cell p (the module docstring derives it).
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    if not (math.isfinite(bin_width) and bin_width > 0):
        raise ValueError(f"bin_width must be a finite number > 0, got {bin_width!r}")
    values = (-_log_probs(log_prob) / dim - math.log(bin_width)) / math.log(2)
    return _reduced(values, reduction)


def uniform_dequantize(
    levels: Tensor,
    num_levels: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """y = (k + u)/K, u ~ U[0, 1) elementwise: K-level integers k ∈ {0, …, K − 1} (any shape) to [0, 1).

    Score the result with ``bits_per_dim(..., bin_width=1 / num_levels)``. Raises ValueError for values that are not
    integers in 0..K − 1 (pass pixel levels, e.g. ``round(16 * x)`` for the digits scaled to [0, 1]).
    """
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 2:
        raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}")
    k = levels.to(torch.float64)
    if bool((k != k.round()).any()) or bool((k < 0).any()) or bool((k > num_levels - 1).any()):
        raise ValueError(f"levels must be integers in 0..{num_levels - 1}")
    u = torch.rand(levels.shape, generator=generator, dtype=torch.float64)
    return ((k.cpu() + u) / num_levels).to(dtype=dtype, device=levels.device)
