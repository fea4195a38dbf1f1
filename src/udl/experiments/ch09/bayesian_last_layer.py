"""Bayesian inference over the output layer of a shallow network (UDL section 9.3.5, fig. 9.11, notebook 9.4).

Protocol (notebook 9.4's model). A shallow ReLU network with ``hidden`` = 5 units whose first layer is *fixed*:
unit d = 0..D−1 computes h_d(x) = relu(x − d/D) (joints evenly spaced on [0, 1], slope 1; a ``udl.nn.ShallowNetwork``
with those parameters). Only the output layer φ = [φ_0, φ_1, ..., φ_D] is uncertain, with prior
φ ~ Norm[0, σ_p² I] (σ_p² = ``prior_var`` = 1000, the notebook's "arbitrary large value") and likelihood
y = φᵀ[1; h(x)] + ε, ε ~ Norm[0, σ²]; the posterior and the predictive distribution are then Gaussian and exact
(``udl.functional.bayesian_linear_posterior`` / ``bayesian_linear_predictive``), everything in float64.

Data: the notebook's f(x) = exp(sin 2πx) with σ = 0.3, ``num_train`` = 15 points drawn stratified as in the
notebook but on [0, gap_low] and [gap_high, 1] only (our change: a hole in the inputs gives a region away from the
data inside the model's range; the notebook spreads its 15 points over all of [0, 1]).

Checks (identities, verified numerically): (1) the posterior mean of the output layer is the ridge-regression
(L2-regularized least squares) solution with λ = σ²/σ_p², computed independently (QR on the stacked system
[Φ; √λ I]); float64 agreement. (2) The predictive distribution is the average over the posterior: the mean and
spread of ``samples`` functions drawn from the posterior match the closed form within Monte Carlo error (5
standard errors of a sample mean, resp. of a sample standard deviation, at every x).

Claim (the book's fig. 9.11): the predictive uncertainty grows away from the data: the posterior standard
deviation of f(x) is larger in the gap than over the training intervals, and rises with the distance to the
nearest training input (Spearman ρ > 0 on the grid). The computation is exact (no training, no seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.data import regression_1d, sine_exp_function
from udl.functional import bayesian_linear_posterior, bayesian_linear_predictive, sample_posterior
from udl.nn import ShallowNetwork
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import spearman

CHAPTER = 9
SECTION = "9.3.5"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Exact Bayesian posterior over a shallow net's output layer: ridge mean, uncertainty grows off the data"
)
CONTEXT = (
    "Section 9.3.5: the Bayesian approach keeps a probability distribution over the parameters and predicts by "
    "averaging the predictions of all parameter settings, weighted by their posterior probability; intractable "
    "for a whole network, it is exact when only the final layer is uncertain (fig. 9.11, notebook 9.4)."
)


@dataclass(frozen=True)
class Config:
    hidden: int = 5
    """hidden units D with fixed joints d/D (the notebook: 5)"""
    num_train: int = 15
    """training points, split over the two sides of the gap (the notebook: 15)"""
    gap: tuple[float, float] = (0.35, 0.65)
    """the interval of [0, 1] left without training inputs"""
    noise_std: float = 0.3
    """noise σ of the targets, known to the model (the notebook: 0.3)"""
    prior_var: float = 1000.0
    """prior variance σ_p² of every output-layer parameter (the notebook: 1000)"""
    small_prior_var: float = 1.0
    """a second, tight prior drawn for comparison (the notebook's exercise: σ_p² = 1)"""
    grid_points: int = 501
    """evaluation points on [0, 1]"""
    margin: float = 0.05
    """grid points this close to the data count as neither 'data' nor 'gap'"""
    samples: int = 20_000
    """functions drawn from the posterior for the Monte Carlo check"""
    curves_shown: int = 8
    """posterior samples drawn in the figure"""
    seed: int = 0
    """seed for the data and the posterior samples"""

    def __post_init__(self) -> None:
        low, high = self.gap
        if not 0 < low < high < 1 or not 0 < 2 * self.margin < high - low:
            raise ValueError(f"need 0 < gap low < high < 1 and 0 < 2 * margin < gap width, got {self.gap}")
        if self.hidden < 1 or self.num_train < 2 or self.grid_points < 10 or self.samples < 2:
            raise ValueError("need hidden >= 1, num_train >= 2, grid_points >= 10 and samples >= 2")
        if self.noise_std <= 0 or self.prior_var <= 0 or self.small_prior_var <= 0 or self.curves_shown < 0:
            raise ValueError("noise_std, prior_var and small_prior_var must be > 0, curves_shown >= 0")


PRESETS = {
    "smoke": Config(grid_points=101, samples=500),
    "quick": Config(),
    "full": Config(grid_points=2001, samples=200_000),
}


def fixed_joint_network(units: int, phi: Tensor) -> ShallowNetwork:
    """Notebook 9.4's network: joints fixed at d/D (θ_d0 = −d/D, θ_d1 = 1) and output layer φ = [φ_0, ..., φ_D]."""
    theta = torch.stack(
        [-torch.arange(units, dtype=phi.dtype) / units, torch.ones(units, dtype=phi.dtype)], dim=1
    )
    return ShallowNetwork.from_parameters(theta, phi)


def design(net: ShallowNetwork, x: Tensor) -> Tensor:
    """[1, h_1(x), ..., h_D(x)]: (N, 1) -> (N, D+1), the rows of the book's H transposed."""
    with torch.no_grad():
        return torch.cat([torch.ones_like(x), net.hidden_units(x)], dim=1)


def uncertainty_grows_verdict(std_ratio: float, rho: float) -> bool:
    """Uncertainty grows away from the data: std in the gap / std over the data > 1, and Spearman ρ(distance to
    the nearest training input, std) > 0."""
    return std_ratio > 1 and rho > 0


def run(cfg: Config, run: Run) -> None:
    # Tiny and float64: the whole computation runs on the CPU, whatever --device says.
    generator = torch.Generator().manual_seed(cfg.seed)
    dtype, sigma2 = torch.float64, cfg.noise_std**2
    low, high = cfg.gap

    # -- data: two stratified intervals with a hole between them -----------------------------------------------
    half = cfg.num_train // 2
    parts = [
        regression_1d(
            n, noise_std=cfg.noise_std, x_range=r, sampling="stratified", generator=generator, dtype=dtype
        )
        for n, r in ((half, (0.0, low)), (cfg.num_train - half, (high, 1.0)))
    ]
    x = torch.cat([p[0] for p in parts])  # (N, 1)
    y = torch.cat([p[1] for p in parts]).squeeze(1)  # (N,)
    grid = torch.linspace(0, 1, cfg.grid_points, dtype=dtype).unsqueeze(1)
    g = grid.squeeze(1)
    truth = sine_exp_function(grid).squeeze(1)

    # -- model: fixed first layer; the exact posterior over the output layer -----------------------------------
    net = fixed_joint_network(cfg.hidden, torch.zeros(cfg.hidden + 1, dtype=dtype))
    features, grid_features = design(net, x), design(net, grid)
    posteriors = {
        v: bayesian_linear_posterior(features, y, sigma2, v) for v in (cfg.prior_var, cfg.small_prior_var)
    }
    post = posteriors[cfg.prior_var]
    pred = bayesian_linear_predictive(grid_features, post, sigma2)
    std = pred.function_variance.sqrt()  # posterior std of f(x), the notebook's band
    mean_net = fixed_joint_network(cfg.hidden, post.mean)  # the posterior-mean network
    with torch.no_grad():
        net_gap = float((mean_net(grid).squeeze(1) - pred.mean).abs().max())

    # -- ridge regression by an independent route: QR least squares on [Φ; √λ I] φ = [y; 0] --------------------
    ridge_gap = {}
    for v, posterior in posteriors.items():
        lam = sigma2 / v
        d = features.shape[1]
        stacked = torch.cat([features, math.sqrt(lam) * torch.eye(d, dtype=dtype)])
        target = torch.cat([y, torch.zeros(d, dtype=dtype)]).unsqueeze(1)
        ridge = torch.linalg.lstsq(stacked, target, driver="gels").solution.squeeze(1)
        ridge_gap[v] = float((posterior.mean - ridge).abs().max() / ridge.abs().max())

    # -- Monte Carlo over the posterior ------------------------------------------------------------------------
    # Sampled networks in blocks (bounded memory); deviations from the closed-form mean, summed and squared.
    total, squares = torch.zeros_like(pred.mean), torch.zeros_like(pred.mean)
    for start in range(0, cfg.samples, 10_000):
        phis = sample_posterior(post, min(10_000, cfg.samples - start), generator=generator)  # (B, D+1)
        deviation = phis @ grid_features.T - pred.mean  # (B, G): f(x) of each sampled network, centred
        total += deviation.sum(dim=0)
        squares += deviation.pow(2).sum(dim=0)
    mc_mean = pred.mean + total / cfg.samples
    mc_std = ((squares - total**2 / cfg.samples) / (cfg.samples - 1)).sqrt()
    mc_mean_z = float(((mc_mean - pred.mean) / (std / math.sqrt(cfg.samples))).abs().max())
    mc_std_rel = float((mc_std / std - 1).abs().max())
    std_tolerance = 5 / math.sqrt(2 * (cfg.samples - 1))  # 5 standard errors of a sample std, relative

    # -- regions and distance to the data ----------------------------------------------------------------------
    data_region = ((g >= 0) & (g <= low)) | ((g >= high) & (g <= 1))
    gap_region = (g > low + cfg.margin) & (g < high - cfg.margin)
    distance = (g.unsqueeze(1) - x.squeeze(1)).abs().min(dim=1).values  # to the nearest training input
    ratio = float(std[gap_region].mean() / std[data_region].mean())
    rho = spearman(distance, std)
    for i in range(0, cfg.grid_points, max(1, cfg.grid_points // 100)):
        run.log(
            i,
            x=float(g[i]),
            mean=float(pred.mean[i]),
            function_std=float(std[i]),
            predictive_std=float(pred.variance[i].sqrt()),
            distance_to_data=float(distance[i]),
        )

    # -- checks and the claim -----------------------------------------------------------------------------------
    run.check(
        "posterior-mean-is-ridge",
        "The posterior mean of the output layer equals the ridge-regression (L2-regularized least squares) "
        "solution with λ = σ²/σ_p² (float64, relative max error; for both priors)",
        error=max(ridge_gap.values()),
        tolerance=1e-9,
        measured={f"relative_gap_prior_var_{v:g}": gap for v, gap in ridge_gap.items()},
    )
    run.check(
        "predictive-mean-is-posterior-average",
        f"The closed-form predictive mean is the average of {cfg.samples} networks drawn from the posterior, at "
        "every x, within Monte Carlo error (max |error| in standard errors of the sample mean)",
        error=mc_mean_z,
        tolerance=5.0,
    )
    run.check(
        "predictive-spread-is-posterior-spread",
        f"The closed-form std of f(x) is the spread of {cfg.samples} networks drawn from the posterior, at every "
        "x, within Monte Carlo error (max relative error; tolerance 5 standard errors of a sample std)",
        error=mc_std_rel,
        tolerance=std_tolerance,
    )
    run.claim(
        "uncertainty-grows-away-from-data",
        f"The posterior uncertainty of f(x) grows away from the data: larger in the gap ({low:g}, {high:g}) "
        "than over the training intervals, and rising with the distance to the nearest training input",
        holds=uncertainty_grows_verdict(ratio, rho),
        measured={
            "std_gap_over_std_data": round(ratio, 3),
            "spearman_distance_vs_std": round(rho, 3),
            "std_data_mean": float(std[data_region].mean()),
            "std_gap_mean": float(std[gap_region].mean()),
        },
        expected="ratio > 1 and ρ > 0",
    )
    run.summary(
        std_gap_over_std_data=ratio,
        spearman_distance_vs_std=rho,
        posterior_mean_network_gap=net_gap,
        max_relative_ridge_gap=max(ridge_gap.values()),
    )

    # -- figure: predictive mean ± 2σ with posterior samples, for the notebook's prior and a tight one (fig. 9.11)
    fig, axes = subplots(1, 2, width=5.2)
    for ax, v in zip(axes[0], posteriors, strict=True):
        shown = bayesian_linear_predictive(grid_features, posteriors[v], sigma2)
        s = shown.function_variance.sqrt()
        draws = (
            sample_posterior(posteriors[v], max(cfg.curves_shown, 1), generator=generator) @ grid_features.T
        )
        ax.axvspan(low, high, color="#6b7280", alpha=0.12, label="gap (no data)")
        ax.fill_between(
            g, shown.mean - 2 * s, shown.mean + 2 * s, color=PALETTE[0], alpha=0.25, label="mean ± 2σ of f(x)"
        )
        for k in range(cfg.curves_shown):
            ax.plot(
                g,
                draws[k],
                color=PALETTE[2],
                linewidth=0.8,
                alpha=0.7,
                label="networks drawn from the posterior" if k == 0 else None,
            )
        ax.plot(g, truth, color="black", linewidth=1.5, label="true f(x)")
        ax.plot(g, shown.mean, color=PALETTE[0], linewidth=2, label="predictive mean")
        ax.plot(x.squeeze(1), y, "o", color=PALETTE[1], markersize=4, label="training data")
        ax.set(
            xlabel="input x",
            ylabel="output y",
            ylim=(-1.5, 4.5),
            title=f"D = {cfg.hidden} fixed joints, prior σ_p² = {v:g}",
        )
    axes[0, 1].legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, loc="lower left")
    run.figure("posterior-predictive", fig)
