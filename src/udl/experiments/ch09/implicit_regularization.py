r"""Implicit regularization of gradient descent (UDL section 9.2.1, figure 9.3, notebook 9.2).

Protocol (notebook 9.2): the 2-parameter loss

.. math:: L[\phi_0, \phi_1] = 1 - \exp\!\Bigl(-\frac{\phi_1^2}{2\sigma(\phi_0)^2}\Bigr),
          \qquad \sigma(\phi_0) = \exp(-2\phi_0^2),

a curved valley whose minimum (φ1 = 0, any φ0) is narrowest (curvature 1/σ² = e^{4φ0²}) far from φ0 = 0. From
the notebook's start (−0.7, −0.75) we run gradient descent with step α for T/α steps (``udl.optim.
gradient_descent``; the notebook: 100 steps of 0.05) and integrate two gradient flows over the same time T with
RK4 (``udl.optim.gradient_flow``, steps of α / ``rk4_substeps``):

- the flow of L itself, ∂φ/∂t = −∂L/∂φ, the limit of infinitely small steps;
- the flow of the modified loss L̃ = L + (α/4)‖∂L/∂φ‖² (UDL eq. 9.8), whose gradient ∇L + (α/2)H∇L comes from
  double backpropagation (``udl.losses.modified_loss_gradient``).

Iterate k of GD is compared with both flows at time kα; the distances are measured numbers (logged per α).
Backward error analysis (the analysis behind eq. 9.8) predicts that GD tracks the modified flow to O(α²) but
departs from the plain flow by O(α). Claims (empirical, deterministic): GD is closer to the modified flow at every
α; the log-log slope of the largest distance against α is 1 ± ``slope_tolerance`` for the plain flow and
2 ± ``slope_tolerance`` for the modified flow; GD ends in a flatter part of the valley (smaller ∂²L/∂φ1²) than
the plain flow. Checks (exact identities, at every preset): on a quadratic L = ½φᵀAφ the double-backprop
gradient of the modified loss is Aφ + (α/2)A²φ and the RK4 flow of L is the closed form exp(−At)φ0; on the
valley, RK4's own error (estimated by halving its step) is below 1% of the GD-to-modified-flow distance.
Everything is float64 and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from matplotlib.ticker import NullFormatter
from torch import Tensor

from udl.checks import in_range
from udl.functional import loglog_slope, valley_curvature, valley_loss
from udl.losses import modified_loss_gradient
from udl.optim import gradient_descent, gradient_flow
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


def closer_to_modified_verdict(to_plain: Sequence[float], to_modified: Sequence[float]) -> bool:
    """GD is closer to the modified flow than to the plain flow at every α (mean distances, one per α)."""
    if len(to_plain) != len(to_modified) or not to_plain:
        raise ValueError("need one distance to each flow per α")
    return all(m < p for p, m in zip(to_plain, to_modified, strict=True))


def order_verdict(
    alphas: Sequence[float], distances: Sequence[float], order: float, tolerance: float
) -> bool:
    """The distance grows like α^order: the log-log slope of distance against α is within ``tolerance`` of it."""
    return abs(loglog_slope(alphas, distances) - order) <= tolerance


def flatter_verdict(curvature_gd: Sequence[float], curvature_plain: Sequence[float]) -> bool:
    """GD ends where the valley is less steep than where the plain flow ends, at every α."""
    if len(curvature_gd) != len(curvature_plain) or not curvature_gd:
        raise ValueError("need one curvature of each end point per α")
    return all(g < p for g, p in zip(curvature_gd, curvature_plain, strict=True))


def quadratic_identities(alpha: float, max_dt: float, horizon: float) -> tuple[float, float]:
    """Errors of two exact identities on L = ½φᵀAφ (A fixed, SPD, float64): the modified-loss gradient against
    Aφ + (α/2)A²φ (relative), and the RK4 flow of L against exp(−At)φ0 at t = horizon/4, horizon/2, horizon."""
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=F64)
    phi = torch.tensor([0.7, -1.3], dtype=F64)

    def quadratic(p: Tensor) -> Tensor:
        return 0.5 * p @ a @ p

    expected = a @ phi + 0.5 * alpha * a @ a @ phi
    grad_error = float((modified_loss_gradient(quadratic, phi, lr=alpha) - expected).abs().max())
    times = [horizon / 4, horizon / 2, horizon]
    flow = gradient_flow(partial(modified_loss_gradient, quadratic, lr=0.0), phi, times, max_dt=max_dt)
    closed = torch.stack([torch.linalg.matrix_exp(-a * t) @ phi for t in times])
    return grad_error / float(expected.abs().max()), float((flow - closed).abs().max())


MAX_STEPS = 10**6
"""Gradient-descent steps per α at most (horizon / α): the quick preset takes up to 400, full 800."""


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
    slope_tolerance: float = 0.3
    """how far a log-log slope may be from its predicted order (1 for the flow of L, 2 for the modified flow)"""
    figure_alpha: float = 0.05
    """the α whose three paths are drawn on the contour plot (one of alphas)"""
    seed: int = 0
    """unused: the experiment has no randomness (kept for the common contract)"""

    def __post_init__(self) -> None:
        in_range(self, closed_low=True, start=(-10, 10))
        if all(v == 0 for v in self.start):
            raise ValueError("start must not be the minimum (0, 0): gradient descent would not move")
        if len(self.alphas) < 2 or any(not math.isfinite(a) or a <= 0 for a in self.alphas):
            raise ValueError(
                f"alphas must be at least two positive step sizes (for a slope), got {self.alphas}"
            )
        if not 0 < self.slope_tolerance < 0.5:
            raise ValueError(
                f"slope_tolerance must be in (0, 0.5) (orders 1 and 2 apart), got {self.slope_tolerance}"
            )
        if len(set(self.alphas)) != len(self.alphas):
            raise ValueError(f"alphas must be distinct, got {self.alphas}")
        if self.figure_alpha not in self.alphas:
            raise ValueError(f"figure_alpha {self.figure_alpha} must be one of alphas {self.alphas}")
        if not math.isfinite(self.horizon) or self.horizon <= 0:
            raise ValueError(f"horizon must be > 0, got {self.horizon}")
        if any(self.horizon / a > MAX_STEPS for a in self.alphas):
            most = self.horizon / min(self.alphas)
            raise ValueError(f"horizon / α must be at most {MAX_STEPS} steps, got {most:.3g}")
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

    # -- checks: exact identities on a quadratic ---------------------------------------------------------------------
    grad_error, flow_error = quadratic_identities(max(alphas), min(alphas) / cfg.rk4_substeps, cfg.horizon)
    run.check(
        "modified-gradient-on-quadratic",
        "On L = ½φᵀAφ the double-backprop gradient of the modified loss (eq. 9.8) is Aφ + (α/2)A²φ (float64)",
        error=grad_error,
        tolerance=1e-12,
        expected="relative error ≤ 1e-12",
    )
    run.check(
        "rk4-flow-is-closed-form",
        "On L = ½φᵀAφ the RK4 gradient flow (at the step used here) equals exp(−At)φ0 (float64)",
        error=flow_error,
        tolerance=1e-6,
        expected="max abs error ≤ 1e-6",
    )
    fig_distance = next(r["mean_distance_modified"] for r in rows if r["alpha"] == cfg.figure_alpha)
    run.check(
        "rk4-error-below-distances",
        f"RK4's own error on the valley (halving its step, α = {cfg.figure_alpha:g}) is below 1% of the distance "
        "between GD and the modified flow, so the distances measure GD, not the integrator",
        error=rk4_error / fig_distance,
        tolerance=0.01,
        measured={"rk4_halving_estimate": rk4_error, "mean_distance_to_modified_flow": fig_distance},
        expected="ratio ≤ 0.01",
    )

    # -- claims (empirical statements of the eq. 9.8 analysis) --------------------------------------------------------
    to_plain = [r["mean_distance_plain"] for r in rows]
    to_modified = [r["mean_distance_modified"] for r in rows]
    run.claim(
        "gd-follows-modified-flow",
        "Gradient descent with step α stays closer to the gradient flow of the modified loss L + (α/4)‖∇L‖² "
        "than to the gradient flow of L itself (mean distance over the iterates), at every α",
        holds=closer_to_modified_verdict(to_plain, to_modified),
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
    tol = cfg.slope_tolerance
    for claim_id, key, order, name in (
        ("plain-flow-is-first-order", "max_distance_plain", 1.0, "the gradient flow of L"),
        ("modified-flow-is-second-order", "max_distance_modified", 2.0, "the flow of the modified loss"),
    ):
        distances = [r[key] for r in rows]
        run.claim(
            claim_id,
            f"The largest distance between gradient descent and {name} grows like α^{order:g} "
            f"(log-log slope over {len(alphas)} step sizes)",
            holds=order_verdict(alphas, distances, order, tol),
            measured={"slope": round(loglog_slope(alphas, distances), 3), "distances": distances},
            expected=f"slope {order:g} ± {tol:g}",
        )
    run.claim(
        "gd-ends-flatter",
        "The implicit regularizer favours flat regions: after the same time, gradient descent sits where the valley "
        "is less steep (smaller curvature ∂²L/∂φ1²) than the gradient flow of L does, at every α",
        holds=flatter_verdict(
            [r["curvature_end_gd"] for r in rows], [r["curvature_end_plain"] for r in rows]
        ),
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
