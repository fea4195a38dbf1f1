"""Explainability (UDL section 21.3, notebook 21.2's methods): individual conditional expectation and partial
dependence, LIME, saliency and integrated gradients.

Every method takes ``forward``: a callable from a batch of inputs (N, D) (or (N, *shape)) to outputs (N,) or
(N, C); ``target`` picks the output column (captum's convention: an int or one index per example).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "IG_METHODS",
    "IGMethod",
    "LocalSurrogate",
    "deletion_curve",
    "ice_curves",
    "integrated_gradients",
    "lime",
    "partial_dependence",
    "quadrature",
    "saliency",
]

Forward = Callable[[Tensor], Tensor]
IGMethod = Literal["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]
IG_METHODS: tuple[IGMethod, ...] = get_args(IGMethod)


def _select(out: Tensor, target: int | Tensor | None) -> Tensor:
    """The (N,) outputs named by ``target`` from (N,) or (N, C) outputs."""
    if out.ndim == 1:
        if target is not None:
            raise ValueError("target must be None for a forward with one output per example")
        return out
    if out.ndim != 2:
        raise ValueError(f"forward must return (N,) or (N, C) outputs, got shape {tuple(out.shape)}")
    if target is None:
        if out.shape[1] != 1:
            raise ValueError(f"target is needed for a forward with {out.shape[1]} outputs per example")
        return out[:, 0]
    index = torch.as_tensor(target, device=out.device).long().reshape(-1).expand(out.shape[0])
    return out.gather(1, index[:, None]).squeeze(1)


def saliency(
    forward: Forward, inputs: Tensor, target: int | Tensor | None = None, *, abs: bool = True
) -> Tensor:
    """The input gradient ∂f_target(x)/∂x of each example (Simonyan et al., 2014), its absolute value by default
    (captum's ``Saliency(forward).attribute(inputs, target, abs=True)``). Same shape as ``inputs``."""
    x = inputs.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(_select(forward(x), target).sum(), x)
    return grad.abs() if abs else grad


def quadrature(n_steps: int, method: IGMethod = "gausslegendre", dtype: torch.dtype = torch.float64) -> tuple:
    """Nodes α_k in [0, 1] and weights w_k of the rule ∫₀¹ g(α) dα ≈ Σ_k w_k g(α_k) (captum's rules: Gauss-Legendre,
    or a left / right / midpoint / trapezoid Riemann sum). As in captum, ``riemann_trapezoid`` puts its n nodes
    at k/(n − 1) but its weights at 1/n with the two ends halved, so they sum to 1 − 1/n: an O(1/n) rule; prefer
    ``riemann_middle`` (O(1/n²)) or ``gausslegendre``."""
    if method not in IG_METHODS:
        raise ValueError(f"method must be one of {', '.join(IG_METHODS)}, got {method!r}")
    if n_steps < (1 if method == "gausslegendre" else 2):
        raise ValueError(
            f"n_steps must be >= {1 if method == 'gausslegendre' else 2} for {method}, got {n_steps}"
        )
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)  # on [−1, 1]: scale to [0, 1]
        return torch.tensor(0.5 * (1 + nodes), dtype=dtype), torch.tensor(0.5 * weights, dtype=dtype)
    n = n_steps
    w = torch.full((n,), 1 / n, dtype=dtype)
    if method == "riemann_trapezoid":
        w[0], w[-1] = w[0] / 2, w[-1] / 2
        return torch.linspace(0, 1, n, dtype=dtype), w
    start = {"riemann_left": 0.0, "riemann_right": 1 / n, "riemann_middle": 1 / (2 * n)}[method]
    return start + torch.arange(n, dtype=dtype) / n, w


def integrated_gradients(
    forward: Forward,
    inputs: Tensor,
    baselines: Tensor | float | None = None,
    target: int | Tensor | None = None,
    *,
    n_steps: int = 50,
    method: IGMethod = "gausslegendre",
) -> Tensor:
    """Integrated gradients (Sundararajan et al., 2017): for each input coordinate i,

        IG_i(x) = (x_i − x'_i) ∫₀¹ ∂f(x' + α(x − x'))/∂x_i dα ≈ (x_i − x'_i) Σ_k w_k ∂f(x' + α_k(x − x'))/∂x_i,

    with the baseline x' (zeros by default) and the quadrature rule of :func:`quadrature` — captum's
    ``IntegratedGradients(forward).attribute(inputs, baselines, target, n_steps=..., method=...)``. Completeness:
    Σ_i IG_i(x) = f(x) − f(x') exactly for the integral, up to the rule's error for the sum. All steps of all
    examples are one batch of n_steps·N inputs.
    """
    x = inputs.detach()
    base = (
        torch.zeros_like(x) if baselines is None else torch.as_tensor(baselines, dtype=x.dtype).expand_as(x)
    )
    alphas, weights = quadrature(n_steps, method, x.dtype)
    shape = (n_steps, *[1] * x.ndim)
    path = (base + alphas.view(shape).to(x.device) * (x - base)).reshape(-1, *x.shape[1:])  # (S·N, ...)
    path.requires_grad_(True)
    t = None if target is None else torch.as_tensor(target).reshape(-1).expand(x.shape[0]).repeat(n_steps)
    (grad,) = torch.autograd.grad(_select(forward(path), t).sum(), path)
    grad = grad.view(n_steps, *x.shape)
    return (x - base) * (weights.view(shape).to(x.device) * grad).sum(0)


def ice_curves(
    forward: Forward, inputs: Tensor, feature: int, grid: Tensor, target: int | None = None
) -> Tensor:
    """Individual conditional expectation (Goldstein et al., 2015): f(x_i with feature j set to v) for every
    example i (N, D) and grid value v (G,): an (N, G) tensor. Their mean over examples is the partial dependence."""
    if inputs.ndim != 2 or not 0 <= feature < inputs.shape[1]:
        raise ValueError(f"need (N, D) inputs and feature in [0, D), got {tuple(inputs.shape)}, {feature}")
    n, g = inputs.shape[0], grid.numel()
    x = inputs.unsqueeze(1).repeat(1, g, 1)  # (N, G, D)
    x[:, :, feature] = grid.to(x)
    with torch.no_grad():
        return _select(forward(x.reshape(n * g, -1)), target).reshape(n, g)


def partial_dependence(
    forward: Forward, inputs: Tensor, feature: int, grid: Tensor, target: int | None = None
) -> Tensor:
    """Partial dependence (Friedman, 2001): PD_j(v) = (1/N) Σ_i f(x_i with x_ij = v), the mean ICE curve (G,)."""
    return ice_curves(forward, inputs, feature, grid, target).mean(0)


class LocalSurrogate:
    """LIME's sparse local linear surrogate of one prediction: g(z) = intercept + Σ_{j∈features} coef_j z_j on the
    interpretable representation z ∈ {0, 1}^D (1: the input's own value, 0: the baseline's)."""

    def __init__(self, features: Tensor, coef: Tensor, intercept: float, fidelity: float, dim: int) -> None:
        self.features, self.coef, self.intercept = features, coef, intercept
        self.fidelity = fidelity
        """weighted R² of the surrogate on the perturbations it was fitted to (LIME's ``score``)"""
        self.dim = dim

    def attributions(self) -> Tensor:
        """The surrogate's coefficient per input coordinate (0 outside the selected ``features``), (D,)."""
        out = torch.zeros(self.dim, dtype=self.coef.dtype)
        out[self.features] = self.coef
        return out

    def __call__(self, z: Tensor) -> Tensor:
        return self.intercept + z[:, self.features].to(self.coef) @ self.coef


def _weighted_ridge(z: Tensor, y: Tensor, w: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """argmin Σ w_i (y_i − b − z_i·c)² + α‖c‖² (the intercept unpenalized, as scikit-learn's Ridge)."""
    wn = w / w.sum()
    zm, ym = wn @ z, wn @ y
    zc, yc = z - zm, y - ym
    gram = zc.T @ (w[:, None] * zc) + alpha * torch.eye(z.shape[1], dtype=z.dtype)
    coef = torch.linalg.solve(gram, zc.T @ (w * yc))
    return coef, ym - zm @ coef


def lime(
    forward: Forward,
    x: Tensor,
    *,
    baseline: Tensor | float = 0.0,
    target: int | None = None,
    num_samples: int = 1000,
    num_features: int = 5,
    kernel_width: float = 0.25,
    alpha: float = 1.0,
    generator: torch.Generator | None = None,
) -> LocalSurrogate:
    """LIME (Ribeiro et al., 2016) for one input x (D,): draw ``num_samples`` binary masks z (each coordinate kept
    with probability ½; the first sample keeps all), evaluate f on x ⊙ z + baseline ⊙ (1 − z), weight each sample
    by the proximity kernel π(z) = exp(−d(z)² / σ²) with d the fraction of coordinates removed and σ
    ``kernel_width``, then pick the ``num_features`` coordinates with the largest |coefficient| of a weighted ridge
    fit on all of them (LIME's "highest weights") and refit the weighted ridge (penalty ``alpha``) on those.
    """
    if x.ndim != 1:
        raise ValueError(f"x must be one input (D,), got shape {tuple(x.shape)}")
    d = x.numel()
    if not 1 <= num_features <= d or num_samples < 2 or not kernel_width > 0 or alpha < 0:
        raise ValueError(
            f"need 1 <= num_features <= {d}, num_samples >= 2, kernel_width > 0 and alpha >= 0, got "
            f"{num_features}, {num_samples}, {kernel_width}, {alpha}"
        )
    z = (torch.rand(num_samples, d, generator=generator) < 0.5).to(torch.float64)
    z[0] = 1
    base = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    with torch.no_grad():
        y = _select(forward(x * z.to(x) + base * (1 - z.to(x))), target).to(torch.float64)
    w = torch.exp(-(((1 - z).mean(1)) ** 2) / kernel_width**2)
    coef, _ = _weighted_ridge(z, y, w, alpha)
    features = coef.abs().argsort(descending=True)[:num_features].sort().values
    coef, intercept = _weighted_ridge(z[:, features], y, w, alpha)
    fitted = intercept + z[:, features] @ coef
    ybar = (w @ y) / w.sum()
    r2 = 1 - float((w * (y - fitted) ** 2).sum() / (w * (y - ybar) ** 2).sum().clamp(min=1e-300))
    return LocalSurrogate(features, coef, float(intercept), r2, d)


def deletion_curve(
    forward: Forward,
    inputs: Tensor,
    attributions: Tensor,
    steps: Tensor,
    *,
    baseline: Tensor | float = 0.0,
    target: int | Tensor | None = None,
) -> Tensor:
    """f_target after replacing each example's top-k attributed coordinates by the baseline, for each k in
    ``steps``: an (N, K) tensor (Samek et al.'s deletion test; a faithful attribution makes it fall fast)."""
    n, d = inputs.shape
    rank = attributions.argsort(1, descending=True).argsort(1)  # (N, D): 0 = most attributed
    base = torch.as_tensor(baseline, dtype=inputs.dtype).expand_as(inputs)
    keep = rank[:, None, :] >= steps.view(1, -1, 1).to(rank)  # (N, K, D)
    x = torch.where(keep, inputs[:, None, :], base[:, None, :]).reshape(-1, d)
    t = (
        None
        if target is None
        else torch.as_tensor(target).reshape(-1).expand(n).repeat_interleave(steps.numel())
    )
    with torch.no_grad():
        return _select(forward(x), t).reshape(n, steps.numel())
