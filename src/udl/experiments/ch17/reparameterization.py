"""The reparameterization trick vs the score-function estimator (UDL section 17.7, notebook 17.2).

Protocol (notebook 17.2's setting). Pr(x | φ) = Norm[μ = φ³, σ² = (exp φ)²] and f(x) = x² + sin x; the target is
∂/∂φ E_{Pr(x|φ)}[f(x)], known in closed form because E[f] = μ² + σ² + sin μ · e^{−σ²/2}. At each φ in ``phis``
and for each of ``seeds`` seeds, ``samples`` draws give per-sample estimates of ∂/∂μ and ∂/∂σ (``udl.generative``),
combined by the chain rule, ∂/∂φ = 3φ² ∂/∂μ + e^φ ∂/∂σ, for three estimators:

- reparameterized: x = μ + σε, ∂f/∂μ = f'(x), ∂f/∂σ = f'(x) ε;
- score function (REINFORCE, problem 17.5): f(x) ∂/∂φ log Pr(x | φ);
- score function with a leave-one-out baseline: (f(x) − mean of f over the other draws) ∂/∂φ log Pr(x | φ).

Checks (every preset): each estimator's mean lies within 4 standard errors of the exact gradient at every φ (all
three are unbiased, a theorem, verified here), and the written-out exact gradient equals autograd of the
closed-form expectation (a check on the reference itself).

Claims: (1) the reparameterized estimator has far lower variance: the score function's per-sample variance at
least ``min_ratio`` (10) times the reparameterized one (log ratio − log 10, paired by seed and φ, > 2 SE); the
notebook compares the two at φ = 0.3 and says "quite a bit lower". (2) The baseline lowers the score function's
variance (paired, > 2 SE).

Result at quick (5 seeds × 5 values of φ × 20,000 draws): claim (1) FAILS, the variance ratio is a median 8.7
(7.6 to 10.8; 10.8 at the notebook's φ = 0.3): lower, "quite a bit", but short of the 10× bar fixed beforehand. The
baseline claim holds (median ratio 1.34).

Protocol change during development: a first version used its own f(x) = sin 3x + x²/2 with σ fixed at 0.5; there
the score function's variance was only a median 1.6× the reparameterized one (below it at some means), and the
"far lower" claim failed. The experiment now uses the notebook's own setting, as the issue asks; the ratio is a
property of the setting (it grows as σ shrinks or as f is offset from zero), not a law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.generative import reparameterization_gradient, score_function_gradient
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, paired_difference

CHAPTER = 17
SECTION = "17.7"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Reparameterized gradients are unbiased with far lower variance than the score-function estimator"
CONTEXT = (
    "A VAE needs the gradient of an expectation over q(z | x) with respect to q's parameters. Section 17.7 "
    "rewrites the sample as z = μ + σε so the gradient passes through it (the reparameterization trick); the "
    "alternative, the score-function (REINFORCE) estimator, is also unbiased but has a much larger variance, "
    "which a baseline reduces."
)

ESTIMATORS = ("reparameterized", "score", "score_baseline")


@dataclass(frozen=True)
class Config:
    phis: tuple[float, ...] = (-1.0, -0.5, 0.3, 0.5, 1.0)
    """the parameters φ (μ = φ³, σ = exp φ) at which the gradient is estimated; the notebook compares at 0.3"""
    samples: int = 20_000
    """draws per estimate (per seed and φ)"""
    seeds: int = 5
    """independent repetitions (the claims pair them)"""
    min_ratio: float = 10.0
    """'far lower': the score function's variance at least this many times the reparameterized one"""
    seed: int = 0
    """seed of the first repetition"""

    def __post_init__(self) -> None:
        in_range(self, min_ratio=(1, 1e6))
        if not self.phis or any(not math.isfinite(p) or abs(p) > 3 for p in self.phis):
            raise ValueError(f"phis must be a non-empty tuple of finite numbers in [-3, 3], got {self.phis}")
        if self.samples < 2:
            raise ValueError(f"samples must be >= 2 (the baseline leaves one out), got {self.samples}")
        at_least(self, 1, "seeds")


PRESETS = {
    "smoke": Config(phis=(0.3, 1.0), samples=2000, seeds=2),
    "quick": Config(),
    "full": Config(phis=tuple(x / 4 for x in range(-6, 7)), samples=1_000_000, seeds=10),
}


def f(x: Tensor) -> Tensor:
    """Notebook 17.2's function f(x) = x² + sin x."""
    return x**2 + torch.sin(x)


def expectation(phi: Tensor) -> Tensor:
    """E_{x ~ Norm[φ³, e^{2φ}]}[f(x)] = μ² + σ² + sin μ · e^{−σ²/2} (the Gaussian characteristic function)."""
    mu, sigma = phi**3, torch.exp(phi)
    return mu**2 + sigma**2 + torch.sin(mu) * torch.exp(-(sigma**2) / 2)


def exact_gradient(phi: Tensor) -> Tensor:
    """∂/∂φ of :func:`expectation`: (2μ + cos μ e^{−σ²/2}) 3φ² + (2σ − σ sin μ e^{−σ²/2}) e^φ."""
    mu, sigma = phi**3, torch.exp(phi)
    damp = torch.exp(-(sigma**2) / 2)
    return (2 * mu + torch.cos(mu) * damp) * 3 * phi**2 + (2 * sigma - sigma * torch.sin(mu) * damp) * sigma


def far_lower_verdict(var_high: list[float], var_low: list[float], min_ratio: float) -> Verdict:
    """var_high / var_low > min_ratio: log var_high − log(min_ratio · var_low) > 0 by 2 SE (paired entries)."""
    return paired_difference(
        [math.log(v) for v in var_high], [math.log(min_ratio * v) for v in var_low]
    ).verdict


def lower_verdict(var_high: list[float], var_low: list[float]) -> Verdict:
    """var_low below var_high: log var_high − log var_low > 0 by 2 SE (paired entries)."""
    return far_lower_verdict(var_high, var_low, 1.0)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(cfg: Config, run: Run) -> None:
    phi = torch.tensor(cfg.phis, dtype=torch.float64)
    mu, sigma = phi**3, torch.exp(phi)
    exact = exact_gradient(phi)
    p = phi.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(expectation(p).sum(), p)
    run.check(
        "exact-gradient-formula",
        "The written-out gradient of E[x² + sin x] under Norm[φ³, e^{2φ}] equals autograd of the closed-form "
        "expectation",
        error=float((auto - exact).abs().max()),
        tolerance=1e-12,
    )

    def chain(grads: tuple[Tensor, Tensor]) -> Tensor:  # ∂/∂φ = 3φ² ∂/∂μ + e^φ ∂/∂σ
        return 3 * phi**2 * grads[0] + sigma * grads[1]

    variances: dict[str, list[float]] = {k: [] for k in ESTIMATORS}
    worst_z = dict.fromkeys(ESTIMATORS, 0.0)
    example: dict[str, Tensor] = {}
    at = cfg.phis.index(0.3) if 0.3 in cfg.phis else 0
    for s in range(cfg.seeds):
        g = torch.Generator().manual_seed(cfg.seed + s)
        estimates = {
            "reparameterized": chain(reparameterization_gradient(f, mu, sigma, cfg.samples, generator=g)),
            "score": chain(score_function_gradient(f, mu, sigma, cfg.samples, generator=g)),
            "score_baseline": chain(
                score_function_gradient(f, mu, sigma, cfg.samples, baseline="leave_one_out", generator=g)
            ),
        }  # each (samples, len(phis))
        for name, est in estimates.items():
            var = est.var(0)
            z = (est.mean(0) - exact).abs() / (var / cfg.samples).sqrt()
            worst_z[name] = max(worst_z[name], float(z.max()))
            variances[name].extend(var.tolist())
            if s == 0:
                example[name] = est[:, at]
        run.log(s, **{f"var_{k}": sum(v[-len(cfg.phis) :]) / len(cfg.phis) for k, v in variances.items()})

    for name in ESTIMATORS:
        run.check(
            f"unbiased-{name.replace('_', '-')}",
            f"The {name.replace('_', ' ')} estimator's mean is within 4 standard errors of the exact gradient at "
            f"each of the {len(cfg.phis)} values of φ ({cfg.seeds} seeds × {cfg.samples} draws; largest |z|)",
            error=worst_z[name],
            tolerance=4.0,
        )
    ratios = [a / b for a, b in zip(variances["score"], variances["reparameterized"], strict=True)]
    run.claim(
        "reparameterized-far-lower-variance",
        f"The reparameterized estimator's variance is at least {cfg.min_ratio:g}× below the score function's "
        f"({cfg.seeds} seeds × {len(cfg.phis)} values of φ, paired log ratios, > 2 SE)",
        holds=far_lower_verdict(variances["score"], variances["reparameterized"], cfg.min_ratio),
        measured={
            "median_ratio": _median(ratios),
            "min_ratio": min(ratios),
            "ratio_at_phi": ratios[at],
        },
        expected=f"ratio > {cfg.min_ratio:g}",
    )
    base_ratios = [a / b for a, b in zip(variances["score"], variances["score_baseline"], strict=True)]
    run.claim(
        "baseline-lowers-score-variance",
        "Subtracting a leave-one-out baseline lowers the score-function estimator's variance (paired log ratios, "
        "> 2 SE)",
        holds=lower_verdict(variances["score"], variances["score_baseline"]),
        measured={"median_ratio": _median(base_ratios), "min_ratio": min(base_ratios)},
        expected="ratio > 1",
    )
    run.summary(
        median_variance_ratio=_median(ratios),
        median_baseline_ratio=_median(base_ratios),
        **{f"worst_z_{k}": v for k, v in worst_z.items()},
    )

    # -- figures ------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 3, width=4.2)
    ax = axes[0, 0]
    xs = torch.linspace(-4, 5, 400, dtype=torch.float64)
    ax.plot(xs, f(xs), "k-", label="f(x) = x² + sin x")
    noise = torch.randn(400, generator=torch.Generator().manual_seed(cfg.seed), dtype=torch.float64)
    draws = mu[at] + sigma[at] * noise
    ax.plot(draws, f(draws), ".", ms=3, alpha=0.5, label=f"samples x ~ Pr(x | φ = {cfg.phis[at]:g})")
    ax.set(xlabel="x", ylabel="f(x)", title="The test function and samples")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for name, est in example.items():
        lo, hi = float(est.quantile(0.01)), float(est.quantile(0.99))
        ax.hist(est.clamp(lo, hi), bins=60, density=True, histtype="step", label=name.replace("_", " "))
    ax.axvline(float(exact[at]), color="k", linestyle="--", label="exact gradient")
    ax.set(
        xlabel=f"per-sample estimate of ∂E/∂φ at φ = {cfg.phis[at]:g}", ylabel="density", title="Estimates"
    )
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    for name, v in variances.items():
        per_phi = torch.tensor(v).reshape(cfg.seeds, len(cfg.phis)).mean(0)
        ax.plot(cfg.phis, per_phi, "o-", label=name.replace("_", " "))
    ax.set(yscale="log", xlabel="φ", ylabel="per-sample variance", title="Variance of each estimator")
    ax.legend(fontsize=7)
    run.figure("estimators", fig)
