"""The geometry of high-dimensional spaces (UDL chapter 8 notes on the curse of dimensionality, fig. 8.13,
notebook 8.4, problem 8.7): ball volumes, the outer shell, pairwise distances, and the samplers that measure
them (power laws over D: ``udl.functional.loglog_slope``).

Everything is float64. Random functions take an explicit ``generator`` and draw in blocks of at most
:data:`CHUNK_ELEMENTS` numbers, so memory stays bounded in any dimension and the stream does not depend on the
block size used by the caller.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from udl.functional.distributions import binomial_z, chi_cdf, ks_statistic

__all__ = [
    "CHUNK_ELEMENTS",
    "EXACT_CDIST_MAX_DIM",
    "POINT_DISTRIBUTIONS",
    "BallEstimate",
    "DistanceSpread",
    "ShellEstimate",
    "ball_estimate",
    "ball_in_cube_monte_carlo",
    "ball_to_cube_volume",
    "ball_volume",
    "distance_concentration",
    "distance_ratio",
    "expected_squared_distance",
    "gaussian_norms",
    "gaussian_shell_estimate",
    "log_ball_volume",
    "outer_shell_fraction",
    "pairwise_distances",
    "random_points",
    "sample_blocks",
]

F64 = torch.float64
POINT_DISTRIBUTIONS = ("normal", "uniform")
"""what :func:`random_points` draws from: the standard normal, or uniform in the unit cube [0, 1]^D"""
EXACT_CDIST_MAX_DIM = 64
"""Up to this dimension pairwise distances are computed from exact differences; above it by the Gram-matrix
identity ‖x − y‖² = ‖x‖² + ‖y‖² − 2x·y, whose rounding error is then far below the smallest distance."""
CHUNK_ELEMENTS = 1 << 22
"""Random samples are drawn in blocks of at most this many numbers (32 MiB of float64)."""


# -- volumes --------------------------------------------------------------------------------------------------
def log_ball_volume(d: int, radius: float = 1.0) -> float:
    """log of the volume of a D-ball: π^(D/2) r^D / Γ(D/2 + 1) (UDL problem 8.7)."""
    if d < 1 or not radius > 0:
        raise ValueError(f"need d >= 1 and radius > 0, got {d} and {radius}")
    return 0.5 * d * math.log(math.pi) + d * math.log(radius) - math.lgamma(0.5 * d + 1)


def ball_volume(d: int, radius: float = 1.0) -> float:
    """Volume of a D-ball of the given radius: π^(D/2) r^D / Γ(D/2 + 1)."""
    return math.exp(log_ball_volume(d, radius))


def ball_to_cube_volume(d: int) -> float:
    """Volume of the unit D-ball over that of the cube [−1, 1]^D around it (= a diameter-1 ball in [0, 1]^D).

    Clamped to 1: at D = 1 (ball = cube) lgamma's rounding would otherwise give 1 + 2e-16."""
    return min(1.0, math.exp(log_ball_volume(d) - d * math.log(2.0)))


def outer_shell_fraction(d: int, epsilon: float) -> float:
    """Fraction of a D-ball's volume within ε·radius of its surface: 1 − (1 − ε)^D, for ε in [0, 1]."""
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    return -math.expm1(d * math.log1p(-epsilon)) if epsilon < 1 else 1.0


# -- distances ------------------------------------------------------------------------------------------------
def pairwise_distances(x: Tensor) -> Tensor:
    """The N(N−1)/2 Euclidean distances between the rows of ``x`` (N, D), each pair once, self-pairs left out."""
    n, d = x.shape
    mode = "donot_use_mm_for_euclid_dist" if d <= EXACT_CDIST_MAX_DIM else "use_mm_for_euclid_dist"
    dist = torch.cdist(x, x, compute_mode=mode)
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    return dist[i, j]


def distance_ratio(x: Tensor) -> float:
    """Largest over smallest distance between distinct rows of ``x`` (notebook 8.4's ``distance_ratio``)."""
    dist = pairwise_distances(x)
    return float(dist.max() / dist.min())


def expected_squared_distance(distribution: str, d: int) -> float:
    """E‖x − y‖² for two independent points: 2D for standard normals, D/6 for uniform points of [0, 1]^D."""
    if distribution not in POINT_DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; valid: {POINT_DISTRIBUTIONS}")
    return 2.0 * d if distribution == "normal" else d / 6.0


# -- samplers ---------------------------------------------------------------------------------------------------
def sample_blocks(total: int, d: int) -> list[int]:
    """Row counts of the blocks ``total`` samples of dimension ``d`` are drawn in (≤ CHUNK_ELEMENTS numbers)."""
    rows = max(1, CHUNK_ELEMENTS // d)
    return [min(rows, total - start) for start in range(0, total, rows)]


def random_points(distribution: str, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
    """(n, d) float64 points: standard normal, or uniform in the unit cube [0, 1]^d."""
    if distribution == "normal":
        return torch.randn(n, d, generator=generator, dtype=F64)
    if distribution == "uniform":
        return torch.rand(n, d, generator=generator, dtype=F64)
    raise ValueError(f"unknown distribution {distribution!r}; valid: {POINT_DISTRIBUTIONS}")


def ball_in_cube_monte_carlo(
    d: int, samples: int, epsilon: float, generator: torch.Generator | None = None
) -> tuple[int, int]:
    """Of ``samples`` uniform points of [−1, 1]^D: how many lie in the unit ball, and how many of those in its
    outer shell 1 − ε < ‖x‖ ≤ 1."""
    inside = shell = 0
    for rows in sample_blocks(samples, d):
        sq = ((torch.rand(rows, d, generator=generator, dtype=F64) * 2 - 1) ** 2).sum(dim=1)
        inside += int((sq <= 1).sum())
        shell += int(((sq <= 1) & (sq > (1 - epsilon) ** 2)).sum())
    return inside, shell


def gaussian_norms(d: int, samples: int, generator: torch.Generator | None = None) -> Tensor:
    """Norms ‖x‖ of ``samples`` draws from a D-dimensional standard normal, (samples,) float64."""
    return torch.cat(
        [
            torch.randn(rows, d, generator=generator, dtype=F64).norm(dim=1)
            for rows in sample_blocks(samples, d)
        ]
    )


# -- measurements: one dimension's Monte Carlo estimates against the closed forms ------------------------------
class DistanceSpread(NamedTuple):
    """Pairwise distances of random point sets in one dimension (see :func:`distance_concentration`)."""

    ratio: float
    """largest over smallest distance, geometric mean over the sets"""
    smallest: float
    """smallest distance over its rms value √E‖x − y‖², mean over the sets"""
    mean: float
    """mean distance over the rms value"""
    largest: float
    """largest distance over the rms value"""


def distance_concentration(
    distribution: str,
    points: int,
    d: int,
    trials: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> DistanceSpread:
    """Draw ``trials`` sets of ``points`` random points in D dimensions and summarize their pairwise distances."""
    logs, extremes = [], []
    for _ in range(trials):
        dd = pairwise_distances(random_points(distribution, points, d, generator).to(device))
        logs.append(math.log(float(dd.max() / dd.min())))
        extremes.append((float(dd.min()), float(dd.mean()), float(dd.max())))
    scale = math.sqrt(expected_squared_distance(distribution, d))
    lo, mean, hi = (sum(e[k] for e in extremes) / len(extremes) / scale for k in range(3))
    return DistanceSpread(math.exp(sum(logs) / len(logs)), lo, mean, hi)


class BallEstimate(NamedTuple):
    """Rejection sampling of the unit D-ball in [−1, 1]^D against the closed forms."""

    dim: int
    ball_fraction_mc: float
    ball_fraction_exact: float
    ball_z: float
    """|MC − exact| in binomial standard errors"""
    shell_fraction_mc: float
    """of the points inside, the fraction within ε of the surface (nan if none inside)"""
    shell_fraction_exact: float
    shell_z: float
    inside: int


def ball_estimate(
    d: int, samples: int, epsilon: float, generator: torch.Generator | None = None
) -> BallEstimate:
    """The ball's share of the cube and the outer shell's share of the ball, sampled and exact, in D dimensions."""
    inside, shell = ball_in_cube_monte_carlo(d, samples, epsilon, generator)
    exact, shell_exact = ball_to_cube_volume(d), outer_shell_fraction(d, epsilon)
    return BallEstimate(
        d,
        inside / samples,
        exact,
        binomial_z(inside, samples, exact),
        shell / inside if inside else math.nan,
        shell_exact,
        binomial_z(shell, inside, shell_exact) if inside else math.inf,
        inside,
    )


class ShellEstimate(NamedTuple):
    """A D-dimensional standard normal's sampled norms against the chi law."""

    dim: int
    shell_mc: float
    """fraction of samples with (1 − w)√D ≤ ‖x‖ ≤ (1 + w)√D"""
    shell_exact: float
    center_mc: float
    """fraction of samples with ‖x‖ ≤ the central radius"""
    center_exact: float
    ks: float
    """Kolmogorov-Smirnov distance to the chi CDF"""
    mean_norm_over_root_d: float
    std_norm: float
    shell_z: float
    center_z: float


def gaussian_shell_estimate(
    d: int, samples: int, width: float, central_radius: float, generator: torch.Generator | None = None
) -> tuple[ShellEstimate, Tensor]:
    """Sample ``samples`` norms of a D-dimensional standard normal; compare the shell (1 ± width)√D and the
    central ball of radius ``central_radius`` with the chi law. Returns the estimate and the norms."""
    norms = gaussian_norms(d, samples, generator)
    root = math.sqrt(d)
    in_shell = (norms >= (1 - width) * root) & (norms <= (1 + width) * root)
    in_center = norms <= central_radius
    bounds = torch.tensor([(1 - width) * root, (1 + width) * root, central_radius], dtype=F64)
    lo_cdf, hi_cdf, center_cdf = chi_cdf(bounds, d).tolist()
    estimate = ShellEstimate(
        d,
        float(in_shell.double().mean()),
        hi_cdf - lo_cdf,
        float(in_center.double().mean()),
        center_cdf,
        ks_statistic(norms, chi_cdf(norms, d)),
        float(norms.mean()) / root,
        float(norms.std()),
        binomial_z(int(in_shell.sum()), samples, hi_cdf - lo_cdf),
        binomial_z(int(in_center.sum()), samples, center_cdf),
    )
    return estimate, norms
