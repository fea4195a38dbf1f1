r"""Analysing ensembles (UDL section 9.3.2): the ambiguity decomposition and the error against ensemble size.

For squared error the mean of M members obeys an identity (Krogh & Vedelsby, 1995), pointwise:

.. math:: (\bar f - y)^2 = \underbrace{\frac1M\sum_m (f_m - y)^2}_{\text{average member error}}
          - \underbrace{\frac1M\sum_m (f_m - \bar f)^2}_{\text{ambiguity (spread)}},
          \qquad \bar f = \frac1M\sum_m f_m,

so the ensemble mean is never worse than the average member, by exactly the members' spread.
:func:`ambiguity_decomposition` returns the three terms; :func:`ensemble_size_curve` measures the error of
K-member combinations for K = 1..M, averaged over member subsets; :func:`regression_ensemble_errors` and
:func:`classifier_ensemble_errors` gather an ensemble's errors, combined each way of UDL 9.3.2, and their curves.

Example:
    >>> import torch
    >>> f = torch.tensor([[1.0, 2.0], [3.0, 2.0]])           # 2 members, 2 points
    >>> d = ambiguity_decomposition(f, torch.tensor([2.0, 0.0]))
    >>> torch.allclose(d.ensemble_error, d.member_error - d.ambiguity)
    True
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from udl.functional.ensembles import CLASSIFIER_COMBINATIONS, combined_labels, ensemble_mean, ensemble_median

__all__ = [
    "AmbiguityDecomposition",
    "ClassifierEnsembleErrors",
    "RegressionEnsembleErrors",
    "ambiguity_decomposition",
    "classifier_ensemble_errors",
    "ensemble_size_curve",
    "ensemble_size_curves",
    "largest_step_up",
    "regression_ensemble_errors",
]


class AmbiguityDecomposition(NamedTuple):
    """The terms of the ambiguity decomposition, elementwise (the member dimension reduced)."""

    member_error: Tensor
    """the members' average squared error (1/M) Σ (f_m − y)²"""
    ambiguity: Tensor
    """the members' spread around their mean (1/M) Σ (f_m − f̄)²"""
    ensemble_error: Tensor
    """the mean's squared error (f̄ − y)²"""


def ambiguity_decomposition(outputs: Tensor, target: Tensor, dim: int = 0) -> AmbiguityDecomposition:
    """The three terms of (f̄ − y)² = (1/M)Σ(f_m − y)² − (1/M)Σ(f_m − f̄)², computed independently.

    Args:
        outputs: the members' predictions, members along ``dim``.
        target: broadcastable to ``outputs`` with ``dim`` removed.
        dim: the member dimension.

    Returns:
        :class:`AmbiguityDecomposition`, each term shaped like ``outputs`` without ``dim``.
    """
    if outputs.shape[dim] < 1:
        raise ValueError("need at least one member")
    dim = dim % outputs.dim()
    mean = outputs.mean(dim=dim, keepdim=True)
    y = target.expand(outputs.shape[:dim] + outputs.shape[dim + 1 :]).unsqueeze(dim)
    return AmbiguityDecomposition(
        member_error=(outputs - y).square().mean(dim=dim),
        ambiguity=(outputs - mean).square().mean(dim=dim),
        ensemble_error=(mean - y).square().squeeze(dim),
    )


def ensemble_size_curve(
    outputs: Tensor,
    score: Callable[[Tensor], Tensor],
    subsets: int,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Mean error of K-member combinations for K = 1..M.

    Args:
        outputs: (M, ...) the members' predictions.
        score: maps the predictions of R subsets, (R, K, ...), to the R combinations' errors (R,).
        subsets: all C(M, K) subsets are used when there are at most this many, else this many random ones
            (each without repeated members), >= 1.
        generator: source of the random subsets (CPU).

    Returns:
        M floats: entry K − 1 is the mean error of the K-member combinations.
    """
    members = outputs.shape[0]
    if members < 1 or subsets < 1:
        raise ValueError(f"need at least one member and subsets >= 1, got {members} and {subsets}")
    curve = []
    for k in range(1, members + 1):
        if math.comb(members, k) <= subsets:
            idx = torch.tensor(list(itertools.combinations(range(members), k)))
        else:
            idx = torch.stack([torch.randperm(members, generator=generator)[:k] for _ in range(subsets)])
        curve.append(float(score(outputs[idx.to(outputs.device)]).mean()))
    return curve


def ensemble_size_curves(
    outputs: Tensor,
    score: Callable[[Tensor], Tensor],
    subsets: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """:func:`ensemble_size_curve` of each of S ensembles, ``outputs`` (S, M, ...), drawn one after the other from
    ``generator``: (S, M) float64, row s the curve of ensemble s (e.g. one per training set)."""
    curves = [ensemble_size_curve(outputs[s], score, subsets, generator) for s in range(len(outputs))]
    return torch.tensor(curves, dtype=torch.float64)


def largest_step_up(curve: Sequence[float]) -> float:
    """The largest rise between consecutive points of ``curve`` (0 when it never rises): how far a curve that
    should fall is from monotone."""
    return max([0.0, *(b - a for a, b in itertools.pairwise(curve))])


class ClassifierEnsembleErrors(NamedTuple):
    """The test errors of a classifier ensemble, its members and each of :data:`CLASSIFIER_COMBINATIONS`."""

    member_wrong: Tensor
    """(M, N) float64 on the CPU: each member's 0/1 errors"""
    wrong: dict[str, Tensor]
    """combination -> (N,) float64 on the CPU: the 0/1 errors of all M members combined"""
    error: dict[str, float]
    """combination -> the error rate of all M members combined"""
    size_curves: dict[str, list[float]]
    """combination -> its error against ensemble size K = 1..M (:func:`ensemble_size_curve`)"""


def classifier_ensemble_errors(
    logits: Tensor, target: Tensor, subsets: int, generator: torch.Generator | None = None
) -> ClassifierEnsembleErrors:
    """Errors of the members' logits (M, N, C) against ``target`` (N,), combined every way of
    :data:`CLASSIFIER_COMBINATIONS` (:func:`combined_labels`), and their error-vs-size curves (``subsets`` and
    ``generator`` as in :func:`ensemble_size_curve`, drawn one combination after the other)."""

    def error_rate(pred: Tensor) -> Tensor:  # predicted labels (..., N) -> error rates (...,), on the CPU
        return (pred != target).float().mean(dim=-1).cpu()

    def scorer(combine: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        return lambda z: error_rate(combine(z))

    combiners = {how: functools.partial(combined_labels, how=how, dim=-3) for how in CLASSIFIER_COMBINATIONS}
    labels = {how: combine(logits) for how, combine in combiners.items()}
    return ClassifierEnsembleErrors(
        member_wrong=(logits.argmax(-1) != target).double().cpu(),
        wrong={how: (pred != target).double().cpu() for how, pred in labels.items()},
        error={how: float(error_rate(pred)) for how, pred in labels.items()},
        size_curves={
            how: ensemble_size_curve(logits, scorer(combine), subsets, generator)
            for how, combine in combiners.items()
        },
    )


class RegressionEnsembleErrors(NamedTuple):
    """The squared errors of S regression ensembles of M members, of their means and of their medians."""

    member_error: Tensor
    """(S, M): each member's mean squared error"""
    fit: dict[str, Tensor]
    """``"mean"`` / ``"median"`` -> (S, G): each ensemble's combined fit"""
    error: dict[str, Tensor]
    """``"mean"`` / ``"median"`` -> (S,): the error of each ensemble's mean (:func:`ensemble_mean`) or median"""
    size_curves: dict[str, Tensor]
    """``"mean"`` / ``"median"`` -> (S, M) float64: the error against ensemble size (:func:`ensemble_size_curves`)"""

    @property
    def best_member(self) -> Tensor:
        """(S,): each ensemble's best member's error"""
        return self.member_error.min(dim=1).values

    def averages(self) -> dict[str, float]:
        """The errors averaged over the S ensembles: of the means, the medians, the best and all the members."""
        return {
            "mean_mse": float(self.error["mean"].mean()),
            "median_mse": float(self.error["median"].mean()),
            "best_member_mse": float(self.best_member.mean()),
            "average_member_mse": float(self.member_error.mean()),
        }


def regression_ensemble_errors(
    fits: Tensor, truth: Tensor, subsets: int, generator: torch.Generator | None = None
) -> RegressionEnsembleErrors:
    """Mean squared distances of S ensembles' fits (S, M, G) to ``truth`` (G,) over the G points, for every
    member, the ensembles' means and medians, and their error-vs-size curves (``subsets`` and ``generator`` as in
    :func:`ensemble_size_curve`; the means' curves are drawn first, then the medians')."""

    def mse(pred: Tensor) -> Tensor:  # (..., G) -> (...,)
        return (pred - truth).pow(2).mean(dim=-1)

    def scorer(combine: Callable[..., Tensor]) -> Callable[[Tensor], Tensor]:
        return lambda z: mse(combine(z, dim=1))

    combiners = {"mean": ensemble_mean, "median": ensemble_median}
    combined = {name: combine(fits, dim=1) for name, combine in combiners.items()}
    return RegressionEnsembleErrors(
        member_error=mse(fits),
        fit=combined,
        error={name: mse(fit) for name, fit in combined.items()},
        size_curves={
            name: ensemble_size_curves(fits, scorer(combine), subsets, generator)
            for name, combine in combiners.items()
        },
    )
