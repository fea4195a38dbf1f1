r"""Toy densities for the generative-model chapters (UDL chapters 14-18), made locally with exact densities.

Generative models are easiest to judge where the true density is known. :class:`GaussianMixture` is a mixture of
isotropic Gaussians in any dimension,

    Pr(x) = Σ_k λ_k Norm_x[μ_k, σ_k² I],    λ_k ≥ 0, Σ_k λ_k = 1,

with exact sampling, an exact log-density (a log-sum-exp over components: the marginalization over a discrete latent
variable z = k of the mixture-of-Gaussians example, UDL section 17.1), the component posteriors
Pr(z = k | x) and the mean and covariance in closed form.
The factories build the usual test beds:

- :func:`mixture_1d`: a 1-D mixture of a few Gaussians (the kind of toy density the book draws in figs. 14.1,
  16.1 and 18.1);
- :func:`ring_of_gaussians`: K modes evenly spaced on a circle (the classic mode-collapse test for GANs, UDL
  section 15.3.1);
- :func:`grid_of_gaussians`: a side × side grid of modes;
- :func:`two_moons` and :func:`concentric_rings`: two sample sets without a closed-form density (shape tests for
  flows, UDL chapter 16), with their component labels.

Randomness comes only from the ``generator`` argument (a CPU ``torch.Generator``; ``None`` uses torch's global
RNG), so the same seed gives the same samples on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "GaussianMixture",
    "concentric_rings",
    "grid_of_gaussians",
    "mixture_1d",
    "ring_of_gaussians",
    "two_moons",
]


def _positive_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class GaussianMixture:
    """A mixture of K isotropic Gaussians in D dimensions: Pr(x) = Σ_k λ_k Norm_x[μ_k, σ_k² I].

    Args:
        means: (K, D) component means μ_k.
        stds: (K,) standard deviations σ_k > 0 (one number: the same for every component).
        weights: (K,) mixing weights λ_k ≥ 0, normalized to sum to 1 (``None``: uniform).
        dtype: floating dtype of the parameters and of everything computed (default float64: exact references).
    """

    def __init__(
        self,
        means: Tensor | Sequence[Sequence[float]],
        stds: Tensor | Sequence[float] | float,
        weights: Tensor | Sequence[float] | None = None,
        *,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        mu = torch.as_tensor(means, dtype=dtype)
        if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
            raise ValueError(f"means must have shape (K, D) with K, D >= 1, got {tuple(mu.shape)}")
        k = mu.shape[0]
        sigma = torch.as_tensor(stds, dtype=dtype)
        sigma = sigma.expand(k).clone() if sigma.ndim == 0 else sigma
        if sigma.shape != (k,) or not bool(torch.isfinite(sigma).all()) or bool((sigma <= 0).any()):
            raise ValueError(f"stds must be {k} finite numbers > 0 (or one), got {stds!r}")
        if weights is None:
            lam = torch.full((k,), 1.0 / k, dtype=dtype)
        else:
            lam = torch.as_tensor(weights, dtype=dtype)
            if lam.shape != (k,) or not bool(torch.isfinite(lam).all()) or bool((lam < 0).any()):
                raise ValueError(f"weights must be {k} finite numbers >= 0, got {weights!r}")
            if not float(lam.sum()) > 0:
                raise ValueError("weights must not all be 0")
            lam = lam / lam.sum()
        if not bool(torch.isfinite(mu).all()):
            raise ValueError("means must be finite")
        self.means, self.stds, self.weights = mu, sigma, lam

    @property
    def dim(self) -> int:
        """D, the dimension of x."""
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        """K, the number of components (modes)."""
        return self.means.shape[0]

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, return_components: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """n samples (n, D): ancestral sampling, z ~ Cat[λ], then x = μ_z + σ_z ε with ε ~ Norm[0, I].

        With ``return_components`` also the (n,) long tensor of the components z that drew them.
        """
        _positive_count("n", n)
        z = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        x = self.means[z] + self.stds[z, None] * eps
        return (x, z) if return_components else x

    def _check_points(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}), got {tuple(x.shape)}")
        return x.to(self.means.dtype)

    def component_log_prob(self, x: Tensor) -> Tensor:
        """(N, K): log λ_k + log Norm_x[μ_k, σ_k² I] for every point and component."""
        x = self._check_points(x)
        sq = (x[:, None, :] - self.means[None]).pow(2).sum(-1)  # (N, K)
        var = self.stds.pow(2)
        log_norm = -0.5 * sq / var - 0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.log(self.weights) + log_norm

    def log_prob(self, x: Tensor) -> Tensor:
        """(N,): the exact log-density log Σ_k λ_k Norm_x[μ_k, σ_k² I] (log-sum-exp over k)."""
        return torch.logsumexp(self.component_log_prob(x), dim=1)

    def posterior(self, x: Tensor) -> Tensor:
        """(N, K): Pr(z = k | x) = λ_k Norm_x[μ_k, σ_k² I] / Pr(x), the exact posterior over z (Bayes' rule)."""
        return torch.softmax(self.component_log_prob(x), dim=1)

    def nearest_component(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """For each point, the closest mean and the distance to it in units of that component's σ: ((N,), (N,))."""
        x = self._check_points(x)
        dist = torch.cdist(x, self.means)  # (N, K)
        d, k = dist.min(dim=1)
        return k, d / self.stds[k]

    def mean(self) -> Tensor:
        """(D,): E[x] = Σ_k λ_k μ_k."""
        return self.weights @ self.means

    def covariance(self) -> Tensor:
        """(D, D): Cov[x] = Σ_k λ_k (σ_k² I + μ_k μ_kᵀ) − E[x] E[x]ᵀ (the law of total covariance)."""
        m = self.mean()
        second = (self.weights[:, None, None] * (self.means[:, :, None] * self.means[:, None, :])).sum(0)
        eye = torch.eye(self.dim, dtype=self.means.dtype)
        return second + float(self.weights @ self.stds.pow(2)) * eye - torch.outer(m, m)

    def __repr__(self) -> str:
        return f"GaussianMixture(components={self.n_components}, dim={self.dim})"


def mixture_1d(
    means: Sequence[float] = (-1.5, -0.5, 0.6, 1.8),
    stds: Sequence[float] | float = (0.25, 0.2, 0.3, 0.15),
    weights: Sequence[float] | None = (0.25, 0.2, 0.35, 0.2),
) -> GaussianMixture:
    """A 1-D mixture of Gaussians: by default four unequal, well-separated components (a multimodal density of
    the kind the book draws in figs. 14.1, 16.1 and 18.1; not the book's exact numbers, which it does not give)."""
    return GaussianMixture([[float(m)] for m in means], stds, weights)


def ring_of_gaussians(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """``modes`` equally weighted 2-D Gaussians with means on a circle of ``radius``: μ_k = r(cos 2πk/K, sin 2πk/K)."""
    _positive_count("modes", modes)
    _positive("radius", radius)
    _positive("std", std)
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return GaussianMixture(radius * torch.stack([angle.cos(), angle.sin()], dim=1), std)


def grid_of_gaussians(side: int = 5, spacing: float = 1.0, std: float = 0.05) -> GaussianMixture:
    """side² equally weighted 2-D Gaussians on a centred square grid with ``spacing`` between neighbours."""
    _positive_count("side", side)
    _positive("spacing", spacing)
    _positive("std", std)
    axis = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    return GaussianMixture(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), std)


def two_moons(
    n: int, noise: float = 0.05, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """n points (n, 2) on two interleaved half circles plus Gaussian noise of s.d. ``noise``, and their moon (n,).

    Upper moon: (cos t, sin t), t ~ U[0, π]; lower moon: (1 − cos t, ½ − sin t) (scikit-learn's ``make_moons``
    geometry). The first ⌈n/2⌉ points belong to moon 0, the rest to moon 1.
    """
    _positive_count("n", n)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    label = (torch.arange(n) >= (n + 1) // 2).long()
    t = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    upper = torch.stack([t.cos(), t.sin()], dim=1)
    lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], dim=1)
    x = torch.where(label[:, None] == 0, upper, lower)
    return x + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64), label


def concentric_rings(
    n: int,
    radii: Sequence[float] = (1.0, 2.0),
    noise: float = 0.05,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """n points (n, 2) on circles of the given ``radii`` (chosen uniformly) at uniform angles, plus Gaussian noise
    of s.d. ``noise``, and the ring of each point (n,)."""
    _positive_count("n", n)
    if not radii:
        raise ValueError("radii must name at least one radius")
    for radius in radii:
        _positive("radii", radius)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    ring = torch.randint(len(radii), (n,), generator=generator)
    angle = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    r = torch.tensor([float(v) for v in radii], dtype=torch.float64)[ring]
    x = r[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    return x + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64), ring
