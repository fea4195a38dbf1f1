"""Loss functions (UDL chapter 5): the maximum-likelihood recipe, distribution by distribution.

Protocol: five small problems, each fitted by minimizing a negative log-likelihood from ``udl.losses`` with
full-batch Adam (float64), each checking one statement of chapter 5.

1. *Cross-entropy* (section 5.7): for a categorical model q and data with empirical label distribution p̂, the mean
   NLL equals KL(p̂ ‖ q) + H(p̂) — so minimizing it minimizes the KL divergence. Checked for random q.
2. *Robust regression* (section 5.3 and problem 5.x): a line fitted to data with a fraction of gross outliers,
   by the Gaussian NLL (least squares) and by the Laplace NLL (least absolute deviations).
3. *Angles* (problem 5.x, von Mises): a direction that turns with x and wraps around ±π; a linear model of the
   mean angle fitted by the von Mises NLL and, naively, by the Gaussian NLL on the wrapped angle.
4. *Heteroscedastic regression* (section 5.3.2, fig. 5.6): a network predicts both the mean and the standard
   deviation of y | x; the noise grows with x.
5. *Rankings* (the recipe applied to orderings): item scores fitted to rankings sampled from a Plackett-Luce model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.losses import categorical_nll, gaussian_nll, laplace_nll, plackett_luce_nll, von_mises_nll
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots

CHAPTER = 5
SECTION = "5.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Cross-entropy = KL + entropy; Laplace is robust; von Mises wraps; predicted σ tracks noise; PL ranks"
)
CONTEXT = (
    "Chapter 5 derives every loss from one recipe: choose a distribution over the target, let the model predict "
    "its parameters and minimize the negative log-likelihood. The distribution encodes what we know about the "
    "target: heavy tails for outliers, periodicity for angles, input-dependent noise, orderings."
)

F64 = torch.float64


@dataclass(frozen=True)
class Config:
    points: int = 200
    """data points in each regression problem"""
    hetero_points: int = 2000
    """data points of the heteroscedastic problem: enough that the network cannot fit the noise itself (with a
    few hundred, the predicted σ collapses onto individual points, the NLL's known overfitting mode)"""
    outlier_fraction: float = 0.1
    """fraction of the robust-regression targets replaced by gross outliers"""
    steps: int = 2000
    """full-batch Adam steps per fit"""
    items: int = 8
    """items in the ranking problem"""
    rankings: int = 2000
    """observed rankings"""
    seed: int = 0
    """seed for all data and initializations"""

    def __post_init__(self) -> None:
        if (
            self.points < 10
            or self.hetero_points < 10
            or self.steps < 1
            or self.items < 2
            or self.rankings < 1
        ):
            raise ValueError("need points >= 10, steps >= 1, items >= 2 and rankings >= 1")
        if not 0 <= self.outlier_fraction < 0.5:
            raise ValueError(f"outlier_fraction must be in [0, 0.5), got {self.outlier_fraction}")


PRESETS = {
    "smoke": Config(points=50, hetero_points=100, steps=100, items=4, rankings=100),
    "quick": Config(),
    "full": Config(points=1000, hetero_points=10000, steps=5000, items=12, rankings=20000),
}


def minimize(loss: Callable[[], Tensor], params: list[Tensor], steps: int, lr: float = 0.05) -> float:
    """Full-batch Adam with a cosine-decayed learning rate; returns the final loss."""
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
        sched.step()
    return float(loss().detach())


def minimize_smooth(loss: Callable[[], Tensor], params: list[Tensor], iterations: int = 100) -> float:
    """L-BFGS with a strong-Wolfe line search, for the smooth problems; returns the final loss."""
    opt = torch.optim.LBFGS(params, max_iter=iterations, line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def closure() -> Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    opt.step(closure)
    return float(loss().detach())


def wrap(angle: Tensor) -> Tensor:
    """Map angles to (−π, π]."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    n = cfg.points
    fig, axes = subplots(1, 4, width=4.0)

    # -- 1. cross-entropy = KL + entropy ---------------------------------------------------------------------
    labels = torch.randint(5, (n,), generator=g)
    logits = torch.randn(5, generator=g, dtype=F64)
    empirical = torch.bincount(labels, minlength=5).to(F64) / n
    q = torch.softmax(logits, 0)
    cross_entropy = float(categorical_nll(logits.expand(n, 5), labels))
    support = empirical > 0
    kl = float((empirical[support] * (empirical[support] / q[support]).log()).sum())
    entropy = float(-(empirical[support] * empirical[support].log()).sum())
    run.claim(
        "cross-entropy-is-kl-plus-entropy",
        "The categorical negative log-likelihood equals the KL divergence from the empirical distribution plus "
        "that distribution's entropy",
        holds=abs(cross_entropy - (kl + entropy)) < 1e-12,
        measured={"cross_entropy": cross_entropy, "kl_plus_entropy": kl + entropy},
        expected="equal to 1e-12",
    )

    # -- 2. robust regression ----------------------------------------------------------------------------------
    x = torch.rand(n, generator=g, dtype=F64) * 2 - 1
    true_line = torch.tensor([0.5, 1.5], dtype=F64)
    y = true_line[0] + true_line[1] * x + 0.1 * torch.randn(n, generator=g, dtype=F64)
    outliers = torch.randperm(n, generator=g)[: int(cfg.outlier_fraction * n)]
    y[outliers] = 8.0 + 2.0 * torch.rand(len(outliers), generator=g, dtype=F64)  # gross errors, all above
    fits = {}
    for name, nll in (("gaussian", gaussian_nll), ("laplace", laplace_nll)):
        phi = torch.zeros(2, dtype=F64, requires_grad=True)
        line_loss = lambda phi=phi, nll=nll: nll(phi[0] + phi[1] * x, 1.0, y)  # noqa: E731
        if name == "gaussian":
            minimize_smooth(line_loss, [phi])
        else:  # |residual| is not differentiable at 0: Adam, not L-BFGS
            minimize(line_loss, [phi], cfg.steps)
        fits[name] = phi.detach()
    error = {k: float((v - true_line).norm()) for k, v in fits.items()}
    run.claim(
        "laplace-is-robust",
        f"With {cfg.outlier_fraction:.0%} gross outliers, the Laplace fit stays close to the true line while the "
        "Gaussian (least-squares) fit is pulled away",
        holds=error["laplace"] < 0.1 and error["gaussian"] > 5 * error["laplace"],
        measured={"laplace_error": error["laplace"], "gaussian_error": error["gaussian"]},
        expected="laplace < 0.1 and gaussian > 5x laplace",
    )
    ax = axes[0, 0]
    ax.scatter(x, y, s=6, color="#6b7280")
    grid = torch.linspace(-1, 1, 50, dtype=F64)
    for name, phi in fits.items():
        ax.plot(grid, phi[0] + phi[1] * grid, label=f"{name} NLL")
    ax.plot(grid, true_line[0] + true_line[1] * grid, "k:", label="true line")
    ax.set(xlabel="x", ylabel="y", title="Outliers: Gaussian vs Laplace")
    ax.legend(fontsize=7)

    # -- 3. angles across the ±π wrap ----------------------------------------------------------------------
    xa = torch.rand(n, generator=g, dtype=F64)
    true_angle = 1.0 + 4.0 * xa  # turns from 1 to 5 rad: crosses +π at x ≈ 0.54, where the data wrap to −π
    ya = wrap(true_angle + 0.2 * torch.randn(n, generator=g, dtype=F64))
    circular_error = {}
    angle_fits = {}
    for name in ("von_mises", "gaussian"):
        best: tuple[float, Tensor] | None = None
        slopes = (-6.0, -3.0, 0.0, 3.0, 6.0) if name == "von_mises" else (0.0,)  # the Gaussian one is convex
        for slope in slopes:  # restarts: the von Mises likelihood is periodic in φ, with many local minima
            phi = torch.tensor([0.0, slope], dtype=F64, requires_grad=True)
            if name == "von_mises":
                loss = lambda phi=phi: von_mises_nll(phi[0] + phi[1] * xa, 25.0, ya)  # noqa: E731
            else:
                loss = lambda phi=phi: gaussian_nll(phi[0] + phi[1] * xa, 0.2, ya)  # noqa: E731
            final = minimize_smooth(loss, [phi])
            if best is None or final < best[0]:
                best = (final, phi.detach())
        assert best is not None
        angle_fits[name] = best[1]
        predicted = best[1][0] + best[1][1] * xa
        circular_error[name] = float(wrap(predicted - true_angle).abs().mean())
    run.claim(
        "von-mises-wraps",
        "The von Mises likelihood predicts angles across the ±π wrap, where a Gaussian on the angle fails",
        holds=circular_error["von_mises"] < 0.1
        and circular_error["gaussian"] > 3 * circular_error["von_mises"],
        measured=circular_error,
        expected="von Mises < 0.1 rad and Gaussian > 3x von Mises",
    )
    ax = axes[0, 1]
    ax.scatter(xa, ya, s=6, color="#6b7280")
    grid = torch.linspace(0, 1, 400, dtype=F64)
    for name, phi in angle_fits.items():
        ax.plot(grid, wrap(phi[0] + phi[1] * grid), ".", markersize=2, label=f"{name} NLL")
    ax.set(
        xlabel="x", ylabel="angle y (rad)", title="Angles: von Mises vs Gaussian", ylim=(-math.pi, math.pi)
    )
    ax.legend(fontsize=7, markerscale=4)

    # -- 4. heteroscedastic regression ---------------------------------------------------------------------------
    xh = torch.rand(cfg.hetero_points, 1, generator=g, dtype=F64) * 2 - 1
    true_std = 0.05 + 0.3 * (xh + 1) / 2  # grows from 0.05 to 0.35
    yh = torch.sin(2 * xh) + true_std * torch.randn(cfg.hetero_points, 1, generator=g, dtype=F64)
    net = MLP(1, (16, 16), 2, init="he", generator=g, dtype=F64)

    def hetero_loss() -> Tensor:
        out = net(xh)
        return gaussian_nll(out[:, :1], nn.functional.softplus(out[:, 1:]) + 1e-4, yh)

    minimize(hetero_loss, list(net.parameters()), cfg.steps, lr=0.01)
    with torch.no_grad():
        grid_h = torch.linspace(-1, 1, 200, dtype=F64).unsqueeze(1)
        out = net(grid_h)
        predicted_std = nn.functional.softplus(out[:, 1]) + 1e-4
        reference_std = 0.05 + 0.3 * (grid_h[:, 0] + 1) / 2
    relative = float(((predicted_std - reference_std).abs() / reference_std).mean())
    corr = float(torch.corrcoef(torch.stack([predicted_std, reference_std]))[0, 1])
    run.claim(
        "predicted-std-tracks-noise",
        "A heteroscedastic model's predicted standard deviation tracks the true, input-dependent noise",
        holds=corr > 0.9 and relative < 0.25,
        measured={"correlation": corr, "mean_relative_error": relative},
        expected="correlation > 0.9, mean relative error < 0.25",
    )
    ax = axes[0, 2]
    ax.scatter(xh, yh, s=6, color="#6b7280")
    mean = out[:, 0]
    ax.plot(grid_h[:, 0], mean, label="predicted mean")
    ax.fill_between(grid_h[:, 0], mean - 2 * predicted_std, mean + 2 * predicted_std, alpha=0.25, label="±2σ")
    ax.plot(
        grid_h[:, 0], torch.sin(2 * grid_h[:, 0]) + 2 * reference_std, "k:", linewidth=1, label="true ±2σ"
    )
    ax.plot(grid_h[:, 0], torch.sin(2 * grid_h[:, 0]) - 2 * reference_std, "k:", linewidth=1)
    ax.set(xlabel="x", ylabel="y", title="Heteroscedastic Gaussian")
    ax.legend(fontsize=7)

    # -- 5. Plackett-Luce rankings ---------------------------------------------------------------------------------
    true_scores = torch.linspace(1.5, -1.5, cfg.items, dtype=F64)[torch.randperm(cfg.items, generator=g)]
    gumbel = -torch.log(-torch.log(torch.rand(cfg.rankings, cfg.items, generator=g, dtype=F64)))
    observed = torch.argsort(true_scores + gumbel, dim=1, descending=True)  # exact Plackett-Luce samples
    scores = torch.zeros(cfg.items, dtype=F64, requires_grad=True)
    minimize_smooth(lambda: plackett_luce_nll(scores.expand(cfg.rankings, -1), observed), [scores])
    learned = scores.detach() - scores.detach().mean()
    true_centered = true_scores - true_scores.mean()
    same_order = bool(torch.equal(torch.argsort(learned), torch.argsort(true_centered)))
    run.claim(
        "plackett-luce-learns-order",
        "Fitting Plackett-Luce scores to observed rankings recovers the true ordering of the items",
        holds=same_order,
        measured={
            "same_order": same_order,
            "max_score_error": float((learned - true_centered).abs().max()),
        },
        expected="same order",
    )
    ax = axes[0, 3]
    ax.plot(true_centered, learned, "o")
    lim = float(true_centered.abs().max()) * 1.2
    ax.plot([-lim, lim], [-lim, lim], "k:", linewidth=1)
    ax.set(xlabel="true score", ylabel="learned score", title=f"Plackett-Luce, {cfg.rankings} rankings")
    run.figure("loss-functions", fig)
    run.summary(**{f"robust_{k}_error": v for k, v in error.items()}, heteroscedastic_correlation=corr)
