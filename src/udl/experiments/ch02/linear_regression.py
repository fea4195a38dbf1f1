"""Linear regression (UDL chapter 2): gradient descent reaches the closed-form least-squares solution.

Protocol (UDL section 2.2, figures 2.2-2.4; notebook 2.1): twelve (x, y) points from a noisy line on [0, 2], the
model y = φ0 + φ1 x, the least-squares loss L[φ] = Σ (φ0 + φ1 x_i − y_i)² (eq. 2.5). The loss is a convex
quadratic, so its minimum solves the normal equations; full-batch gradient descent (eq. 6.3) from a poor start
with a step below the stability limit 1/λ_max(XᵀX) walks down the surface to that same point.

Everything this chapter states about the problem is an exact property of a convex quadratic, so the experiment
verifies it as checks rather than claims: the Hessian is the constant 2XᵀX and positive definite, the gradient
vanishes at the closed form, the distance to it shrinks at least by ρ = max_i |1 − 2αλ_i| < 1 per step (so GD
converges to it), and with α < 1/λ_max every step lowers the loss (the descent lemma:
L[φ − α∇L] ≤ L[φ] − α|∇L|²(1 − αλ_max)). A loss that becomes non-finite (a start like 1e308 overflows) stops
the run with a DivergenceError naming the step, instead of letting "every step lowers the loss" hold vacuously.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.checks import at_least
from udl.data import linear_data
from udl.errors import DivergenceError
from udl.functional import (
    fit_linear_regression,
    gradient_descent_linear_regression,
    least_squares_gradient,
    least_squares_loss,
    loss_surface,
)
from udl.report import Run
from udl.report.figures import integer_ticks, subplots

CHAPTER = 2
SECTION = "2.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Gradient descent on the least-squares loss reaches the closed-form solution (figs 2.2-2.4)"
CONTEXT = (
    "Chapter 2 fits a line y = φ0 + φ1x by minimizing the least-squares loss. The loss surface over (φ0, φ1) "
    "is a convex bowl with a single minimum that has a closed form; gradient descent reaches the same point by "
    "repeatedly stepping downhill."
)


@dataclass(frozen=True)
class Config:
    n: int = 12
    """number of training points (the book's example has 12)"""
    noise_std: float = 0.13
    """standard deviation of the Gaussian noise on y"""
    lr_fraction: float = 0.5
    """gradient-descent step as a fraction of the stability limit 1/λ_max(XᵀX) (must be in (0, 1))"""
    steps: int = 2000
    """gradient-descent steps"""
    phi_init: tuple[float, float] = (1.6, -0.6)
    """starting point (φ0, φ1) of gradient descent, away from the minimum"""
    tolerance: float = 1e-8
    """rounding slack of the convergence check: |φ_t − φ*| ≤ ρ^t |φ_0 − φ*| + tolerance at every step t"""
    seed: int = 0
    """seed for the data"""

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"n must be >= 2 to fit a line, got {self.n}")
        if not 0 < self.lr_fraction < 1:
            raise ValueError(f"lr_fraction must be in (0, 1), got {self.lr_fraction}")
        at_least(self, 1, "steps")
        at_least(self, 0, "noise_std")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance}")


PRESETS = {
    "smoke": Config(steps=100),
    "quick": Config(),
    "full": Config(steps=10000),
}


def largest_loss_increase(losses: torch.Tensor) -> float:
    """The largest rise L_{t+1} − L_t along a loss sequence, relative to L_0 (≤ 0 when every step lowers it).

    Raises:
        DivergenceError: at the first non-finite loss (an overflowed loss must not count as "no increase").
    """
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        step = int(bad[0])
        raise DivergenceError("training loss", step, float(losses[step]))
    if len(losses) < 2:
        return float("-inf")
    return float((losses[1:] - losses[:-1]).max() / losses[0].clamp_min(torch.finfo(losses.dtype).tiny))


def contraction_excess(distances: torch.Tensor, rate: float) -> float:
    """max_t (|φ_t − φ*| − ρ^t |φ_0 − φ*|): ≤ 0 when GD converges at least linearly with rate ρ."""
    t = torch.arange(len(distances), dtype=distances.dtype, device=distances.device)
    return float((distances - distances[0] * rate**t).max())


def run(cfg: Config, run: Run) -> None:
    dtype = torch.float64  # a tiny problem: float64 makes "reaches the closed form" a sharp statement
    generator = torch.Generator().manual_seed(cfg.seed)
    x, y = linear_data(cfg.n, noise_std=cfg.noise_std, generator=generator, dtype=dtype)
    x, y = x.squeeze(1).to(run.device), y.squeeze(1).to(run.device)  # (I,), (I,)

    # -- closed form (normal equations) and gradient descent -------------------------------------------------
    phi_star = fit_linear_regression(x, y)
    X = torch.stack([torch.ones_like(x), x], dim=1)  # (I, 2)
    eigenvalues = torch.linalg.eigvalsh(X.T @ X)
    lr = cfg.lr_fraction / float(eigenvalues.max())
    phi_init = torch.tensor(cfg.phi_init, dtype=dtype, device=run.device)
    phi_gd, path = gradient_descent_linear_regression(x, y, lr=lr, steps=cfg.steps, phi_init=phi_init)
    all_losses = torch.stack([least_squares_loss(p, x, y) for p in path])
    increase = largest_loss_increase(all_losses)  # raises DivergenceError at the first non-finite loss
    log_every = max(1, cfg.steps // 200)
    for i, loss in enumerate(all_losses[::log_every]):
        run.log(i * log_every, loss=float(loss), distance=float((path[i * log_every] - phi_star).norm()))

    # -- checks: exact properties of a convex quadratic ------------------------------------------------------
    hessian = torch.autograd.functional.hessian(lambda p: least_squares_loss(p, x, y), phi_star)
    run.check(
        "hessian-is-2xtx",
        "The least-squares loss is a quadratic: its Hessian (by autograd) is the constant matrix 2XᵀX",
        error=float((hessian - 2 * X.T @ X).abs().max() / (2 * X.T @ X).abs().max()),
        tolerance=1e-12,
    )
    run.check(
        "hessian-positive-definite",
        "The loss is a convex bowl with a single minimum: 2XᵀX is positive definite (error 0 when its smallest "
        "eigenvalue is > 0)",
        error=0.0 if float(eigenvalues.min()) > 0 else 1.0,
        tolerance=0.0,
        measured={"eigenvalues_of_2XtX": (2 * eigenvalues).tolist()},
        expected="smallest eigenvalue > 0",
    )
    grad_norm = float(least_squares_gradient(phi_star, x, y).norm())
    scale = float(least_squares_gradient(phi_init, x, y).norm()) or 1.0
    run.check(
        "gradient-vanishes-at-closed-form",
        "The gradient 2Xᵀ(Xφ − y) vanishes at the closed-form solution (relative to its norm at the start)",
        error=grad_norm / scale,
        tolerance=1e-12,
        measured={"gradient_norm_at_phi_star": grad_norm, "gradient_norm_at_start": scale},
    )
    rate = float((1 - 2 * lr * eigenvalues).abs().max())
    distances = (path - phi_star).norm(dim=1)
    distance = float(distances[-1])
    run.check(
        "gd-reaches-closed-form",
        "Gradient descent converges to the closed-form least-squares solution: |φ_t − φ*| ≤ ρ^t |φ_0 − φ*| at "
        "every step, ρ = max_i |1 − 2αλ_i(XᵀX)| < 1",
        error=max(0.0, contraction_excess(distances, rate)),
        tolerance=cfg.tolerance,
        measured={
            "rate": rate,
            "final_distance": distance,
            "bound_at_end": float(distances[0]) * rate**cfg.steps,
        },
        expected=f"excess over the bound ≤ {cfg.tolerance:.0e}",
    )
    run.check(
        "loss-decreases",
        "With a step below 1/λ_max(XᵀX), every gradient-descent step lowers the loss (the descent lemma)",
        error=max(0.0, increase),
        tolerance=1e-12,
        measured={"largest_relative_increase": increase, "steps": cfg.steps},
        expected="no rise beyond rounding (1e-12 of L_0)",
    )
    run.summary(
        phi0_closed_form=float(phi_star[0]),
        phi1_closed_form=float(phi_star[1]),
        phi0_gd=float(phi_gd[0]),
        phi1_gd=float(phi_gd[1]),
        distance=distance,
        lr=lr,
        final_loss=float(least_squares_loss(phi_gd, x, y)),
    )

    # -- figures: the data and fit (fig 2.2), the loss surface with the GD path (figs 2.3, 2.4) --------------
    xs, ys, p, ps = x.cpu(), y.cpu(), path.cpu(), phi_star.cpu()
    fig, axes = subplots(1, 3, width=4.4)
    ax = axes[0, 0]
    ax.scatter(xs, ys, color="#e07b39", zorder=3, label="data")
    grid = torch.linspace(0, 2, 50, dtype=dtype)
    ax.plot(grid, ps[0] + ps[1] * grid, label="closed form")
    ax.plot(grid, p[-1, 0] + p[-1, 1] * grid, "--", color="#2e9e6a", label="gradient descent")
    ax.set(xlabel="input x", ylabel="output y", title="Fit")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    lo = torch.minimum(p.min(0).values, ps) - 0.3
    hi = torch.maximum(p.max(0).values, ps) + 0.3
    g0 = torch.linspace(float(lo[0]), float(hi[0]), 200, dtype=dtype)
    g1 = torch.linspace(float(lo[1]), float(hi[1]), 200, dtype=dtype)
    surface = loss_surface(xs, ys, g0, g1)
    ax.contourf(g0, g1, torch.log(surface), levels=30, cmap="viridis")
    ax.plot(p[:, 0], p[:, 1], ".-", color="white", markersize=2, linewidth=0.8, label="GD path")
    ax.plot(p[0, 0], p[0, 1], "o", color="white")
    ax.plot(ps[0], ps[1], "*", color="#e07b39", markersize=12, label="closed form")
    ax.set(xlabel="intercept φ0", ylabel="slope φ1", title="log loss surface")
    ax.legend(fontsize=8)
    ax = axes[0, 2]
    ax.semilogy(range(len(all_losses)), (all_losses - all_losses.min()).cpu() + 1e-16)
    ax.set(xlabel="step", ylabel="L[φ_t] − min L", title="Convergence")
    integer_ticks(ax, "x")
    run.figure("linear-regression", fig)
