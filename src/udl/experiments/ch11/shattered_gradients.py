"""Shattered gradients (UDL chapter 11, section 11.1, fig. 11.3; notebook 11.1; Balduzzi et al., 2017).

Protocol. Networks map a scalar x to a scalar y through ``width`` = 200 units per hidden layer, with K = 1, 24
and 50 hidden layers (``depths``). For every network we evaluate the gradient dy/dx on a fine grid of ``points``
inputs evenly spaced on [−2, 2) (autograd through the whole grid at once, float64), and its autocorrelation as a
function of the distance between inputs,

    ρ(Δ) = Σ_i (g_i − ḡ)(g_{i+ℓ} − ḡ) / Σ_i (g_i − ḡ)²,   Δ = ℓ · 4/points,

the usual sample autocorrelation of the sequence g_i = dy/dx(x_i) (mean removed, normalized so ρ(0) = 1;
notebook 11.1 uses ``np.correlate`` normalized the same way). Curves are averaged over ``networks`` random
networks. ρ near 1 at small Δ means nearby inputs have similar gradients (a smooth "brown-noise" gradient, as for
a shallow network); ρ ≈ 0 means the gradient is white noise: it has *shattered*.

The networks (He initialization, width 200, float64):

- ``plain``: a K-hidden-layer ReLU MLP with batch normalization before every ReLU except the first. The first
  hidden layer is ReLU[β + ω x] with ω and β both drawn from He's N(0, 2) (fan-in 1), so its joints −β/ω are
  spread over the input range (standard-Cauchy distributed, as with notebook 11.1's equal variances for weights
  and biases); the other K − 1 layers are BN → ReLU → Linear (``udl.models.ResidualMLP`` with
  ``residual=False``: a linear layer, K − 2 blocks and the BN → ReLU → Linear output head).
- ``residual``: the same layers with skip connections around every BN → ReLU → Linear block (UDL fig. 11.5b,
  section 11.4). For each network index the plain and residual nets share every parameter (same generator
  seed), so they differ *only* in the skip connections. At K = 1 both are the shallow network.
- ``notebook`` (for contrast): notebook 11.1's own network, a plain MLP with weights *and* biases drawn from
  N(0, 1/200) ("Glorot", He without the factor 2) and no batch norm.

Batch normalization follows Balduzzi et al. ("despite well-chosen initialization and batch normalization"): its
statistics are those of the input grid (one training-mode pass), then frozen, so dy/dx is a per-input derivative.
Without batch norm and with zero biases a ReLU network is positively homogeneous in a scalar x (dy/dx takes two
values); with notebook 11.1's random biases and 1/D variances the gradient stays fairly smooth even at K = 50, the
non-replication the notebook's own text reports ("I don't" find it convincing). We plot that setting; the claims
use the batch-normalized networks of the paper the book's figure is adapted from.

Checks (exact): ``udl.functional.autocorrelation`` equals notebook 11.1's ``np.correlate`` computation on the
measured gradients; at K = 1 the plain and residual networks are the same network, so their gradients agree.

Claims (ρ at the distance ``lag`` = 1/64, one step of the notebook's 256-point grid; one ρ per random network,
``networks`` of them, judged by ``udl.stats.paired_difference`` with a 2 SE bar, against a constant for the
thresholds): a shallow network's gradient is smooth (ρ above ``smooth_min`` at K = 1); a deep plain network's has
shattered (|ρ| below ``shattered_max`` at every depth K ≥ 2 of ``depths``, i.e. white noise); the residual
network's stays correlated (ρ above ``residual_min`` at every depth, and above the plain network's of the same
parameters, paired by network seed, at every K ≥ 2). The thresholds were fixed with the first version of this
experiment and are not moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from udl.functional import autocorrelation
from udl.models import ResidualMLP, ResidualMLPConfig
from udl.nn import MLP, BatchNorm
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import Verdict, all_of, paired_difference

CHAPTER = 11
SECTION = "11.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Gradients dy/dx of deep plain nets shatter into white noise; residual nets keep them correlated (fig. 11.3)"
CONTEXT = (
    "Section 11.1 explains why deep plain networks are hard to train with shattered gradients (fig. 11.3, after "
    "Balduzzi et al., 2017): as depth grows, the gradient of the output with respect to the input changes ever "
    "more quickly and unpredictably, so nearby inputs have nearly uncorrelated gradients and the loss surface "
    "gives gradient descent little to follow. Residual connections reduce this shattering (sections 11.2-11.4)."
)

VARIANTS = ("plain", "residual", "notebook")


@dataclass(frozen=True)
class Config:
    depths: tuple[int, ...] = (1, 24, 50)
    """numbers of hidden layers K (must include 1 and at least one K >= 2)"""
    width: int = 200
    """hidden units per layer"""
    points: int = 1024
    """grid points evenly spaced on [-2, 2) (notebook 11.1 uses 256)"""
    networks: int = 32
    """random networks per (variant, depth); the autocorrelations are averaged over them"""
    lag: float = 1 / 64
    """input distance Δ at which the claims read the autocorrelation (a multiple of the grid step 4/points)"""
    smooth_min: float = 0.8
    """a gradient counts as smooth at Δ = lag when ρ >= this"""
    shattered_max: float = 0.2
    """a gradient counts as shattered (white noise) at Δ = lag when |ρ| <= this"""
    residual_min: float = 0.5
    """the residual networks' ρ at Δ = lag must stay >= this at every depth"""
    seed: int = 0
    """network r uses generator seed seed + r (shared by the plain and residual variants)"""

    def __post_init__(self) -> None:
        if 1 not in self.depths or max(self.depths) < 2 or min(self.depths) < 1:
            raise ValueError(f"depths must be >= 1, include 1 and at least one depth >= 2, got {self.depths}")
        if self.width < 2 or self.networks < 1 or self.points < 16:
            raise ValueError("need width >= 2, networks >= 1 and points >= 16")
        steps = self.lag * self.points / 4
        if self.lag <= 0 or abs(steps - round(steps)) > 1e-9 or not 1 <= round(steps) < self.points // 2:
            raise ValueError(
                f"lag must be a positive multiple of the grid step 4/points = {4 / self.points:g} below 2, "
                f"got {self.lag:g}"
            )
        if not (0 < self.shattered_max < self.residual_min <= 1 and 0 < self.smooth_min <= 1):
            raise ValueError("need 0 < shattered_max < residual_min <= 1 and 0 < smooth_min <= 1")


PRESETS = {
    "smoke": Config(depths=(1, 4), width=32, points=64, networks=2, lag=1 / 16),
    "quick": Config(points=512, networks=16),
    "full": Config(),
}


def build_network(variant: str, depth: int, width: int, seed: int, device: torch.device) -> nn.Module:
    """The K = ``depth`` hidden-layer network of ``variant`` (see the module docstring), float64."""
    generator = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    if variant == "notebook":  # notebook 11.1: every weight and bias ~ N(0, σ²), σ² = 1/D, no batch norm
        mlp = MLP(1, (width,) * depth, 1, generator=generator, dtype=f64)
        with torch.no_grad():
            for layer in mlp.linears:
                layer.weight.normal_(0.0, math.sqrt(1.0 / width), generator=generator)
                layer.bias.normal_(0.0, math.sqrt(1.0 / width), generator=generator)
        return mlp.to(device)
    # First hidden layer: He weights N(0, 2) (fan-in 1) and biases from the same distribution, so the joints
    # −β/ω are standard-Cauchy distributed over the input range; no batch norm here (over a 1-D input it would
    # move every joint to the grid's mean).
    first = MLP(1, (), width, generator=generator, dtype=f64)
    with torch.no_grad():
        first.linears[0].bias.normal_(0.0, math.sqrt(2.0), generator=generator)
    rest: nn.Module
    if depth == 1:
        rest = MLP(width, (), 1, generator=generator, dtype=f64)  # the shallow network's output layer
    else:  # K − 1 more hidden layers, each BN → ReLU → Linear, with or without skip connections
        cfg = ResidualMLPConfig(
            width, 1, width=width, depth=depth - 2, residual=variant == "residual", batchnorm=True
        )
        rest = ResidualMLP(cfg, generator=generator, dtype=f64)
    return nn.Sequential(first, nn.ReLU(), rest).to(device)


def input_gradient(net: nn.Module, x: Tensor) -> Tensor:
    """dy/dx at every grid point (points,), batch-norm statistics taken from the grid and then frozen."""
    norms = [m for m in net.modules() if isinstance(m, BatchNorm)]
    if norms:
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # one batch: running statistics = the grid's statistics
        net.train()
        with torch.no_grad():
            net(x.unsqueeze(1))
    net.eval()
    xs = x.detach().clone().requires_grad_(True)
    y = net(xs.unsqueeze(1))  # (points, 1); each output depends on its own input only
    (grad,) = torch.autograd.grad(y.sum(), xs)
    return grad


def exceeds(values: list[float], threshold: float) -> Verdict:
    """The seed mean of ``values`` exceeds ``threshold`` by more than 2 SE (paired_difference with a constant)."""
    return paired_difference(values, [threshold] * len(values)).verdict


def smooth_verdict(rho_shallow: list[float], smooth_min: float) -> Verdict:
    """A shallow network's gradient is smooth: ρ at the lag above ``smooth_min`` (per-network values)."""
    return exceeds(rho_shallow, smooth_min)


def shatter_verdict(rho_deep: dict[int, list[float]], shattered_max: float) -> Verdict:
    """Deep plain gradients are white noise: |ρ| below ``shattered_max`` at every deep K."""
    return all_of(
        *(paired_difference([shattered_max] * len(r), [abs(v) for v in r]).verdict for r in rho_deep.values())
    )


def resist_verdict(
    rho_residual: dict[int, list[float]], rho_plain: dict[int, list[float]], residual_min: float
) -> Verdict:
    """Residual gradients stay correlated: ρ above ``residual_min`` at every K, and above the plain network's
    (paired by network seed) at every K >= 2."""
    above = [exceeds(r, residual_min) for r in rho_residual.values()]
    beats = [paired_difference(rho_residual[k], rho_plain[k]).verdict for k in rho_residual if k >= 2]
    return all_of(*above, *beats)


def run(cfg: Config, run: Run) -> None:
    device = run.device
    # -- the input grid -----------------------------------------------------------------------------------------
    x = torch.linspace(-2.0, 2.0, cfg.points + 1, dtype=torch.float64)[:-1].to(
        device
    )  # [-2, 2), step 4/points
    step = 4.0 / cfg.points
    max_lag = cfg.points // 2  # distances 0 .. 2, as in the notebook's plot
    lag_index = round(cfg.lag / step)

    # -- gradients and their autocorrelation, averaged over random networks -----------------------------------
    acf: dict[tuple[str, int], Tensor] = {}
    example: dict[tuple[str, int], Tensor] = {}
    rms: dict[tuple[str, int], float] = {}
    per_net: dict[tuple[str, int], list[float]] = {}  # ρ at the lag, one per random network
    jobs = [(v, k) for v in VARIANTS for k in cfg.depths]
    with run.progress(len(jobs), "variant × depth") as bar:
        for i, (variant, depth) in enumerate(jobs):
            key = f"{variant}-K{depth}"
            saved = run.load_state(key)
            if saved is None:
                grads = torch.stack(
                    [
                        input_gradient(build_network(variant, depth, cfg.width, cfg.seed + r, device), x)
                        for r in range(cfg.networks)
                    ]
                )  # (networks, points)
                per_network = autocorrelation(grads, max_lag)  # (networks, max_lag)
                saved = {
                    "acf": per_network.mean(0).cpu(),
                    "rho_lag": per_network[:, lag_index].cpu(),
                    "example": grads[0].cpu(),
                    "rms": grads.square().mean().sqrt().cpu(),  # gradient scale, for the summary
                }
                run.save_state(key, saved)
            acf[(variant, depth)], example[(variant, depth)] = saved["acf"], saved["example"]
            per_net[(variant, depth)] = saved["rho_lag"].tolist()
            rms[(variant, depth)] = float(saved["rms"])
            at_lag = float(acf[(variant, depth)][lag_index])
            run.log(i, **{f"{variant}/rho_K{depth}": at_lag})
            bar.update(i + 1, rho=at_lag)

    # -- checks -----------------------------------------------------------------------------------------------
    g = example[("plain", max(cfg.depths))].numpy()
    c = g - g.mean()
    notebook = np.correlate(c, c, mode="full")[len(c) - 1 : len(c) - 1 + max_lag] / float(c @ c)
    ours = autocorrelation(example[("plain", max(cfg.depths))], max_lag).numpy()
    run.check(
        "autocorrelation-is-np-correlate",
        "The autocorrelation of the measured gradient equals notebook 11.1's np.correlate of the mean-removed "
        "sequence, normalized by its lag-0 value (max abs difference)",
        error=float(np.abs(ours - notebook).max()),
        tolerance=1e-12,
    )
    run.check(
        "k1-plain-equals-residual",
        "At K = 1 the plain and residual networks are one network (same parameters, no blocks): their mean "
        "autocorrelations agree exactly (max abs difference)",
        error=float((acf[("plain", 1)] - acf[("residual", 1)]).abs().max()),
        tolerance=0.0,
    )

    # -- claims -------------------------------------------------------------------------------------------------
    rho = {(v, k): round(float(acf[(v, k)][lag_index]), 4) for v in VARIANTS for k in cfg.depths}
    deep = [k for k in cfg.depths if k >= 2]
    n = cfg.networks
    shallow = paired_difference(per_net[("plain", 1)], [cfg.smooth_min] * n)
    run.claim(
        "shallow-gradients-smooth",
        f"A one-hidden-layer network's gradient dy/dx changes slowly: nearby inputs (Δx = {cfg.lag:g}) have "
        f"strongly correlated gradients (ρ − {cfg.smooth_min:g} > 2 SE over {n} networks)",
        holds=smooth_verdict(per_net[("plain", 1)], cfg.smooth_min),
        measured={"rho_K1": rho[("plain", 1)], "vs_threshold": shallow.to_json()},
        expected=f"ρ > {cfg.smooth_min:g} by 2 SE",
    )
    run.claim(
        "plain-gradients-shatter",
        f"In deep plain networks the gradients of nearby inputs (Δx = {cfg.lag:g}) become uncorrelated, like white "
        f"noise (|ρ| below {cfg.shattered_max:g} by 2 SE at every K ≥ 2, {n} networks)",
        holds=shatter_verdict({k: per_net[("plain", k)] for k in deep}, cfg.shattered_max),
        measured={f"rho_K{k}": rho[("plain", k)] for k in cfg.depths},
        expected=f"|ρ| < {cfg.shattered_max:g} by 2 SE for K ≥ 2 in {deep}",
    )
    versus = {k: paired_difference(per_net[("residual", k)], per_net[("plain", k)]) for k in deep}
    run.claim(
        "residual-gradients-resist",
        "Residual connections keep the gradients of nearby inputs correlated at the depths where the plain "
        f"network's have shattered: ρ above {cfg.residual_min:g} at every depth and above the plain network's "
        f"with the same parameters (paired by network seed, {n} networks, mean diff > 2 SE)",
        holds=resist_verdict(
            {k: per_net[("residual", k)] for k in cfg.depths},
            {k: per_net[("plain", k)] for k in cfg.depths},
            cfg.residual_min,
        ),
        measured={
            **{f"rho_K{k}": rho[("residual", k)] for k in cfg.depths},
            **{f"residual_minus_plain_K{k}": c.to_json() for k, c in versus.items()},
        },
        expected=f"ρ > {cfg.residual_min:g} by 2 SE at every depth; residual − plain > 2 SE",
    )
    run.summary(
        **{f"{v}_rho_K{k}": rho[(v, k)] for v in VARIANTS for k in cfg.depths},
        **{f"{v}_grad_rms_K{k}": rms[(v, k)] for v in VARIANTS for k in cfg.depths},
        lag=cfg.lag,
    )

    # -- figure: gradients and autocorrelations, cf. fig. 11.3 ---------------------------------------------------
    deepest = max(cfg.depths)
    fig, axes = subplots(2, 3, width=4.6, height=3.3)
    xs = x.cpu().numpy()
    for ax, (variant, depth) in zip(
        axes[0], [("plain", 1), ("plain", deepest), ("residual", deepest)], strict=True
    ):
        ax.plot(xs, example[(variant, depth)].numpy(), linewidth=0.8, color=PALETTE[0])
        ax.set(xlabel="input x", ylabel="dy/dx", title=f"{variant}, K = {depth}", xlim=(-2, 2))
    distance = torch.arange(max_lag, dtype=torch.float64) * step
    titles = {
        "plain": "Plain (He + BN)",
        "residual": "Residual (He + BN)",
        "notebook": "Notebook 11.1 (Glorot, no BN)",
    }
    for ax, variant in zip(axes[1], VARIANTS, strict=True):
        for j, depth in enumerate(cfg.depths):
            ax.plot(distance.numpy(), acf[(variant, depth)].numpy(), label=f"K = {depth}", color=PALETTE[j])
        ax.axvline(cfg.lag, color="gray", linestyle=":", linewidth=0.8)
        ax.set(
            xlabel="distance Δx",
            ylabel="autocorrelation",
            title=titles[variant],
            xlim=(0, 2),
            ylim=(-0.3, 1.05),
        )
        ax.legend(fontsize=7)
    run.figure("shattered-gradients", fig)
