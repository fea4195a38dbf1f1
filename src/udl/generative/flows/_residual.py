r"""Invertible residual flows (UDL section 16.3.7; Behrmann et al., 2019, "Invertible residual networks").

z = x + g[x] is invertible when g is a contraction, Lip(g) = L < 1: for each z the map x ↦ z − g[x] is then a
contraction too, and by Banach's fixed-point theorem the iteration x_{k+1} = z − g[x_k] converges to the unique
inverse, geometrically: ‖x_k − x*‖ ≤ L^k ‖x_0 − x*‖ (and ≤ L^k/(1 − L) ‖x_1 − x_0‖, the a-priori bound).

g here is an MLP whose weight matrices are spectrally normalized, W̃ = W·min(1, c^{1/n}/σ_max(W)) with the
exact largest singular value (``torch.linalg.matrix_norm(ord=2)``; iResNet uses power iteration, an estimate),
between 1-Lipschitz activations (ELU), so Lip(g) ≤ Π σ_max(W̃_i) ≤ c < 1.

The log-determinant log|det(I + J_g)| = tr log(I + J_g) = Σ_{k≥1} (−1)^{k+1} tr(J_g^k)/k, a power series that
converges because ‖J_g‖₂ ≤ L < 1 (the terms shrink like L^k/k; truncated after n terms the error is at most
D Σ_{k>n} L^k/k). The traces come from Hutchinson's estimator tr(A) = E[vᵀAv] for any probe with E[vvᵀ] = I
(Rademacher here), with vᵀJ^k computed by k vector-Jacobian products: unbiased for the truncated series, O(n)
backward passes, no D × D matrix. For small D the exact log-determinant (the full Jacobian by D backward passes
and ``slogdet``) is cheaper and exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from udl.generative.flows._base import Flow
from udl.nn import seeded_linear

__all__ = [
    "ContractiveMLP",
    "FixedPointResult",
    "ResidualFlow",
    "fixed_point_inverse",
    "hutchinson_log_det",
    "jacobian",
    "power_series_log_det",
]


class ContractiveMLP(nn.Module):
    """g: R^D → R^D, spectrally normalized linear layers with ELU between them, Lip(g) ≤ ``lipschitz`` < 1.

    Args:
        features: D.
        hidden: units per hidden layer.
        layers: hidden layers (linear maps: layers + 1).
        lipschitz: c, the bound on Lip(g); each of the n linear maps has σ_max ≤ c^{1/n}.
        generator: initialization.
    """

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        layers: int = 2,
        lipschitz: float = 0.9,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if min(features, hidden, layers) < 1:
            raise ValueError(f"features, hidden and layers must be >= 1, got {features}, {hidden}, {layers}")
        if not 0 < lipschitz < 1:
            raise ValueError(
                f"lipschitz must be in (0, 1) for an invertible residual flow, got {lipschitz!r}"
            )
        sizes = [features] + [hidden] * layers + [features]
        self.linears: list[nn.Linear] = nn.ModuleList(  # type: ignore[assignment]
            seeded_linear(a, b, init="torch", generator=generator) for a, b in itertools.pairwise(sizes)
        )
        self.lipschitz = float(lipschitz)

    def weights(self) -> list[Tensor]:
        """The normalized matrices W̃_i = W_i · min(1, c^{1/n} / σ_max(W_i))."""
        per_layer = self.lipschitz ** (1 / len(self.linears))
        out = []
        for layer in self.linears:
            sigma = torch.linalg.matrix_norm(layer.weight, ord=2)
            out.append(layer.weight * torch.clamp(per_layer / sigma, max=1.0))
        return out

    def lipschitz_bound(self) -> float:
        """Π σ_max(W̃_i): a bound on Lip(g) (ELU is 1-Lipschitz), at most ``lipschitz``."""
        with torch.no_grad():
            return math.prod(float(torch.linalg.matrix_norm(w, ord=2)) for w in self.weights())

    def forward(self, x: Tensor) -> Tensor:
        weights = self.weights()
        h = x
        for i, (w, layer) in enumerate(zip(weights, self.linears, strict=True)):
            h = nn.functional.linear(h, w, layer.bias)
            if i < len(weights) - 1:
                h = nn.functional.elu(h)
        return h


@dataclass(frozen=True)
class FixedPointResult:
    """The inverse x, the iterations run, and ‖x_{k+1} − x_k‖_∞ (max over the batch) after each of them."""

    x: Tensor
    iterations: int
    steps: list[float]


def fixed_point_inverse(
    g: Callable[[Tensor], Tensor], z: Tensor, *, tol: float = 1e-10, max_iter: int = 200
) -> FixedPointResult:
    """Solve x + g[x] = z by x_{k+1} = z − g[x_k] from x_0 = z until ‖x_{k+1} − x_k‖_∞ ≤ tol.

    With Lip(g) = L < 1 the error after stopping is at most L·tol/(1 − L). Raises RuntimeError if ``max_iter``
    iterations do not reach ``tol`` (g not contractive enough).
    """
    if not tol > 0 or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter >= 1, got tol={tol!r}, max_iter={max_iter!r}")
    x = z
    steps: list[float] = []
    for k in range(1, max_iter + 1):
        nxt = z - g(x)
        steps.append(float((nxt - x).detach().abs().max()))
        x = nxt
        if steps[-1] <= tol:
            return FixedPointResult(x, k, steps)
    raise RuntimeError(f"fixed-point inverse did not reach tol={tol:g} in {max_iter} iterations")


def jacobian(
    g: Callable[[Tensor], Tensor], x: Tensor, *, create_graph: bool = False
) -> tuple[Tensor, Tensor]:
    """g[x] (N, D) and its per-sample Jacobians ∂g/∂x (N, D, D), by D backward passes over the batch (samples
    are independent, so row d of every sample's Jacobian is the gradient of Σ_n g[x]_{n,d})."""
    with torch.enable_grad():
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        gx = g(x)
        rows = [
            torch.autograd.grad(gx[:, d].sum(), x, create_graph=create_graph, retain_graph=True)[0]
            for d in range(gx.shape[1])
        ]
    return gx, torch.stack(rows, dim=1)


def power_series_log_det(jac: Tensor, terms: int) -> Tensor:
    """Σ_{k=1}^{n} (−1)^{k+1} tr(J^k)/k from the full matrices (N, D, D): the truncated series exactly."""
    if terms < 1:
        raise ValueError(f"terms must be >= 1, got {terms}")
    total = jac.new_zeros(jac.shape[0])
    power = jac
    for k in range(1, terms + 1):
        total = total + (-1) ** (k + 1) * torch.diagonal(power, dim1=-2, dim2=-1).sum(-1) / k
        power = power @ jac
    return total


def hutchinson_log_det(
    g: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    terms: int = 10,
    probes: int = 1,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
    per_probe: bool = False,
) -> tuple[Tensor, Tensor]:
    """g[x] and the Hutchinson estimate of Σ_{k=1}^{n} (−1)^{k+1} tr(J_g^k)/k, averaged over ``probes``
    Rademacher probes v (each term vᵀJ^k v by k vector-Jacobian products).

    Returns g[x] (N, D) and the estimate (N,), or every probe's estimate (probes, N) with ``per_probe``.
    """
    if terms < 1 or probes < 1:
        raise ValueError(f"terms and probes must be >= 1, got terms={terms}, probes={probes}")
    n = x.shape[0]
    with torch.enable_grad():
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        xs = x.repeat(probes, *([1] * (x.ndim - 1)))  # (probes·N, D): every probe in one batch
        gxs = g(xs)
        v = torch.randint(0, 2, xs.shape, generator=generator).to(xs) * 2 - 1  # Rademacher, CPU draws
        w, total = v, xs.new_zeros(xs.shape[0])
        for k in range(1, terms + 1):
            w = torch.autograd.grad(gxs, xs, grad_outputs=w, create_graph=create_graph, retain_graph=True)[0]
            total = total + (-1) ** (k + 1) * (w * v).sum(1) / k  # vᵀ J^k v / k
    stacked = total.reshape(probes, n)
    return gxs[:n], stacked if per_probe else stacked.mean(0)


class ResidualFlow(Flow):
    """z = x + g[x] with Lip(g) < 1 (UDL section 16.3.7): forward exact, inverse by fixed-point iteration.

    Args:
        g: the residual branch, e.g. :class:`ContractiveMLP` (it must be a contraction).
        log_det: "exact" (full Jacobian and slogdet; small D) or "series" (the power series truncated after
            ``terms`` terms, traces by Hutchinson with ``probes`` probes drawn from ``generator``).
        terms, probes, generator: of the series estimator.
        tol, max_iter: of the fixed-point inverse (``tol`` None: 1e-10, or 50 machine epsilons of the largest
            |z| + 1 where that is larger, as in float32).
    """

    def __init__(
        self,
        g: nn.Module,
        *,
        log_det: Literal["exact", "series"] = "exact",
        terms: int = 10,
        probes: int = 1,
        generator: torch.Generator | None = None,
        tol: float | None = None,
        max_iter: int = 200,
    ) -> None:
        super().__init__()
        if log_det not in ("exact", "series"):
            raise ValueError(f"log_det must be 'exact' or 'series', got {log_det!r}")
        self.g, self.log_det_mode = g, log_det
        self.terms, self.probes, self.generator = terms, probes, generator
        self.tol, self.max_iter = tol, max_iter

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        graph = torch.is_grad_enabled()
        if self.log_det_mode == "exact":
            gx, jac = jacobian(self.g, x, create_graph=graph)
            eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
            log_det = torch.linalg.slogdet(eye + jac).logabsdet
        else:
            gx, log_det = hutchinson_log_det(
                self.g, x, terms=self.terms, probes=self.probes, generator=self.generator, create_graph=graph
            )
        if not graph:
            gx, log_det = gx.detach(), log_det.detach()
        return x + gx, log_det

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        # differentiable through the unrolled iterations (their derivative converges at the same rate)
        tol = self.tol
        if tol is None:
            tol = max(1e-10, 50 * torch.finfo(z.dtype).eps * (1 + float(z.detach().abs().max())))
        x = fixed_point_inverse(self.g, z, tol=tol, max_iter=self.max_iter).x
        _, log_det = self.forward(x)
        return x, -log_det
