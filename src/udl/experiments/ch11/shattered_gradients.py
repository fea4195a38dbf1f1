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

Batch normalization follows Balduzzi et al., whose paper studies shattering "despite well-chosen initialization
and batch normalization": the statistics are those of the input grid (one forward pass in training mode), then
frozen (eval mode), so that each y(x_i) depends on x_i alone and dy/dx is a per-input derivative. Without batch
norm and with zero biases a ReLU network is positively homogeneous in a scalar x, so dy/dx takes only two values
(x < 0 and x > 0) and nothing can shatter; with the notebook's random biases and 1/D variances the plain network's
gradient stays fairly smooth even at K = 50, the non-replication that notebook 11.1's own text reports ("Do you
find this a convincing replication ...? (I don't)"). We measure and plot that setting, but the claims use the
batch-normalized networks of the paper the book's figure is adapted from.

Claims (ρ at the distance ``lag`` = 1/64, one step of the notebook's 256-point grid): a shallow network's gradient
is smooth (ρ ≥ ``smooth_min`` at K = 1); a deep plain network's has shattered (|ρ| ≤ ``shattered_max`` at every
depth K ≥ 2 of ``depths``, i.e. white noise); the residual network's stays correlated (ρ ≥ ``residual_min``
at every depth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.models import ResidualMLP, ResidualMLPConfig
from udl.nn import MLP, BatchNorm
from udl.report import Run
from udl.report.figures import PALETTE, subplots

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


def autocorrelation(g: Tensor, max_lag: int) -> Tensor:
    """ρ(ℓ) = Σ_i (g_i − ḡ)(g_{i+ℓ} − ḡ) / Σ_i (g_i − ḡ)² for ℓ = 0..max_lag−1, over the last dimension."""
    c = g - g.mean(-1, keepdim=True)
    denominator = (c * c).sum(-1)
    n = g.shape[-1]
    return torch.stack(
        [(c[..., : n - lag] * c[..., lag:]).sum(-1) / denominator for lag in range(max_lag)], -1
    )


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
                saved = {
                    "acf": autocorrelation(grads, max_lag).mean(0).cpu(),
                    "example": grads[0].cpu(),
                    "rms": grads.square().mean().sqrt().cpu(),  # gradient scale, for the summary
                }
                run.save_state(key, saved)
            acf[(variant, depth)], example[(variant, depth)] = saved["acf"], saved["example"]
            rms[(variant, depth)] = float(saved["rms"])
            at_lag = float(acf[(variant, depth)][lag_index])
            run.log(i, **{f"{variant}/rho_K{depth}": at_lag})
            bar.update(i + 1, rho=at_lag)

    # -- claims -------------------------------------------------------------------------------------------------
    rho = {(v, k): round(float(acf[(v, k)][lag_index]), 4) for v in VARIANTS for k in cfg.depths}
    deep = [k for k in cfg.depths if k >= 2]
    shallow = min(rho[("plain", 1)], rho[("residual", 1)])
    run.claim(
        "shallow-gradients-smooth",
        f"A one-hidden-layer network's gradient dy/dx changes slowly: nearby inputs (Δx = {cfg.lag:g}) have "
        "strongly correlated gradients",
        holds=shallow >= cfg.smooth_min,
        measured={"rho_K1": rho[("plain", 1)]},
        expected=f"ρ ≥ {cfg.smooth_min:g}",
    )
    run.claim(
        "plain-gradients-shatter",
        f"In deep plain networks the gradients of nearby inputs (Δx = {cfg.lag:g}) become uncorrelated, like white "
        "noise (shattered gradients)",
        holds=all(abs(rho[("plain", k)]) <= cfg.shattered_max for k in deep),
        measured={f"rho_K{k}": rho[("plain", k)] for k in cfg.depths},
        expected=f"|ρ| ≤ {cfg.shattered_max:g} for K ≥ 2 in {deep}",
    )
    run.claim(
        "residual-gradients-resist",
        "Residual connections keep the gradients of nearby inputs correlated at the depths where the plain "
        "network's have shattered (same parameters, only the skips differ)",
        holds=all(rho[("residual", k)] >= cfg.residual_min for k in cfg.depths),
        measured={f"rho_K{k}": rho[("residual", k)] for k in cfg.depths},
        expected=f"ρ ≥ {cfg.residual_min:g} at every depth",
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
