r"""Implicit regularization of gradient descent (UDL section 9.2.1, figure 9.3, notebook 9.2).

Protocol (notebook 9.2): the 2-parameter loss

.. math:: L[\phi_0, \phi_1] = 1 - \exp\!\Bigl(-\frac{\phi_1^2}{2\sigma(\phi_0)^2}\Bigr),
          \qquad \sigma(\phi_0) = \exp(-2\phi_0^2),

a curved valley whose minimum (φ1 = 0, any φ0) is narrowest (curvature 1/σ² = e^{4φ0²}) far from φ0 = 0. From
the notebook's start (−0.7, −0.75) we run gradient descent with step α for T/α steps (``udl.optim.
gradient_descent``; the notebook: 100 steps of 0.05) and integrate two gradient flows over the same time T with
RK4 (``udl.functional.gradient_flow``, steps of α / ``rk4_substeps``):

- the flow of L itself, ∂φ/∂t = −∂L/∂φ, the limit of infinitely small steps;
- the flow of the modified loss L̃ = L + (α/4)‖∂L/∂φ‖² (UDL eq. 9.8), whose gradient ∇L + (α/2)H∇L comes from
  double backpropagation (``udl.functional.modified_loss_gradient``).

Iterate k of GD is compared with both flows at time kα. Backward error analysis predicts that GD tracks the
modified flow to O(α²) but departs from the plain flow by O(α): we check that GD is closer to the modified flow
at every α, and measure the two distances' orders as log-log slopes against α (theory: 1 and 2). Because the
extra term penalizes steep regions, GD (like the modified flow) should end in a flatter part of the valley than
the plain flow: we compare the curvature ∂²L/∂φ1² at the end points. Everything is float64 and deterministic;
RK4's own error is estimated by halving its step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
from matplotlib.ticker import NullFormatter
from torch import Tensor

from udl.functional import gradient_flow, modified_loss_gradient
from udl.optim import gradient_descent
from udl.report import Run
from udl.report.figures import PALETTE, subplots

CHAPTER = 9
SECTION = "9.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Gradient descent with step α follows the gradient flow of L + (α/4)‖∇L‖², not that of L (fig. 9.3)"
CONTEXT = (
    "Section 9.2.1: gradient descent with a finite step does not follow the continuous gradient flow of its loss. "
    "To second order in the step α it follows the flow of a modified loss, L + (α/4)‖∂L/∂φ‖² (eq. 9.8): finite "
    "steps add an implicit regularizer that penalizes large gradients and so favours flatter regions. Figure 9.3 "
    "shows GD's path departing from the flow of L and matching the flow of the modified loss."
)

F64 = torch.float64


def valley_loss(phi: Tensor) -> Tensor:
    """Notebook 9.2's loss 1 − exp(−φ1² / (2σ²)), σ = exp(−2φ0²); ``phi`` is (2, ...) and the result (...)."""
    sigma = torch.exp(-2.0 * phi[0] ** 2)
    return 1.0 - torch.exp(-0.5 * phi[1] ** 2 / sigma**2)


def valley_curvature(phi: Tensor) -> float:
    """∂²L/∂φ1² at ``phi``: the valley's steepness across its floor (1/σ² = e^{4φ0²} on the floor φ1 = 0)."""
    hessian = torch.autograd.functional.hessian(valley_loss, phi)
    return float(hessian[1, 1])


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    lx = torch.tensor(x, dtype=F64).log()
    ly = torch.tensor(y, dtype=F64).log()
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


@dataclass(frozen=True)
class Config:
    alphas: tuple[float, ...] = (0.0125, 0.025, 0.05, 0.1)
    """gradient-descent step sizes α; each is compared with the flows of L and of its own modified loss"""
    horizon: float = 5.0
    """flow time T: gradient descent takes T/α steps (notebook 9.2: 100 steps of α = 0.05)"""
    start: tuple[float, float] = (-0.7, -0.75)
    """starting point (φ0, φ1) (notebook 9.2)"""
    rk4_substeps: int = 5
    """RK4 steps per gradient-descent step (RK4 step α / rk4_substeps)"""
    figure_alpha: float = 0.05
    """the α whose three paths are drawn on the contour plot (one of alphas)"""
    seed: int = 0
    """unused: the experiment has no randomness (kept for the common contract)"""

    def __post_init__(self) -> None:
        if not self.alphas or any(not math.isfinite(a) or a <= 0 for a in self.alphas):
            raise ValueError(f"alphas must be positive step sizes, got {self.alphas}")
        if len(set(self.alphas)) != len(self.alphas):
            raise ValueError(f"alphas must be distinct, got {self.alphas}")
        if self.figure_alpha not in self.alphas:
            raise ValueError(f"figure_alpha {self.figure_alpha} must be one of alphas {self.alphas}")
        if not math.isfinite(self.horizon) or self.horizon <= 0:
            raise ValueError(f"horizon must be > 0, got {self.horizon}")
        if any(abs(self.horizon / a - round(self.horizon / a)) > 1e-9 for a in self.alphas):
            raise ValueError(
                f"horizon {self.horizon} must be a whole number of steps of every α in {self.alphas}"
            )
        if len(self.start) != 2 or self.rk4_substeps < 1:
            raise ValueError("start must be a pair (φ0, φ1) and rk4_substeps >= 1")


PRESETS = {
    "smoke": Config(alphas=(0.05, 0.1), horizon=1.0, rk4_substeps=2),
    "quick": Config(),
    "full": Config(alphas=(0.00625, 0.0125, 0.025, 0.05, 0.1), rk4_substeps=10),
}


def run(cfg: Config, run: Run) -> None:
    start = torch.tensor(cfg.start, dtype=F64)
    alphas = sorted(cfg.alphas)

    # -- the flow of L, once, at every GD time of every α -----------------------------------------------------------
    grid = sorted({round(k * a, 12) for a in alphas for k in range(round(cfg.horizon / a) + 1)})
    index = {t: i for i, t in enumerate(grid)}
    plain_path = gradient_flow(
        partial(modified_loss_gradient, valley_loss, lr=0.0),
        start,
        grid,
        max_dt=min(alphas) / cfg.rk4_substeps,
    )

    # -- per α: gradient descent and the flow of its modified loss --------------------------------------------------
    results: dict[float, dict[str, Tensor]] = {}
    rows = []
    for alpha in alphas:
        steps = round(cfg.horizon / alpha)
        times = [round(k * alpha, 12) for k in range(steps + 1)]
        gd = gradient_descent(valley_loss, start, alpha, steps).path
        modified = gradient_flow(
            partial(modified_loss_gradient, valley_loss, lr=alpha),
            start,
            times,
            max_dt=alpha / cfg.rk4_substeps,
        )
        plain = plain_path[[index[t] for t in times]]
        d_plain = (gd - plain).norm(dim=1)
        d_modified = (gd - modified).norm(dim=1)
        results[alpha] = {"gd": gd, "plain": plain, "modified": modified}
        row = {
            "alpha": alpha,
            "steps": steps,
            "mean_distance_plain": float(d_plain.mean()),
            "mean_distance_modified": float(d_modified.mean()),
            "max_distance_plain": float(d_plain.max()),
            "max_distance_modified": float(d_modified.max()),
            "curvature_end_gd": valley_curvature(gd[-1]),
            "curvature_end_plain": valley_curvature(plain[-1]),
            "curvature_end_modified": valley_curvature(modified[-1]),
        }
        rows.append(row)
        run.log(len(rows), **row)

    # RK4's own error: the figure's modified flow again with half the step
    fig_alpha = cfg.figure_alpha
    fig_steps = round(cfg.horizon / fig_alpha)
    finer = gradient_flow(
        partial(modified_loss_gradient, valley_loss, lr=fig_alpha),
        start,
        [k * fig_alpha for k in range(fig_steps + 1)],
        max_dt=fig_alpha / (2 * cfg.rk4_substeps),
    )
    rk4_error = float((finer - results[fig_alpha]["modified"]).norm(dim=1).max())

    # -- claims -----------------------------------------------------------------------------------------------------
    closer = [r["mean_distance_modified"] < r["mean_distance_plain"] for r in rows]
    run.claim(
        "gd-follows-modified-flow",
        "Gradient descent with step α stays closer to the gradient flow of the modified loss L + (α/4)‖∇L‖² "
        "than to the gradient flow of L itself (mean distance over the iterates), at every α",
        holds=all(closer),
        measured={
            f"alpha={r['alpha']:g}": {
                "to_flow_of_L": round(r["mean_distance_plain"], 6),
                "to_flow_of_modified_L": round(r["mean_distance_modified"], 8),
                "ratio": round(r["mean_distance_plain"] / max(r["mean_distance_modified"], 1e-300), 1),
            }
            for r in rows
        },
        expected="distance to the modified flow < distance to the flow of L, for every α",
    )
    if len(rows) >= 2:
        slope_plain = loglog_slope(alphas, [r["max_distance_plain"] for r in rows])
        slope_modified = loglog_slope(alphas, [r["max_distance_modified"] for r in rows])
        run.claim(
            "modified-flow-is-second-order",
            "The plain flow is a first-order description of gradient descent (its distance to GD grows like α) "
            "and the modified flow a second-order one (like α²): log-log slopes of the largest distance vs α",
            holds=abs(slope_plain - 1.0) <= 0.3 and abs(slope_modified - 2.0) <= 0.3,
            measured={
                "slope_flow_of_L": round(slope_plain, 3),
                "slope_flow_of_modified_L": round(slope_modified, 3),
            },
            expected="slopes 1 ± 0.3 and 2 ± 0.3",
        )
    flatter = [r["curvature_end_gd"] < r["curvature_end_plain"] for r in rows]
    run.claim(
        "gd-ends-flatter",
        "The implicit regularizer favours flat regions: after the same time, gradient descent sits where the valley "
        "is less steep (smaller curvature ∂²L/∂φ1²) than the gradient flow of L does, at every α",
        holds=all(flatter),
        measured={
            f"alpha={r['alpha']:g}": {
                "gd": round(r["curvature_end_gd"], 4),
                "flow_of_L": round(r["curvature_end_plain"], 4),
                "flow_of_modified_L": round(r["curvature_end_modified"], 4),
            }
            for r in rows
        },
        expected="curvature at GD's end < curvature at the plain flow's end",
    )
    run.summary(
        rk4_error_estimate=rk4_error,
        **{
            f"ratio_alpha_{r['alpha']:g}": r["mean_distance_plain"] / r["mean_distance_modified"]
            for r in rows
        },
    )

    # -- figure (cf. fig. 9.3): the three paths on the loss surface; distances vs α ---------------------------------
    fig, axes = subplots(1, 2, width=5.0, height=4.4)
    ax = axes[0, 0]
    values = torch.linspace(-0.8, 0.5, 261, dtype=F64)
    p0, p1 = torch.meshgrid(values, values, indexing="xy")
    surface = valley_loss(torch.stack([p0, p1]))
    ax.contourf(p0.numpy(), p1.numpy(), surface.numpy(), 64, cmap="copper")
    ax.contour(p0.numpy(), p1.numpy(), surface.numpy(), 16, colors="#80808080", linewidths=0.6)
    paths = results[fig_alpha]
    ax.plot(*paths["plain"].T.numpy(), color=PALETTE[0], lw=2, label="gradient flow of L")
    ax.plot(
        *paths["modified"].T.numpy(), color="white", lw=2, ls="--", label="gradient flow of L + (α/4)‖∇L‖²"
    )
    ax.plot(*paths["gd"].T.numpy(), "o", color=PALETTE[3], ms=3, label=f"gradient descent, α = {fig_alpha:g}")
    ax.set(xlabel="φ0", ylabel="φ1", title=f"Loss surface and paths (T = {cfg.horizon:g})")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[0, 1]
    ax.loglog(alphas, [r["max_distance_plain"] for r in rows], "o-", label="GD vs flow of L")
    ax.loglog(alphas, [r["max_distance_modified"] for r in rows], "s-", label="GD vs flow of modified L")
    ref = rows[-1]
    ax.loglog(
        alphas, [ref["max_distance_plain"] * (a / alphas[-1]) for a in alphas], ":", color="gray", label="∝ α"
    )
    ax.loglog(
        alphas,
        [ref["max_distance_modified"] * (a / alphas[-1]) ** 2 for a in alphas],
        "--",
        color="gray",
        label="∝ α²",
    )
    ax.set(
        xlabel="step size α",
        ylabel="largest distance to GD's iterates",
        title="How far GD departs from each flow",
    )
    ax.set_xticks(alphas, [f"{a:g}" for a in alphas])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    run.figure("implicit-regularization", fig)
    # the modified loss itself, for the figure's α (cf. fig. 9.3c)
    fig, axes = subplots(1, 1, width=5.0, height=4.4)
    ax = axes[0, 0]
    grid_points = torch.stack([p0, p1]).requires_grad_(True)
    # the points are independent, so the gradient of the summed loss is every point's own gradient
    (grads,) = torch.autograd.grad(valley_loss(grid_points).sum(), grid_points)
    modified_surface = surface + fig_alpha / 4 * grads.square().sum(0)  # eq. 9.8 at every grid point
    ax.contourf(p0.numpy(), p1.numpy(), modified_surface.numpy(), 64, cmap="copper")
    ax.plot(*paths["modified"].T.numpy(), color="white", lw=2, ls="--", label="its gradient flow")
    ax.plot(
        *paths["gd"].T.numpy(), "o", color=PALETTE[3], ms=3, label=f"gradient descent on L, α = {fig_alpha:g}"
    )
    ax.set(xlabel="φ0", ylabel="φ1", title=f"Modified loss L + (α/4)‖∇L‖², α = {fig_alpha:g}")
    ax.legend(fontsize=7, loc="lower right")
    run.figure("modified-loss", fig)
