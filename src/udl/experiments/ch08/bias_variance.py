"""Bias-variance trade-off (UDL chapter 8, section 8.2, figs. 8.5-8.9, notebook 8.2).

Protocol (the notebook's setting).

- *Data*: the true function f(x) = exp(sin 2πx) on [0, 1]; a training set is ``num_train`` = 15 points with x
  drawn as in the notebook, one uniform draw in each of 15 equal bins (``udl.data.regression_1d`` with
  ``sampling="stratified"``), and y = f(x) + ε, ε ~ N(0, σ²), σ = 0.3. ``datasets`` = 100 training sets are drawn
  independently; the same sets serve every capacity D (common random numbers, so the curves over D compare like
  with like).
- *Model*: the notebook's shallow ReLU network with D hidden units and *fixed* joints evenly spaced over [0, 1]:
  unit d = 0..D−1 computes h_d(x) = relu(x − d/D) (notebook 8.2: ``x - c_hidden/n_hidden``, slope 1), and
  f̂(x) = β + Σ_d ω_d h_d(x). Only the output layer (β, ω) is learned, in closed form: the least-squares solution
  of the (15, D+1) design [1, h_1(x), ..., h_D(x)] (``torch.linalg.lstsq``, float64), batched over all data sets
  in one call of shape (datasets, 15, D+1). The ``gelsd`` driver (SVD with the default cut-off, machine
  precision × 15, like ``numpy.linalg.lstsq(rcond=None)`` in the notebook) returns the minimum-norm solution if a
  design is rank deficient (a column that is zero on all 15 points, or two units that agree there); its numerical
  rank is logged per D. With stratified inputs and D ≤ 14 the last point lies beyond every joint and we measured
  full rank throughout, but the model stays as the notebook defines it whatever happens. gelsd is a CPU LAPACK
  driver, and the problem is tiny, so everything runs on the CPU in float64 whatever ``--device`` says.
- *Decomposition* on a dense grid of ``test_points`` x in [0, 1] (standing for E_x over x ~ U[0, 1]), with
  f̄(x) = mean over data sets of f̂_D(x):

  bias² = E_x[(f̄(x) − f(x))²],  variance = E_x E_D[(f̂_D(x) − f̄(x))²],  noise = σ²,

  E_D is the mean over the drawn data sets (the notebook's ``np.mean`` / ``np.var``), so with these plug-in
  estimates E_x E_D[(f̂ − f)²] = bias² + variance exactly, and the analytic expected test error
  E_x E_D E_y[(f̂ − y)²] = E_x E_D[(f̂ − f)²] + σ² equals bias² + variance + σ² up to rounding. As an independent
  check the test error is also measured by Monte Carlo: ``test_draws`` fresh noisy targets y = f(x) + ε per data
  set and grid point, averaging (f̂_D(x) − y)² (this checks E_y, the part the analytic value takes for granted).
  Note: the plug-in bias² carries a floor of variance/``datasets`` (f̄ is itself a noisy mean); with 100 data
  sets that floor exceeds the true bias² for D ≥ 9, which is why ``bias2_debiased`` (bias² − s²/S, with s² the
  unbiased variance; unbiased itself, so it can come out negative) is logged too.

Claims. *Bias falls* and *variance rises* with capacity: the value at the largest D is below (above) the value
at the smallest, and the curve is monotone up to small wiggles, i.e. no step between consecutive D goes against
the trend by more than ``trend_tolerance`` (5%) of the total change from the smallest to the largest D. (Not
strictly monotone on purpose: the true bias² of this model rises from D = 4 to D = 5, because D = 4 puts joints
on f's extrema at 1/4 and 3/4 and D = 5 does not; D = 2's joint at 1/2 adds nothing to the line by f's symmetry.)
*The decomposition*: bias² + variance + noise matches the Monte Carlo test error within ``tolerance`` (5%) at
every D.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from udl.data.toy import regression_1d, sine_exp_function
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import spearman

CHAPTER = 8
SECTION = "8.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Bias falls and variance rises with hidden units; bias² + variance + noise is the test error (fig. 8.9)"
)
CONTEXT = (
    "Section 8.2 splits the expected test error of a model fitted to a random training set into noise (the "
    "irreducible σ²), bias (how far the average fitted model is from the truth) and variance (how much the fit "
    "changes from one training set to another); adding capacity (hidden units) lowers the bias but raises the "
    "variance, the bias-variance trade-off of figs. 8.5-8.9."
)


@dataclass(frozen=True)
class Config:
    units: tuple[int, ...] = tuple(range(1, 13))
    """hidden-unit counts D of the fixed-joint models, strictly increasing, at least two (the claims compare the
    first and the last)"""
    num_train: int = 15
    """training points per data set, one uniform draw in each of num_train equal bins of [0, 1]"""
    noise_std: float = 0.3
    """standard deviation σ of the Gaussian noise on the targets (noise term σ²)"""
    datasets: int = 100
    """independently drawn training sets, shared by every D (the expectation E_D is their mean)"""
    test_points: int = 1001
    """evenly spaced grid points on [0, 1] for E_x"""
    test_draws: int = 10
    """fresh noisy test targets per data set and grid point for the Monte Carlo test error"""
    trend_tolerance: float = 0.05
    """largest step against the trend, as a fraction of the total change from the first to the last D, that
    still counts as 'monotone up to small wiggles'"""
    tolerance: float = 0.05
    """largest relative difference between bias² + variance + noise and the Monte Carlo test error"""
    curves_shown: int = 5
    """fitted curves (from the first data sets) drawn per panel of the fits figure"""
    seed: int = 0
    """seed for the training sets and the fresh test targets"""

    def __post_init__(self) -> None:
        if len(self.units) < 2 or min(self.units) < 1 or list(self.units) != sorted(set(self.units)):
            raise ValueError(
                f"units must be at least two strictly increasing integers >= 1, got {self.units}"
            )
        if self.num_train < 2 or self.datasets < 2 or self.test_points < 2:
            raise ValueError("num_train, datasets and test_points must be >= 2")
        if self.test_draws < 1 or self.curves_shown < 0:
            raise ValueError("test_draws must be >= 1 and curves_shown >= 0")
        if self.noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {self.noise_std}")
        if not (0 < self.trend_tolerance < 1 and 0 < self.tolerance < 1):
            raise ValueError("trend_tolerance and tolerance must lie in (0, 1)")


PRESETS = {
    "smoke": Config(units=(1, 3, 6, 12), datasets=10, test_points=201, test_draws=2, curves_shown=3),
    "quick": Config(),
    "full": Config(datasets=1000, test_points=2001, test_draws=20),
}


class Decomposition(NamedTuple):
    """The terms of the expected test error at one capacity (floats)."""

    bias2: float
    """E_x[(f̄(x) − f(x))²]"""
    variance: float
    """E_x E_D[(f̂_D(x) − f̄(x))²]"""
    noise: float
    """σ²"""
    error: float
    """analytic expected test error E_x E_D[(f̂_D(x) − f(x))²] + σ²"""


def hidden_features(x: Tensor, units: int) -> Tensor:
    """The design [1, relu(x − 0/D), relu(x − 1/D), ..., relu(x − (D−1)/D)]: (..., N, 1) -> (..., N, D+1).

    Notebook 8.2's hidden units: joints fixed at d/D, d = 0..D−1, slope 1; column 0 is the offset β.
    """
    joints = torch.arange(units, dtype=x.dtype, device=x.device) / units
    return torch.cat([torch.ones_like(x), torch.relu(x - joints)], dim=-1)


def fit_least_squares(x: Tensor, y: Tensor, units: int) -> tuple[Tensor, Tensor]:
    """Closed-form output layers of all data sets at once: x, y (S, N, 1) -> φ = (β, ω) (S, D+1, 1), rank (S,).

    One batched ``torch.linalg.lstsq`` with the ``gelsd`` driver (SVD; minimum-norm solution where a design is
    rank deficient). CPU tensors only (gelsd is a CPU driver).
    """
    solution = torch.linalg.lstsq(hidden_features(x, units), y, driver="gelsd")
    return solution.solution, solution.rank


def predict(phi: Tensor, x: Tensor, units: int) -> Tensor:
    """Predictions of every fitted model on shared inputs: φ (S, D+1, 1), x (G, 1) -> (S, G)."""
    return (hidden_features(x, units) @ phi).squeeze(-1)


def decompose(predictions: Tensor, truth: Tensor, noise_std: float) -> Decomposition:
    """Bias², variance, noise and the analytic expected test error from predictions (S, G) and f on the grid (G,).

    E_D is the plain mean over the S data sets (variance divides by S), so bias² + variance equals
    E_x E_D[(f̂ − f)²] exactly, up to rounding.
    """
    mean = predictions.mean(dim=0)  # f̄(x), (G,)
    bias2 = (mean - truth).pow(2).mean()
    variance = (predictions - mean).pow(2).mean()
    error = (predictions - truth).pow(2).mean() + noise_std**2
    return Decomposition(float(bias2), float(variance), noise_std**2, float(error))


def monte_carlo_error(
    predictions: Tensor, truth: Tensor, noise_std: float, draws: int, generator: torch.Generator
) -> float:
    """E_x E_D E_y[(f̂_D(x) − y)²] by Monte Carlo: ``draws`` fresh targets y = f(x) + ε per data set and x."""
    total = 0.0
    for _ in range(draws):  # one (S, G) batch of fresh targets at a time
        eps = torch.randn(predictions.shape, generator=generator, dtype=predictions.dtype)
        total += float((predictions - truth - noise_std * eps).pow(2).mean())
    return total / draws


class Trend(NamedTuple):
    """How well a sequence follows a trend (see :func:`trend`)."""

    change: float
    """last − first, signed so that following the trend is positive"""
    largest_counter_step: float
    """the largest step between consecutive values against the trend (0 if none)"""
    counter_steps: int
    """the number of steps against the trend"""


def trend(values: list[float], direction: int) -> Trend:
    """How well ``values`` follow a trend: direction −1 for falling, +1 for rising."""
    steps = [direction * (b - a) for a, b in itertools.pairwise(values)]
    return Trend(
        direction * (values[-1] - values[0]), max([0.0, *(-s for s in steps)]), sum(s < 0 for s in steps)
    )


def run(cfg: Config, run: Run) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    dtype = torch.float64
    # Training sets: the library's stratified sampler, one call per set (the fits below are batched).
    sets = [
        regression_1d(
            cfg.num_train, noise_std=cfg.noise_std, sampling="stratified", generator=generator, dtype=dtype
        )
        for _ in range(cfg.datasets)
    ]
    x = torch.stack([s[0] for s in sets])  # (S, N, 1)
    y = torch.stack([s[1] for s in sets])
    grid = torch.linspace(0, 1, cfg.test_points, dtype=dtype).unsqueeze(1)  # (G, 1)
    truth = sine_exp_function(grid).squeeze(1)  # (G,)

    terms: dict[int, Decomposition] = {}
    measured: dict[int, float] = {}
    curves: dict[int, Tensor] = {}
    min_rank: dict[int, int] = {}
    with run.progress(len(cfg.units), "capacities") as bar:
        for i, d in enumerate(cfg.units):
            phi, rank = fit_least_squares(x, y, d)
            predictions = predict(phi, grid, d)  # (S, G)
            terms[d] = t = decompose(predictions, truth, cfg.noise_std)
            measured[d] = monte_carlo_error(predictions, truth, cfg.noise_std, cfg.test_draws, generator)
            min_rank[d] = int(rank.min())
            curves[d] = predictions
            unbiased_variance = float(predictions.var(dim=0).mean())
            run.log(
                d,
                bias2=t.bias2,
                bias2_debiased=t.bias2 - unbiased_variance / cfg.datasets,
                variance=t.variance,
                noise=t.noise,
                decomposition_sum=t.bias2 + t.variance + t.noise,
                test_error_analytic=t.error,
                test_error_monte_carlo=measured[d],
                min_rank=min_rank[d],
                full_rank=d + 1,
            )
            bar.update(i + 1, units=d, bias2=t.bias2, variance=t.variance)

    # -- claims -----------------------------------------------------------------------------------------------
    units = list(cfg.units)
    bias2 = [terms[d].bias2 for d in units]
    variance = [terms[d].variance for d in units]
    total = [terms[d].bias2 + terms[d].variance + terms[d].noise for d in units]
    first, last = units[0], units[-1]
    for name, key, quantity, values, direction in (
        ("bias-falls", "bias2", "bias²", bias2, -1),
        ("variance-rises", "variance", "variance", variance, +1),
    ):
        tr = trend(values, direction)
        word = "falls" if direction < 0 else "rises"
        fraction = tr.largest_counter_step / tr.change if tr.change > 0 else float("inf")
        run.claim(
            name,
            f"With more hidden units the {quantity} {word}: from D = {first} to D = {last} it {word}, and no step "
            f"between consecutive D goes the other way by more than {cfg.trend_tolerance:.0%} of that change "
            "(monotone up to small wiggles)",
            holds=tr.change > 0 and fraction <= cfg.trend_tolerance,
            measured={
                f"{key}_D{first}": values[0],
                f"{key}_D{last}": values[-1],
                "largest_counter_step": tr.largest_counter_step,
                "counter_step_fraction": fraction,
                "counter_steps": tr.counter_steps,
                "spearman_rho": spearman(units, values),
            },
            expected=f"{key}_D{last} {'<' if direction < 0 else '>'} {key}_D{first}; "
            f"counter_step_fraction ≤ {cfg.trend_tolerance:g}",
        )
    gaps = [abs(measured[d] / s - 1) for d, s in zip(units, total, strict=False)]
    identity = max(abs(terms[d].error - s) for d, s in zip(units, total, strict=False))
    worst = max(range(len(units)), key=lambda i: gaps[i])
    run.claim(
        "decomposition-matches-test-error",
        "The expected test error is bias² + variance + noise: the sum matches the test error measured "
        f"with fresh noisy targets at every D, within {cfg.tolerance:.0%}",
        holds=max(gaps) <= cfg.tolerance,
        measured={
            "max_relative_gap": max(gaps),
            "at_units": units[worst],
            "max_abs_gap_analytic": identity,
            "monte_carlo_targets": cfg.datasets * cfg.test_points * cfg.test_draws,
        },
        expected=f"max_relative_gap ≤ {cfg.tolerance:g}",
    )
    best = min(units, key=lambda d: terms[d].error)
    run.summary(
        best_units=best,
        best_test_error=terms[best].error,
        bias2_first=bias2[0],
        bias2_last=bias2[-1],
        variance_first=variance[0],
        variance_last=variance[-1],
        max_relative_gap=max(gaps),
        rank_deficient_units=[d for d in units if min_rank[d] < d + 1],
    )

    # -- figure 1: fits at small, best and large capacity (cf. figs. 8.6-8.8) -------------------------------------
    shown = list(dict.fromkeys([first, best, last]))
    fig, axes = subplots(1, len(shown), width=4.2)
    xs = grid.squeeze(1)
    for ax, d in zip(axes[0], shown, strict=False):
        predictions = curves[d]
        mean, std = predictions.mean(dim=0), predictions.std(dim=0, correction=0)
        ax.plot(xs, truth, color="black", linewidth=2, label="true f(x)")
        for k in range(min(cfg.curves_shown, cfg.datasets)):
            label = "fits to single data sets" if k == 0 else None
            ax.plot(xs, predictions[k], color=PALETTE[0], linewidth=0.8, alpha=0.5, label=label)
        ax.fill_between(xs, mean - std, mean + std, color=PALETTE[1], alpha=0.25, label="mean ± std")
        ax.plot(xs, mean, color=PALETTE[1], linewidth=2, label="mean prediction")
        ax.plot(x[0].squeeze(1), y[0].squeeze(1), "o", color=PALETTE[0], markersize=4, label="data set 1")
        t = terms[d]
        ax.set(
            xlabel="input x",
            ylabel="output y",
            ylim=(-0.5, 3.5),
            title=f"D = {d}: bias² {t.bias2:.3f}, variance {t.variance:.3f}",
        )
    axes[0, 0].legend(fontsize=7, loc="upper right")
    run.figure("fits", fig)

    # -- figure 2: the decomposition against capacity (cf. fig. 8.9) ------------------------------------------------
    fig, axes = subplots(1, 1, width=6.0)
    ax = axes[0, 0]
    ax.plot(units, bias2, "o-", label="bias²")
    ax.plot(units, variance, "s-", label="variance")
    ax.plot(units, [cfg.noise_std**2] * len(units), "--", color="#6b7280", label="noise σ²")
    ax.plot(units, total, "-", color="black", linewidth=2, label="bias² + variance + noise")
    ax.plot(
        units,
        [measured[d] for d in units],
        "x",
        color=PALETTE[3],
        markersize=9,
        label=f"test error, Monte Carlo ({cfg.test_draws} fresh targets per point)",
    )
    ax.axvline(best, color="#6b7280", linewidth=0.8, alpha=0.6, label=f"lowest test error, D = {best}")
    ax.set(
        xlabel="hidden units D",
        ylabel="expected squared error",
        title=f"Bias-variance trade-off ({cfg.datasets} data sets of {cfg.num_train} points)",
        xticks=units,
    )
    ax.legend(fontsize=8)
    run.figure("bias-variance", fig)
