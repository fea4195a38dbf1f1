"""The VAE recipe the chapter 17 experiments share: three training variants and the held-out measures.

A :class:`VAERecipe` Config trains ``udl.generative.VAE`` models (an MLP encoder, a "strong" MLP decoder) by Adam
with a cosine decay in three variants per seed: ``elbo`` (the ELBO itself, UDL section 17.6), ``warmup`` (the KL
weight rising linearly from 0 to 1 over the first ``warmup_fraction`` of training; Bowman et al. 2016) and
``free-bits`` (each latent dimension's KL per example floored at ``free_bits`` nats; Kingma et al. 2016).
:func:`evaluate_vaes` trains them all and measures, on held-out data, the ELBO, the IWAE bound (UDL section
17.8.1) and the KL per latent dimension; :func:`state_vae_claims` states the check (IWAE not below the ELBO) and
the three collapse claims with the pure verdicts :func:`collapse_verdict` and :func:`fewer_collapsed_verdict`.

Everything here is protocol, not library: the model, losses and loop are public udl parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.generative import VAE
from udl.optim import Adam, CosineDecay
from udl.report import Run
from udl.stats import Verdict, paired_difference
from udl.train import OptimizerStep, minibatches, train

__all__ = [
    "VARIANTS",
    "VAERecipe",
    "VAEResults",
    "collapse_verdict",
    "evaluate_vaes",
    "fewer_collapsed_verdict",
    "plot_kl_per_dimension",
    "state_vae_claims",
]  # fmt: skip

VARIANTS = ("elbo", "warmup", "free-bits")

_RecipeT = TypeVar("_RecipeT", bound="VAERecipe")


@dataclass(frozen=True)
class VAERecipe:
    """The shared fields of the VAE experiments' Configs (see the module docstring)."""

    latent_dim: int = 16
    """dimension of z"""
    encoder_hidden: tuple[int, ...] = (128,)
    """hidden widths of the encoder MLP"""
    decoder_hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the (strong) decoder MLP"""
    steps: int = 2000
    """Adam steps per model"""
    batch_size: int = 128
    """mini-batch size"""
    lr: float = 1e-3
    """Adam's initial learning rate (cosine decay to 0)"""
    warmup_fraction: float = 0.5
    """``warmup``: the share of training over which the KL weight rises from 0 to 1"""
    free_bits: float = 0.5
    """``free-bits``: the KL floor per latent dimension (nats)"""
    collapse_nats: float = 0.01
    """a latent dimension whose mean test KL is below this is collapsed"""
    eval_samples: int = 16
    """reparameterized draws per test signal for the held-out ELBO"""
    iwae_k: int = 64
    """importance samples K of the held-out IWAE bound"""
    seeds: int = 3
    """seeds (initializations and mini-batch orders), paired across the variants"""
    seed: int = 0
    """seed of the first run"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), warmup_fraction=(0, 1), free_bits=(0, 100), collapse_nats=(0, 10))
        at_least(self, 1, "latent_dim", "steps", "batch_size", "eval_samples", "iwae_k", "seeds")
        for name in ("encoder_hidden", "decoder_hidden"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ValueError(
                    f"{name} must be a non-empty tuple of widths >= 1, got {getattr(self, name)}"
                )

    @classmethod
    def presets(cls: type[_RecipeT]) -> dict[str, _RecipeT]:
        """The smoke, quick and full presets every VAE experiment runs, as instances of its Config ``cls``."""
        return {
            "smoke": cls(
                latent_dim=4,
                encoder_hidden=(32,),
                decoder_hidden=(32,),
                steps=40,
                eval_samples=2,
                iwae_k=4,
                seeds=1,
            ),
            "quick": cls(),
            "full": cls(
                encoder_hidden=(128, 128), decoder_hidden=(256, 256, 256), steps=20_000, seeds=5, iwae_k=1000
            ),
        }


def collapse_verdict(collapsed: list[float]) -> Verdict:
    """Posterior collapse occurs: the number of collapsed dimensions is above 0 by 2 SE over seeds."""
    return paired_difference(collapsed, [0.0] * len(collapsed)).verdict


def fewer_collapsed_verdict(plain: list[float], fixed: list[float]) -> Verdict:
    """The fix leaves fewer collapsed dimensions than the plain ELBO (paired by seed, > 2 SE)."""
    return paired_difference(plain, fixed).verdict


def train_vae(cfg: VAERecipe, variant: str, x: Tensor, likelihood: str, seed: int, run: Run) -> VAE:
    """One VAE of ``variant`` trained on x (N, D) from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    vae = VAE(x.shape[1], cfg.latent_dim, cfg.encoder_hidden, likelihood,  # type: ignore[arg-type]
              decoder_hidden=cfg.decoder_hidden, generator=g)  # fmt: skip
    opt = Adam(vae.parameters(), lr=cfg.lr)
    update = OptimizerStep(opt, scheduler=CosineDecay(opt, total_steps=cfg.steps))
    state: dict[str, Any] = {"model": vae, "optimizer": opt, "generator": g, "updates": 0}
    warmup_steps = max(1, round(cfg.warmup_fraction * cfg.steps))

    def step(batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        weight = min(1.0, state["updates"] / warmup_steps) if variant == "warmup" else 1.0
        free = cfg.free_bits if variant == "free-bits" else 0.0
        objective, kl_dims = vae.elbo(batch[0], kl_weight=weight, free_bits=free, generator=g)
        loss = -objective.mean()
        update(loss)
        state["updates"] += 1
        return {"loss": loss.detach(), "kl": kl_dims.sum(1).mean().detach()}

    train(step, lambda epoch: minibatches(x, batch_size=cfg.batch_size, generator=g), steps=cfg.steps,
          state=state, run=run, name=f"{variant}-{seed}", log_every=max(1, cfg.steps // 10))  # fmt: skip
    return vae.eval()


@dataclass
class VAEResults:
    """What :func:`evaluate_vaes` measured: per variant and seed, and seed 0's models and KL profiles."""

    elbo: dict[str, list[float]] = field(default_factory=dict)
    """held-out mean ELBO (nats per example), per variant, one entry per seed"""
    iwae: dict[str, list[float]] = field(default_factory=dict)
    """held-out mean IWAE bound, per variant and seed"""
    collapsed: dict[str, list[float]] = field(default_factory=dict)
    """collapsed latent dimensions (mean held-out KL < collapse_nats), per variant and seed"""
    kl_profile: dict[str, Tensor] = field(default_factory=dict)
    """seed 0: the mean held-out KL of every latent dimension, per variant"""
    models: dict[str, VAE] = field(default_factory=dict)
    """seed 0's trained model of each variant"""
    worst_iwae_z: float = 0.0
    """the largest z = (mean ELBO − mean IWAE) / SE over the models (≤ 4: IWAE not below the ELBO)"""


def evaluate_vaes(cfg: VAERecipe, run: Run, x_train: Tensor, x_test: Tensor, likelihood: str) -> VAEResults:
    """Train every variant for every seed and measure it on ``x_test``."""
    out = VAEResults(**{k: {v: [] for v in VARIANTS} for k in ("elbo", "iwae", "collapsed")})  # type: ignore[arg-type]
    worst = -math.inf
    with run.progress(cfg.seeds * len(VARIANTS), "training VAEs") as bar:
        for s in range(cfg.seeds):
            for i, variant in enumerate(VARIANTS):
                vae = train_vae(cfg, variant, x_train, likelihood, cfg.seed + s, run)
                ge = torch.Generator().manual_seed(10_000 + cfg.seed + s)
                with torch.no_grad():
                    elbo, kl_dims = vae.elbo(x_test, samples=cfg.eval_samples, generator=ge)
                    iwae = vae.iwae(x_test, cfg.iwae_k, generator=ge)
                kl_mean = kl_dims.mean(0)
                diff = elbo - iwae
                worst = max(worst, float(diff.mean() / (diff.std() / math.sqrt(diff.numel()))))
                out.elbo[variant].append(float(elbo.mean()))
                out.iwae[variant].append(float(iwae.mean()))
                out.collapsed[variant].append(float((kl_mean < cfg.collapse_nats).sum()))
                if s == 0:
                    out.kl_profile[variant], out.models[variant] = kl_mean, vae
                bar.update(s * len(VARIANTS) + i + 1)
    out.worst_iwae_z = max(worst, 0.0)
    return out


def state_vae_claims(cfg: VAERecipe, run: Run, res: VAEResults) -> None:
    """The check (held-out IWAE not below the ELBO), the three collapse claims and the summary numbers."""
    run.check(
        "iwae-not-below-elbo",
        f"The held-out IWAE bound (K = {cfg.iwae_k}) is not below the held-out ELBO (every model; z of the mean "
        "ELBO − IWAE difference over held-out examples ≤ 4)",
        error=res.worst_iwae_z,
        tolerance=4.0,
    )
    plain = res.collapsed["elbo"]
    run.claim(
        "posterior-collapse",
        f"With a strong decoder and the plain ELBO some of the {cfg.latent_dim} latent dimensions collapse "
        f"(mean held-out KL < {cfg.collapse_nats:g} nats; {cfg.seeds} seeds, count > 0 by 2 SE)",
        holds=collapse_verdict(plain),
        measured={"collapsed": plain},
        expected="> 0",
    )
    remedies = {
        "free-bits": f"Free bits ({cfg.free_bits:g} nats per dimension)",
        "warmup": f"KL warm-up (over {cfg.warmup_fraction:.0%} of training)",
    }
    for variant, remedy in remedies.items():
        fixed = res.collapsed[variant]
        run.claim(
            f"{variant}-reduces-collapse",
            f"{remedy} leaves fewer latent dimensions collapsed than the plain ELBO ({cfg.seeds} seeds, paired, "
            "> 2 SE)",
            holds=fewer_collapsed_verdict(plain, fixed),
            measured={"elbo": plain, variant.replace("-", "_"): fixed},
            expected="fewer",
        )
    numbers = {"elbo": res.elbo, "iwae": res.iwae, "collapsed": res.collapsed}
    run.summary(**{f"{v}_{k}": sum(vals[v]) / len(vals[v]) for k, vals in numbers.items() for v in VARIANTS})


def plot_kl_per_dimension(ax: Any, cfg: VAERecipe, res: VAEResults) -> None:
    """Bars: each variant's sorted mean held-out KL per latent dimension (seed 0), with the collapse line."""
    width = 0.27
    dims = np.arange(cfg.latent_dim)
    for j, variant in enumerate(VARIANTS):
        order = res.kl_profile[variant].sort(descending=True).values.numpy()
        ax.bar(dims + (j - 1) * width, order, width, label=variant)
    ax.axhline(cfg.collapse_nats, color="k", linestyle=":", label=f"collapse ({cfg.collapse_nats:g})")
    ax.set(yscale="log", xlabel="latent dimension (sorted)", ylabel="mean held-out KL (nats)",
           title="KL per latent dimension (seed 0)")  # fmt: skip
    ax.legend(fontsize=7)
