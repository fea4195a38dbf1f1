"""The bias-variance decomposition of the expected test error (UDL section 8.2, eqs. 8.3-8.7, notebook 8.2).

For models f̂_D fitted to S training sets D drawn independently, on test inputs x with true function f(x) and
targets y = f(x) + ε, ε ~ N(0, σ²), and f̄(x) = E_D[f̂_D(x)]:

    E_x E_D E_y[(f̂_D(x) − y)²] = E_x[(f̄(x) − f(x))²] + E_x E_D[(f̂_D(x) − f̄(x))²] + σ²
                                 =        bias²         +        variance            + noise.

E_D and E_x are plain means over the S fitted models and the G test inputs (plug-in estimates), for which the
identity holds exactly. Also here: notebook 8.2's model, a shallow ReLU network with D hidden units whose joints are
fixed at d/D (d = 0..D−1, slope 1), and only the output layer fitted by least squares.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "BiasVariance",
    "MonteCarloError",
    "bias_variance_decomposition",
    "bias_variance_per_dataset",
    "fit_fixed_joint_models",
    "fixed_joint_features",
    "monte_carlo_test_error",
    "predict_fixed_joint_models",
]


class BiasVariance(NamedTuple):
    """The terms of the expected test error at one capacity (floats)."""

    bias2: float
    """E_x[(f̄(x) − f(x))²]"""
    variance: float
    """E_x E_D[(f̂_D(x) − f̄(x))²]"""
    noise: float
    """σ²"""
    error: float
    """analytic expected test error E_x E_D[(f̂_D(x) − f(x))²] + σ²"""


def fixed_joint_features(x: Tensor, units: int) -> Tensor:
    """The design [1, relu(x − 0/D), relu(x − 1/D), ..., relu(x − (D−1)/D)]: (..., N, 1) -> (..., N, D+1).

    Notebook 8.2's hidden units: joints fixed at d/D, d = 0..D−1, slope 1; column 0 is the offset β.
    """
    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")
    joints = torch.arange(units, dtype=x.dtype, device=x.device) / units
    return torch.cat([torch.ones_like(x), torch.relu(x - joints)], dim=-1)


def fit_fixed_joint_models(x: Tensor, y: Tensor, units: int) -> tuple[Tensor, Tensor]:
    """Closed-form output layers of many data sets at once: x, y (S, N, 1) -> φ = (β, ω) (S, D+1, 1), rank (S,).

    One batched ``torch.linalg.lstsq`` with the ``gelsd`` driver (SVD with the default cut-off, like
    ``numpy.linalg.lstsq(rcond=None)``; the minimum-norm solution where a design is rank deficient). CPU tensors
    only (gelsd is a CPU LAPACK driver).
    """
    solution = torch.linalg.lstsq(fixed_joint_features(x, units), y, driver="gelsd")
    return solution.solution, solution.rank


def predict_fixed_joint_models(phi: Tensor, x: Tensor, units: int) -> Tensor:
    """Predictions of every fitted model on shared inputs: φ (S, D+1, 1), x (G, 1) -> (S, G)."""
    return (fixed_joint_features(x, units) @ phi).squeeze(-1)


def bias_variance_decomposition(predictions: Tensor, truth: Tensor, noise_std: float) -> BiasVariance:
    """Bias², variance, noise and the analytic expected test error from predictions (S, G) and f on the grid (G,).

    E_D is the plain mean over the S models (variance divides by S), so bias² + variance equals
    E_x E_D[(f̂ − f)²] exactly, up to rounding. The plug-in bias² carries a floor of variance / S (f̄ is itself a
    noisy mean).
    """
    mean = predictions.mean(dim=0)  # f̄(x), (G,)
    bias2 = (mean - truth).pow(2).mean()
    variance = (predictions - mean).pow(2).mean()
    error = (predictions - truth).pow(2).mean() + noise_std**2
    return BiasVariance(float(bias2), float(variance), noise_std**2, float(error))


def bias_variance_per_dataset(predictions: Tensor, truth: Tensor) -> tuple[Tensor, Tensor]:
    """Each data set's share of bias² and of variance, (S,) each, whose means are the plug-in bias² and variance.

    v_s = E_x[(f̂_s − f̄)²] and b_s = E_x[(f̂_s − f)²] − v_s = E_x[(f̄ − f)²] + 2 E_x[(f̂_s − f̄)(f̄ − f)] (the cross
    term averages to zero over s). They let a comparison of two capacities fitted to the same data sets be paired
    by data set.
    """
    mean = predictions.mean(dim=0)
    variance = (predictions - mean).pow(2).mean(dim=1)
    return (predictions - truth).pow(2).mean(dim=1) - variance, variance


class MonteCarloError(NamedTuple):
    """A Monte Carlo estimate of the expected test error and its standard error (given the fitted models)."""

    mean: float
    se: float


def monte_carlo_test_error(
    predictions: Tensor, truth: Tensor, noise_std: float, draws: int, generator: torch.Generator | None = None
) -> MonteCarloError:
    """E_x E_D E_y[(f̂_D(x) − y)²] by Monte Carlo: ``draws`` fresh targets y = f(x) + ε per model and input.

    Given the models, each term (f̂ − f − σε)² has variance 4σ²(f̂ − f)² + 2σ⁴ and the S·G·draws terms are
    independent, so the standard error is exact: √(Σ variances) / (S·G·draws).
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    total = 0.0
    for _ in range(draws):  # one (S, G) batch of fresh targets at a time
        eps = torch.randn(predictions.shape, generator=generator, dtype=predictions.dtype)
        total += float((predictions - truth - noise_std * eps).pow(2).mean())
    per_term_var = 4 * noise_std**2 * (predictions - truth).pow(2) + 2 * noise_std**4
    se = math.sqrt(float(per_term_var.mean()) / (predictions.numel() * draws))
    return MonteCarloError(total / draws, se)
