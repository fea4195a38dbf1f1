r"""Sample-based metrics for generative models (UDL chapter 14, section 14.3 "Quantifying performance", and the
Wasserstein distance of section 15.2).

A GAN gives samples, not a likelihood, so it is judged by comparing sets of samples with the data:

- **Fréchet distance** between Gaussians fitted to features (the Fréchet inception distance of Heusel et al.,
  2017, UDL section 14.3): for Norm[μ₁, Σ₁] and Norm[μ₂, Σ₂],

  .. math:: d^2 = \lVert\mu_1 - \mu_2\rVert^2 + \operatorname{tr}\big[\Sigma_1 + \Sigma_2
            - 2\,(\Sigma_1^{1/2}\,\Sigma_2\,\Sigma_1^{1/2})^{1/2}\big],

  the squared 2-Wasserstein distance between the two Gaussians. The matrix square roots are taken of symmetric
  positive semi-definite matrices by ``eigh`` in float64 (negative round-off eigenvalues clipped to 0), which
  is stable where a general ``sqrtm(Σ₁Σ₂)`` is not: the trace term equals tr[(Σ₁Σ₂)^{1/2}] because
  Σ₁^{1/2}Σ₂Σ₁^{1/2} is similar to Σ₁Σ₂.
- **Precision and recall for distributions** (Kynkäänniemi et al., 2019, the k-NN manifold version; UDL
  section 14.3 discusses precision as sample quality and recall as coverage): each set's manifold is the union of
  balls around its points, the radius of a ball being the distance to the point's k-th nearest neighbour within
  its own set. Precision = fraction of generated samples inside the real manifold; recall = fraction of real
  samples inside the generated manifold.
- **Mode coverage** on mixtures with known modes: each sample is assigned to its nearest mean; a sample is of
  *high quality* when it lies within ``k_sigma`` standard deviations of that mean, and a mode is *hit* when it
  receives at least ``min_count`` high-quality samples.
- **Wasserstein distances**: the exact 1-D W₁ between two empirical (weighted) distributions as the integral
  over quantile levels of |F_u⁻¹(t) − F_v⁻¹(t)|, and the book's discrete Wasserstein distance as the linear
  program of UDL section 15.2.4 (minimize Σ_ij P_ij c_ij over transport plans P ≥ 0 whose rows sum to p and
  columns to q; scipy's HiGHS solver).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ModeCoverage",
    "PrecisionRecall",
    "TransportPlan",
    "clustering_accuracy",
    "discrete_wasserstein",
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "mode_coverage",
    "precision_recall",
    "wasserstein_1d",
    "within_class_diversity",
]


def _matrix(x: Tensor, name: str) -> Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D (N, D) tensor with N, D >= 1, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite")
    return x.detach().to("cpu", torch.float64)


def _psd_sqrt(a: Tensor) -> Tensor:
    """The symmetric square root of a symmetric PSD matrix by eigh (round-off negative eigenvalues -> 0)."""
    eigenvalues, vectors = torch.linalg.eigh((a + a.T) / 2)
    return (vectors * eigenvalues.clamp_min(0).sqrt()) @ vectors.T


def gaussian_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and covariance (D, D) (unbiased, N − 1) of (N, D) features, in float64."""
    x = _matrix(features, "features")
    if x.shape[0] < 2:
        raise ValueError("features need at least 2 rows for a covariance")
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    r"""Squared Fréchet (2-Wasserstein) distance between Norm[μ₁, Σ₁] and Norm[μ₂, Σ₂] (see the module docstring).

    Args:
        mu1, mu2: (D,) means.
        sigma1, sigma2: (D, D) symmetric positive semi-definite covariances.

    Returns:
        ‖μ₁ − μ₂‖² + tr[Σ₁ + Σ₂ − 2(Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}] >= 0, computed in float64.
    """
    m1, m2 = (torch.as_tensor(m).to(torch.float64).reshape(-1) for m in (mu1, mu2))
    s1, s2 = (torch.as_tensor(s).to(torch.float64) for s in (sigma1, sigma2))
    d = m1.numel()
    if m2.numel() != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"need means (D,) and covariances (D, D) of one D, got {tuple(m1.shape)}, {tuple(m2.shape)}, "
            f"{tuple(s1.shape)}, {tuple(s2.shape)}"
        )
    root1 = _psd_sqrt(s1)
    cross = torch.linalg.eigvalsh(root1 @ s2 @ root1).clamp_min(0).sqrt().sum()  # tr[(Σ₁^½ Σ₂ Σ₁^½)^½]
    value = (m1 - m2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * cross
    return max(float(value), 0.0)


def frechet_distance_from_features(a: Tensor, b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted (:func:`gaussian_statistics`) to features a (N, D), b (M, D)."""
    return frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b))


def within_class_diversity(features: Tensor, labels: Tensor) -> float:
    """Mean over classes of the mean pairwise Euclidean distance between the features (N, D) of one class.

    A diversity measure for conditional generation: samples of a class that collapse onto one image give 0.
    Classes with fewer than two members are skipped; at least one class needs two.
    """
    f = _matrix(features, "features")
    labels = torch.as_tensor(labels)
    if labels.shape != (len(f),):
        raise ValueError(f"labels must have shape ({len(f)},), got {tuple(labels.shape)}")
    spreads = [torch.pdist(f[labels == c]).mean() for c in labels.unique() if int((labels == c).sum()) > 1]
    if not spreads:
        raise ValueError("within_class_diversity needs a class with at least two members")
    return float(torch.stack(spreads).mean())


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision (generated samples on the real manifold) and recall (real samples on the generated one)."""

    precision: float
    recall: float


def _knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance of each row of x to its k-th nearest other row (the point itself excluded)."""
    dist = torch.cdist(x, x)  # (N, N), zero diagonal
    return dist.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself


def _inside(points: Tensor, centres: Tensor, radii: Tensor, chunk: int = 2048) -> Tensor:
    """(N,) bool: point n lies in at least one ball (centre_m, radius_m)."""
    return torch.cat(
        [(torch.cdist(p, centres) <= radii).any(dim=1) for p in points.split(chunk)]  # (n, M) -> (n,)
    )


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> PrecisionRecall:
    """k-NN precision and recall for distributions (Kynkäänniemi et al., 2019).

    Args:
        real: (N, D) samples (or features) of the data.
        fake: (M, D) generated samples (or features).
        k: the neighbour defining each ball's radius, 1 <= k < min(N, M).

    Returns:
        :class:`PrecisionRecall`: precision = mean over fake of [fake inside some real ball], recall = mean
        over real of [real inside some fake ball]; identical sets give 1 and 1.
    """
    r, f = _matrix(real, "real"), _matrix(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real and fake need the same dimension, got {r.shape[1]} and {f.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < min(len(r), len(f)):
        raise ValueError(f"k must be an integer in [1, {min(len(r), len(f)) - 1}], got {k!r}")
    precision = _inside(f, r, _knn_radii(r, k)).double().mean()
    recall = _inside(r, f, _knn_radii(f, k)).double().mean()
    return PrecisionRecall(float(precision), float(recall))


@dataclass(frozen=True)
class ModeCoverage:
    """How generated samples cover the K modes of a mixture."""

    modes_hit: int
    """modes with at least ``min_count`` high-quality samples"""
    n_modes: int
    """K, the number of modes of the mixture"""
    high_quality: float
    """fraction of samples within ``k_sigma`` standard deviations of their nearest mean"""
    counts: tuple[int, ...]
    """high-quality samples assigned to each mode"""


def mode_coverage(
    samples: Tensor, mixture: object, *, k_sigma: float = 3.0, min_count: int = 1
) -> ModeCoverage:
    """Modes hit and the fraction of high-quality samples of 2-D (or any-D) samples of a Gaussian mixture.

    Args:
        samples: (N, D) generated samples.
        mixture: a :class:`udl.data.GaussianMixture` (anything with ``nearest_component(x)`` returning the nearest
            mean's index and the distance to it in units of that component's σ, and ``n_components``).
        k_sigma: a sample within this many σ of its nearest mean is of high quality (> 0).
        min_count: high-quality samples a mode needs to count as hit (>= 1).
    """
    if not k_sigma > 0:
        raise ValueError(f"k_sigma must be > 0, got {k_sigma!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    component, distance = mixture.nearest_component(_matrix(samples, "samples"))  # type: ignore[attr-defined]
    good = distance <= k_sigma
    n_modes = int(mixture.n_components)  # type: ignore[attr-defined]
    counts = torch.bincount(component[good], minlength=n_modes)
    return ModeCoverage(
        modes_hit=int((counts >= min_count).sum()),
        n_modes=n_modes,
        high_quality=float(good.double().mean()),
        counts=tuple(int(c) for c in counts),
    )


def _weights(values: Tensor, weights: Tensor | None, name: str) -> Tensor:
    if weights is None:
        return torch.full_like(values, 1.0 / len(values))
    w = torch.as_tensor(weights).to(torch.float64).reshape(-1)
    if w.shape != values.shape or not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"{name} must be {len(values)} finite numbers >= 0, got shape {tuple(w.shape)}")
    if not float(w.sum()) > 0:
        raise ValueError(f"{name} must not all be 0")
    return w / w.sum()


def wasserstein_1d(
    u: Tensor, v: Tensor, u_weights: Tensor | None = None, v_weights: Tensor | None = None
) -> float:
    r"""Exact W₁ between two 1-D empirical distributions: ∫₀¹ |F_u⁻¹(t) − F_v⁻¹(t)| dt.

    Both quantile functions are step functions; between consecutive levels of the merged cumulative weights both
    are constant, so the integral is a finite sum (the same value as ``scipy.stats.wasserstein_distance``, which
    integrates |F_u − F_v| over x instead). For two equal-size unweighted sets it is mean |sort(u) − sort(v)|.

    Args:
        u, v: (N,) and (M,) values.
        u_weights, v_weights: non-negative weights (normalized to sum to 1); None gives every value weight 1/N.
    """
    a = torch.as_tensor(u).detach().to("cpu", torch.float64).reshape(-1)
    b = torch.as_tensor(v).detach().to("cpu", torch.float64).reshape(-1)
    if not len(a) or not len(b) or not bool(torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("u and v must be non-empty and finite")
    wa, wb = _weights(a, u_weights, "u_weights"), _weights(b, v_weights, "v_weights")
    a, ia = a.sort()
    b, ib = b.sort()
    ca, cb = wa[ia].cumsum(0), wb[ib].cumsum(0)
    ca[-1] = cb[-1] = 1.0  # exact top level, whatever the round-off
    levels = torch.cat([torch.zeros(1, dtype=torch.float64), ca, cb]).unique()  # sorted breakpoints in [0, 1]
    mid = (levels[:-1] + levels[1:]) / 2  # one level inside each interval
    qa = a[torch.searchsorted(ca, mid).clamp_max(len(a) - 1)]  # F_u⁻¹ on each interval
    qb = b[torch.searchsorted(cb, mid).clamp_max(len(b) - 1)]
    return float(((qa - qb).abs() * levels.diff()).sum())


@dataclass(frozen=True)
class TransportPlan:
    """The solution of the discrete optimal-transport linear program."""

    distance: float
    """Σ_ij P_ij c_ij at the optimum"""
    plan: Tensor
    """(N, M) the optimal transport plan P (rows sum to p, columns to q)"""


def discrete_wasserstein(
    p: Tensor | Sequence[float],
    q: Tensor | Sequence[float],
    cost: Tensor | None = None,
) -> TransportPlan:
    r"""The book's Wasserstein distance between discrete distributions as a linear program (UDL section 15.2.4).

    .. math:: D_w[p, q] = \min_{\mathbf{P}} \sum_{ij} P_{ij}\,c_{ij}
              \quad\text{s.t.}\quad \sum_j P_{ij} = p_i,\ \sum_i P_{ij} = q_j,\ P_{ij} \ge 0,

    with the book's cost c_ij = |i − j| (bins at 0, 1, 2, ...) unless ``cost`` is given; solved by
    ``scipy.optimize.linprog`` (HiGHS) over the N·M entries of P, flattened row-major.

    Args:
        p: (N,) probabilities (non-negative; normalized to sum to 1).
        q: (M,) probabilities (normalized likewise).
        cost: (N, M) transport costs c_ij >= 0; None for |i − j|.
    """
    from scipy.optimize import linprog

    pp = torch.as_tensor(p, dtype=torch.float64).reshape(-1)
    qq = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    pp, qq = _weights(pp, pp, "p"), _weights(qq, qq, "q")
    n, m = len(pp), len(qq)
    if cost is None:
        c = (torch.arange(n, dtype=torch.float64)[:, None] - torch.arange(m, dtype=torch.float64)).abs()
    else:
        c = torch.as_tensor(cost).to(torch.float64)
        if c.shape != (n, m) or not bool(torch.isfinite(c).all()) or bool((c < 0).any()):
            raise ValueError(f"cost must be a finite ({n}, {m}) matrix >= 0, got shape {tuple(c.shape)}")
    rows = np.kron(np.eye(n), np.ones((1, m)))  # (N, N·M): Σ_j P_ij
    cols = np.kron(np.ones((1, n)), np.eye(m))  # (M, N·M): Σ_i P_ij
    result = linprog(
        c.reshape(-1).numpy(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([pp.numpy(), qq.numpy()]),
        bounds=(0, None),
        method="highs",
    )
    if not result.success:  # pragma: no cover - a feasible bounded LP (P = p qᵀ is feasible)
        raise RuntimeError(f"linprog failed: {result.message}")
    plan = torch.as_tensor(result.x, dtype=torch.float64).reshape(n, m)
    return TransportPlan(float(result.fun), plan)


def clustering_accuracy(clusters: Tensor, labels: Tensor) -> float:
    """Accuracy of cluster assignments under the best one-to-one map from clusters to labels (the Hungarian
    algorithm on the contingency table; ``scipy.optimize.linear_sum_assignment``), as InfoGAN and unsupervised
    clustering papers score their categorical codes. Clusters left unmatched (more clusters than labels) count as
    errors.

    Args:
        clusters: (N,) integer cluster ids >= 0.
        labels: (N,) integer class labels >= 0.
    """
    from scipy.optimize import linear_sum_assignment

    c, y = torch.as_tensor(clusters).long().reshape(-1), torch.as_tensor(labels).long().reshape(-1)
    if c.shape != y.shape or not len(c) or int(c.min()) < 0 or int(y.min()) < 0:
        raise ValueError(
            f"clusters and labels must be equal-length non-negative integers, got {c.shape}, {y.shape}"
        )
    table = torch.zeros(int(c.max()) + 1, int(y.max()) + 1, dtype=torch.long)
    table.index_put_((c, y), torch.ones_like(c), accumulate=True)  # (clusters, labels) counts
    rows, cols = linear_sum_assignment(table.numpy(), maximize=True)
    return float(table[rows, cols].sum()) / len(c)
