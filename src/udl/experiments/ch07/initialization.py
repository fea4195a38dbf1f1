"""Initialization (UDL chapter 7, section 7.5, fig. 7.7): only He's scale keeps signals alive through 50 layers.

Protocol: ReLU networks of ``layers`` layers of ``width`` units, biases 0, weights N(0, σ²_Ω) with σ²_Ω a multiple
``scale`` of He's 2/D (scale = 1 is He). A batch of standard-normal inputs goes forward; a random linear read-out
of the last layer's pre-activations is backpropagated. For every layer we record the variance of the
pre-activations f_k (forward) and of the gradients ∂L/∂f_k (backward), averaged over ``networks`` independent
networks (all in one batched matmul per layer, float64).

Eq. 7.31 says each layer multiplies the forward variance by σ²_Ω D/2 = scale, and the backward pass (through Ω^T)
does the same in reverse: over L layers the variance changes by scale^(L−1). Only scale = 1 keeps both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from udl.checks import at_least
from udl.report import Run
from udl.report.figures import integer_ticks, subplots

CHAPTER = 7
SECTION = "7.5"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Activation and gradient variance through 50 ReLU layers: only He's σ² = 2/D keeps both (fig. 7.7)"
CONTEXT = (
    "Section 7.5 shows that with weights of variance σ²_Ω each ReLU layer scales the pre-activations' variance by "
    "σ²_Ω·D/2, so in a deep network it vanishes or explodes exponentially unless σ²_Ω = 2/D (He initialization); "
    "the backward pass behaves the same way for the gradients."
)


@dataclass(frozen=True)
class Config:
    scales: tuple[float, ...] = (0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 2.0)
    """weight variances as multiples of He's 2/D (must include 1.0)"""
    layers: int = 50
    """hidden layers L"""
    width: int = 256
    """units per layer D"""
    networks: int = 4
    """independent networks per scale (variances are averaged over them)"""
    batch: int = 512
    """standard-normal inputs per network"""
    factor: float = 4.0
    """'within a small factor': the largest change of variance, first to last layer, that counts as kept"""
    slope_tolerance: float = 0.03
    """largest relative difference between the measured per-layer factor and eq. 7.31's σ²_Ω·D/2"""
    seed: int = 0
    """seed for weights, inputs and the read-out"""

    def __post_init__(self) -> None:
        if 1.0 not in self.scales or min(self.scales) <= 0 or len(set(self.scales)) != len(self.scales):
            raise ValueError(f"scales must be distinct, positive and include 1.0 (He), got {self.scales}")
        at_least(self, 2, "layers", "width", "networks", "batch")
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")
        if not 0 < self.slope_tolerance < 1:
            raise ValueError(f"slope_tolerance must be in (0, 1), got {self.slope_tolerance}")


PRESETS = {
    "smoke": Config(scales=(0.5, 1.0, 2.0), layers=10, width=32, networks=2, batch=64),
    "quick": Config(),
    "full": Config(scales=(0.25, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 2.0, 4.0), width=512, networks=8),
}


def variance_through_depth(
    scale: float, cfg: Config, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward variances per layer, (L,) each, averaged over ``cfg.networks`` networks."""
    r, d, n = cfg.networks, cfg.width, cfg.batch
    std = math.sqrt(scale * 2.0 / d)
    x = torch.randn(r, n, d, generator=generator, dtype=torch.float64).to(device)
    weights = [
        (torch.randn(r, d, d, generator=generator, dtype=torch.float64) * std).to(device)
        for _ in range(cfg.layers)
    ]
    readout = torch.randn(r, n, d, generator=generator, dtype=torch.float64).to(device)
    pre: list[torch.Tensor] = []
    h = x.requires_grad_()
    for w in weights:
        f = torch.bmm(h, w)  # f_k = Ω_{k-1} h_{k-1} (biases 0), batched over the networks
        f.retain_grad()
        pre.append(f)
        h = torch.relu(f)
    (pre[-1] * readout).sum().backward()  # a random linear read-out of the last layer
    forward = torch.stack([f.detach().var(dim=(1, 2)) for f in pre]).mean(dim=1)
    backward = torch.stack([f.grad.var(dim=(1, 2)) for f in pre if f.grad is not None]).mean(dim=1)
    return forward.cpu(), backward.cpu()


def variance_changes(forward: torch.Tensor, backward: torch.Tensor) -> tuple[float, float]:
    """How much the variance changes through the network: forward last/first layer, backward first/last."""
    return float(forward[-1] / forward[0]), float(backward[0] / backward[-1])


def only_he_verdict(changes: dict[float, tuple[float, float]], factor: float) -> bool:
    """Only scale 1 (He) keeps both changes within [1/factor, factor]: the set of keepers is exactly {1.0}."""
    kept = [s for s, cs in changes.items() if all(1 / factor <= c <= factor for c in cs)]
    return kept == [1.0]


def per_layer_factor(series: torch.Tensor) -> float:
    """exp of the least-squares slope of log(variance) over the layers: the measured factor per layer."""
    k = torch.arange(len(series), dtype=torch.float64)
    y = torch.log(series.to(torch.float64))
    return math.exp(float(((k - k.mean()) * (y - y.mean())).sum() / ((k - k.mean()) ** 2).sum()))


def factor_verdict(factors: dict[float, list[float]], tolerance: float) -> bool:
    """Every measured per-layer factor is within ``tolerance`` (relative) of eq. 7.31's σ²_Ω·D/2 = scale."""
    return max(abs(f / s - 1) for s, fs in factors.items() for f in fs) <= tolerance


def run(cfg: Config, run: Run) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    forward, backward, changes = {}, {}, {}
    with run.progress(len(cfg.scales), "scales") as bar:
        for i, scale in enumerate(cfg.scales):
            forward[scale], backward[scale] = variance_through_depth(scale, cfg, generator, run.device)
            changes[scale] = variance_changes(forward[scale], backward[scale])
            run.log(i, scale=scale, forward_change=changes[scale][0], backward_change=changes[scale][1])
            bar.update(i + 1, scale=scale)

    # -- claims -----------------------------------------------------------------------------------------------
    kept = [s for s, cs in changes.items() if all(1 / cfg.factor <= c <= cfg.factor for c in cs)]
    run.claim(
        "only-he-keeps-variance",
        f"Only He's σ²_Ω = 2/D keeps both the activations' and the gradients' variance within a factor "
        f"{cfg.factor:g} through {cfg.layers} layers; the other scales vanish or explode",
        holds=only_he_verdict(changes, cfg.factor),
        measured={"kept": kept, "he_forward": changes[1.0][0], "he_backward": changes[1.0][1]},
        expected="kept = [1.0]",
    )
    # Eq. 7.31: log variance falls on a line of slope log(scale) per layer (least-squares fit over the layers).
    factors = {s: [per_layer_factor(forward[s]), per_layer_factor(backward[s].flip(0))] for s in cfg.scales}
    worst = max(abs(f / s - 1) for s, fs in factors.items() for f in fs)
    run.claim(
        "per-layer-factor",
        "Each layer multiplies the variance by σ²_Ω·D/2 (eq. 7.31), forward for activations and backward for "
        "gradients",
        holds=factor_verdict(factors, cfg.slope_tolerance),
        measured={
            "worst_relative_error": worst,
            "factors": {f"{s:g}": round(fs[0], 4) for s, fs in factors.items()},
        },
        expected=f"≤ {cfg.slope_tolerance:g}",
    )
    run.summary(**{f"forward_change_{s:g}": changes[s][0] for s in cfg.scales})

    # -- figure (cf. fig. 7.7) --------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    layers = range(1, cfg.layers + 1)
    for s in cfg.scales:
        style = {"linewidth": 2.5, "color": "black"} if s == 1.0 else {"alpha": 0.8}
        label = "σ² = 2/D (He)" if s == 1.0 else f"σ² = {s:g}·2/D"
        axes[0, 0].semilogy(layers, forward[s], label=label, **style)
        axes[0, 1].semilogy(layers, backward[s], label=label, **style)
    axes[0, 0].set(xlabel="layer", ylabel="variance of pre-activations", title="Forward pass")
    axes[0, 1].set(xlabel="layer", ylabel="variance of ∂L/∂f", title="Backward pass")
    axes[0, 1].legend(fontsize=7)
    for ax in axes[0]:
        integer_ticks(ax, "x")
    run.figure("variance-through-depth", fig)
