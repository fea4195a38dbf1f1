"""A linear autoencoder's critical points: one minimum, every other one a saddle (UDL section 20.3.2; Baldi &
Hornik, 1989).

Protocol: ``samples`` points in d = len(``spectrum``) dimensions, Gaussian with variances ``spectrum`` along a
random rotation (seed ``seed``); the linear autoencoder x̂ = W₂W₁x with k = ``hidden`` units and the squared
reconstruction loss (``udl.functional.linear_autoencoder_loss``). Every critical point of Baldi & Hornik — the
projection onto a subset I of at most k eigenvectors of the data's second moment Σ
(``udl.functional.linear_autoencoder_critical_points``) — is visited and its full Hessian computed exactly in
float64 (``torch.autograd.functional.hessian``; 2kd parameters). Then plain gradient descent (``lr``, ``steps``
full-batch steps, ``udl.train.train``) starts from ``starts`` random initializations (N(0, ``init_std``²)).

Checks (exact, every preset): the gradient vanishes at every critical point, its loss is ½ Σ_{j∉I} λ_j, and its
number of negative Hessian eigenvalues is #{(i ∈ I, j ∉ I): λ_j > λ_i} + (k − |I|)(d − |I|). Claims: among all
critical points only the principal subspace I = {1..k} has no negative eigenvalue (the others are saddles), and
gradient descent from every random start ends at the global minimum (its loss within ``gap_tolerance`` of the
fall from its start to the minimum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.autograd.functional import hessian

from udl.checks import in_range
from udl.functional import linear_autoencoder_critical_points, linear_autoencoder_loss
from udl.optim import SGD
from udl.report import Run
from udl.report.figures import subplots
from udl.train import OptimizerStep, train

CHAPTER = 20
SECTION = "20.3.2"
SUMMARY = (
    "A linear autoencoder's critical points are PCA projections: only the top-k one is a minimum, all saddles"
)
CONTEXT = (
    "Section 20.3.2: deep networks' loss functions are not convex, yet gradient descent finds good minima; for "
    "linear networks this is proven: every critical point of the linear autoencoder is a projection onto a set "
    "of principal components, only the top-k one is a minimum and every other is a saddle (Baldi & Hornik, "
    "1989), so there are no bad local minima."
)


@dataclass(frozen=True)
class Config:
    spectrum: tuple[float, ...] = (6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.5, 0.25)
    """variances of the data along its principal axes (distinct, positive); d = len(spectrum)"""
    hidden: int = 3
    """k hidden units, 1 <= k < d"""
    samples: int = 2000
    """data points"""
    starts: int = 10
    """random initializations for gradient descent"""
    init_std: float = 0.1
    """standard deviation of the random initial weights"""
    lr: float = 0.05
    """gradient-descent learning rate"""
    steps: int = 3000
    """full-batch gradient-descent steps"""
    gap_tolerance: float = 1e-3
    """a start reaches the global minimum when L_end − L* ≤ gap_tolerance · (L_start − L*)"""
    seed: int = 0
    """seed of the data and the starts"""

    def __post_init__(self) -> None:
        in_range(self, spectrum=(0, 1e3), init_std=(0, 10), lr=(0, 10), gap_tolerance=(0, 1))
        if len(self.spectrum) < 2 or min(self.spectrum) <= 0 or len(set(self.spectrum)) != len(self.spectrum):
            raise ValueError(f"spectrum must hold >= 2 distinct positive variances, got {self.spectrum}")
        if not 1 <= self.hidden < len(self.spectrum):
            raise ValueError(
                f"hidden must be in [1, d - 1] = [1, {len(self.spectrum) - 1}], got {self.hidden}"
            )
        if self.samples < len(self.spectrum) or self.starts < 1 or self.steps < 1:
            raise ValueError("need samples >= d, starts >= 1 and steps >= 1")
        if not self.lr > 0 or not self.init_std > 0 or not self.gap_tolerance > 0:
            raise ValueError("need lr > 0, init_std > 0 and gap_tolerance > 0")


PRESETS = {
    "smoke": Config(spectrum=(4.0, 2.0, 1.0, 0.5), hidden=2, starts=3, steps=300, lr=0.1),
    "quick": Config(),
    "full": Config(
        spectrum=(8.0, 6.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5), hidden=4, starts=50, steps=20000
    ),
}


def only_principal_minimum(
    subsets: Sequence[tuple[int, ...]], min_eigenvalues: Sequence[float], k: int
) -> bool:
    """The critical points without a negative Hessian eigenvalue (min eigenvalue ≥ −1e-9) are exactly the
    principal one, I = (0, ..., k − 1)."""
    minima = [s for s, e in zip(subsets, min_eigenvalues, strict=True) if e >= -1e-9]
    return minima == [tuple(range(k))]


def global_minimum_verdict(gaps: Sequence[float], falls: Sequence[float], tolerance: float) -> bool:
    """Every start ended within ``tolerance`` of its fall above the global minimum (L_end − L* ≤ tol · fall)."""
    if not gaps or len(gaps) != len(falls):
        raise ValueError("need one gap and one fall per start")
    return all(g <= tolerance * f for g, f in zip(gaps, falls, strict=True))


class _Starts(nn.Module):
    """``starts`` linear autoencoders side by side: W₁ (R, k, d), W₂ (R, d, k)."""

    def __init__(self, starts: int, k: int, d: int, std: float, generator: torch.Generator) -> None:
        super().__init__()
        self.w1 = nn.Parameter(std * torch.randn(starts, k, d, generator=generator, dtype=torch.float64))
        self.w2 = nn.Parameter(std * torch.randn(starts, d, k, generator=generator, dtype=torch.float64))


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    d, k = len(cfg.spectrum), cfg.hidden
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    x = (
        torch.randn(cfg.samples, d, generator=g, dtype=torch.float64)
        * torch.tensor(cfg.spectrum).sqrt()
        @ rotation.T
    )
    sigma = x.T @ x / cfg.samples
    points = linear_autoencoder_critical_points(sigma, k)

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return linear_autoencoder_loss(theta[: k * d].view(k, d), theta[k * d :].view(d, k), sigma)

    grad_error = loss_error = 0.0
    index_mismatch = 0
    spectra = []
    for p in points:
        theta = torch.cat([p.w1.flatten(), p.w2.flatten()]).requires_grad_(True)
        value = loss(theta)
        (grad,) = torch.autograd.grad(value, theta)
        eigenvalues = torch.linalg.eigvalsh(hessian(loss, theta.detach()))
        spectra.append(eigenvalues)
        grad_error = max(grad_error, float(grad.abs().max()))
        loss_error = max(loss_error, abs(float(value.detach()) - p.loss))
        index_mismatch += int((eigenvalues < -1e-9).sum()) != p.morse_index
    run.check(
        "gradient-vanishes", "The gradient is zero at every critical point", error=grad_error, tolerance=1e-10
    )
    run.check(
        "critical-loss", "Each critical point's loss is ½ Σ_{j∉I} λ_j", error=loss_error, tolerance=1e-10
    )
    run.check(
        "morse-index",
        "The number of negative Hessian eigenvalues is #{(i∈I, j∉I): λj > λi} + (k − |I|)(d − |I|) at every "
        f"one of the {len(points)} critical points (count of mismatches)",
        error=float(index_mismatch),
        tolerance=0.0,
    )
    min_eigs = [float(e.min()) for e in spectra]
    indices = [int((e < -1e-9).sum()) for e in spectra]
    run.claim(
        "only-principal-is-minimum",
        f"Of the {len(points)} critical points (subsets of ≤ {k} of {d} eigenvectors) only the top-{k} projection "
        "has no negative Hessian eigenvalue; every other is a saddle",
        holds=only_principal_minimum([p.subset for p in points], min_eigs, k),
        measured={
            "minima": [list(p.subset) for p, e in zip(points, min_eigs, strict=True) if e >= -1e-9],
            "saddles": sum(e < -1e-9 for e in min_eigs),
            "saddle_negative_eigenvalues": [min(i for i in indices if i), max(indices)],
        },
        expected=f"minima = [{list(range(k))}]",
    )

    # -- gradient descent from random starts ----------------------------------------------------------------------
    model = _Starts(cfg.starts, k, d, cfg.init_std, g)
    best = min(p.loss for p in points)
    start_loss = linear_autoencoder_loss(model.w1, model.w2, sigma).detach()
    optimizer = SGD(model.parameters(), lr=cfg.lr)
    update = OptimizerStep(optimizer)

    def step(_: object) -> dict[str, torch.Tensor]:
        losses = linear_autoencoder_loss(model.w1, model.w2, sigma)  # (R,)
        update(losses.sum())  # the starts do not interact: each gets its own gradient
        return {"loss": losses.mean().detach(), "gap": (losses.max() - best).detach()}

    result = train(
        step,
        [None],
        epochs=cfg.steps,
        state={"model": model, "optimizer": optimizer},
        run=run,
        name="gd",
        log_every=max(1, cfg.steps // 100),
    )
    end = linear_autoencoder_loss(model.w1, model.w2, sigma).detach()
    gaps, falls = (end - best).tolist(), (start_loss - best).tolist()
    run.claim(
        "gd-reaches-global-minimum",
        f"Gradient descent from each of {cfg.starts} random starts ends at the global minimum "
        f"(L_end − L* ≤ {cfg.gap_tolerance:g} of its start's gap)",
        holds=global_minimum_verdict(gaps, falls, cfg.gap_tolerance),
        measured={
            "largest_relative_gap": max(g_ / f for g_, f in zip(gaps, falls, strict=True)),
            "L_star": best,
        },
        expected=f"≤ {cfg.gap_tolerance:g} for every start",
    )
    run.summary(critical_points=len(points), minimum_loss=best, end_gaps=gaps)

    fig, axes = subplots(1, 2, width=4.6)
    ax = axes[0, 0]
    for p, e in zip(points, spectra, strict=True):
        ax.scatter([p.loss] * len(e), e, s=6, color="C0" if p.morse_index else "C3", alpha=0.6)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="loss at the critical point", ylabel="Hessian eigenvalues", title="a) Every critical point")
    ax = axes[0, 1]
    ax.plot(result.at, [h["gap"] for h in result.history])
    ax.set(
        xlabel="gradient-descent step", ylabel="worst start's L − L*", yscale="log", title="b) Random starts"
    )
    run.figure("linear-net-saddles", fig)
