"""Linear regression (UDL chapter 2): gradient descent reaches the closed-form least-squares solution.

Protocol (UDL section 2.2, figures 2.2-2.4; notebook 2.1): twelve (x, y) points from a noisy line on [0, 2], the
model y = φ0 + φ1 x, the least-squares loss L[φ] = Σ (φ0 + φ1 x_i − y_i)² (eq. 2.5). The loss is a convex
quadratic, so its minimum solves the normal equations; full-batch gradient descent (eq. 6.3) from a poor start
with a step below the stability limit 1/λ_max(XᵀX) walks down the surface to that same point.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.data import linear_data
from udl.functional import (
    fit_linear_regression,
    gradient_descent_linear_regression,
    least_squares_gradient,
    least_squares_loss,
    loss_surface,
)
from udl.report import Run
from udl.report.figures import subplots

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
    """how close (Euclidean distance) GD must end to the closed-form solution"""
    seed: int = 0
    """seed for the data"""

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ValueError(f"n must be >= 2 to fit a line, got {self.n}")
        if not 0 < self.lr_fraction < 1:
            raise ValueError(f"lr_fraction must be in (0, 1), got {self.lr_fraction}")
        if self.steps < 1 or self.noise_std < 0 or self.tolerance <= 0:
            raise ValueError("need steps >= 1, noise_std >= 0 and tolerance > 0")


PRESETS = {
    "smoke": Config(steps=100),
    "quick": Config(),
    "full": Config(steps=10000),
}


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
    losses = torch.stack([least_squares_loss(p, x, y) for p in path[:: max(1, cfg.steps // 200)]])
    log_every = max(1, cfg.steps // 200)
    for i, loss in enumerate(losses):
        run.log(i * log_every, loss=float(loss), distance=float((path[i * log_every] - phi_star).norm()))

    # -- claims -----------------------------------------------------------------------------------------------
    distance = float((phi_gd - phi_star).norm())
    run.claim(
        "gd-reaches-closed-form",
        "Gradient descent converges to the closed-form least-squares solution",
        holds=distance < cfg.tolerance,
        measured=f"|φ_GD − φ*| = {distance:.2e} after {cfg.steps} steps",
        expected=f"< {cfg.tolerance:.0e}",
    )
    all_losses = torch.stack([least_squares_loss(p, x, y) for p in path])
    increases = int((all_losses[1:] > all_losses[:-1] + 1e-12 * all_losses[0]).sum())
    run.claim(
        "loss-decreases",
        "With a small enough step, every gradient-descent step lowers the loss",
        holds=increases == 0,
        measured=f"{increases} increases in {cfg.steps} steps",
        expected="0",
    )
    grad_norm = float(least_squares_gradient(phi_star, x, y).norm())
    run.claim(
        "convex-single-minimum",
        "The least-squares loss is a convex bowl: its Hessian 2XᵀX is positive definite and the gradient "
        "vanishes at the closed-form solution",
        holds=float(eigenvalues.min()) > 0 and grad_norm < 1e-9,
        measured={
            "min_eigenvalue_of_2XtX": 2 * float(eigenvalues.min()),
            "gradient_norm_at_phi_star": grad_norm,
        },
        expected="eigenvalue > 0, gradient < 1e-9",
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
    run.figure("linear-regression", fig)
