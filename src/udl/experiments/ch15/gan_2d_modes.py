"""Mode collapse on 2-D mixtures (UDL section 15.3.1): does a vanilla GAN cover fewer modes than a Wasserstein
GAN with gradient penalty and than a GAN with mini-batch discrimination?

Protocol (after the ring-of-Gaussians test of Metz et al., 2017 and Srivastava et al., 2017, the classic probe
of mode collapse): data from a ring of ``modes`` Gaussians of radius 2 and s.d. ``std`` (or a 5 x 5 grid with
``density="grid"``). Three arms with the same generator (an MLP, ``width`` ReLU units in two hidden layers,
latent dimension ``latent_dim``), initialized alike within a seed, trained for ``steps`` generator updates on
batches of ``batch_size``:

- *vanilla*: the GAN of section 15.1 (non-saturating generator loss), MLP discriminator (LeakyReLU);
- *wgan-gp*: the same network as a critic, Wasserstein loss + gradient penalty (weight ``penalty``),
  ``n_critic`` critic updates per generator update, each on its own real batch;
- *minibatch*: the vanilla GAN with ``minibatch_features`` mini-batch discrimination kernels before the
  discriminator's output layer (Salimans et al., 2016).

Adam with β = (0.5, 0.999) for the GANs and (0.5, 0.9) for WGAN-GP (the papers' settings), learning rate ``lr``.
After training, ``n_eval`` samples are scored by mode coverage (``udl.metrics.mode_coverage``: a mode is hit
when it gets at least ``min_count`` samples within ``k_sigma`` σ of its mean) and k-NN precision/recall against
``n_eval`` fresh data samples. Claims: each stabilized arm hits more modes than the vanilla GAN, paired by seed
(> 2 SE). No hyper-parameter was tuned on these measurements.

What we measured (quick: 3 seeds, 1,000 generator steps, ring of 8): modes hit vanilla 8, 6, 7; mini-batch
discrimination 7, 7, 8 (+0.3 ± 0.7 modes: not established); WGAN-GP 0, 0, 6 (−5.0 ± 2.1: fails). At this budget
the vanilla GAN collapses only partly, and WGAN-GP is still moving its samples onto the modes (0.7-10% of its
samples within 3 σ, against 15-33% for the vanilla GAN). We did not establish why; WGAN-GP is usually trained for
far longer (its 1-Lipschitz critic gives small gradients). The book's statement is about trained models; the
full preset (10,000 steps, 10 seeds) is the better test of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import GaussianMixture, grid_of_gaussians, ring_of_gaussians
from udl.experiments._generative import draw, scatter_2d
from udl.experiments._recipes import seed_range
from udl.generative import MLPDiscriminator, gan_step, latent, wgan_gp_step
from udl.metrics import mode_coverage, precision_recall
from udl.nn import MLP
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, paired_difference
from udl.train import OptimizerStep, minibatches, train

CHAPTER = 15
SECTION = "15.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Mode collapse on a ring of Gaussians: vanilla GAN vs WGAN-GP vs mini-batch discrimination"
CONTEXT = (
    "Section 15.3.1 describes mode collapse: the generator maps most latent values to a few of the data's modes. "
    "Section 15.2 motivates the Wasserstein GAN, whose gradients do not vanish, and section 15.3.1 mini-batch "
    "discrimination, which lets the discriminator see that a batch of samples is too uniform."
)

ARMS = ("vanilla", "wgan-gp", "minibatch")


@dataclass(frozen=True)
class Config:
    density: Literal["ring", "grid"] = "ring"
    """the data: a ring of `modes` Gaussians, or a 5 x 5 grid"""
    modes: int = 8
    """modes of the ring (>= 2)"""
    std: float = 0.05
    """s.d. of each mode"""
    steps: int = 1000
    """generator updates per arm"""
    batch_size: int = 128
    """samples per batch"""
    width: int = 64
    """hidden units per layer of generator and discriminator"""
    latent_dim: int = 2
    """dimension of the generator's latent variable"""
    lr: float = 1e-3
    """Adam learning rate, both players, every arm"""
    n_critic: int = 5
    """WGAN-GP critic updates per generator update"""
    penalty: float = 10.0
    """WGAN-GP gradient-penalty weight λ"""
    minibatch_features: int = 8
    """mini-batch discrimination kernels B (kernel dimension 4)"""
    n_train: int = 20_000
    """training samples of the density"""
    n_eval: int = 2000
    """generated and fresh data samples for the metrics"""
    k_sigma: float = 3.0
    """a sample within this many σ of its nearest mode is of high quality"""
    min_count: int = 20
    """high-quality samples a mode needs to count as hit"""
    seeds: int = 3
    """training runs per arm (seeds seed, seed+1, ...)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, std=(0, 1), lr=(0, 1), penalty=(0, 1000), k_sigma=(0, 10))
        if self.density not in ("ring", "grid"):
            raise ValueError(f"density must be 'ring' or 'grid', got {self.density!r}")
        at_least(self, 2, "modes")
        at_least(
            self,
            1,
            "n_critic",
            "minibatch_features",
            "min_count",
            "seeds",
            "steps",
            "batch_size",
            "width",
            "latent_dim",
        )
        if self.n_eval < 10 or self.n_train < self.batch_size * self.n_critic:
            raise ValueError(
                f"n_eval must be >= 10 and n_train >= batch_size·n_critic, got {self.n_eval}, {self.n_train}"
            )


PRESETS = {
    "smoke": Config(steps=20, seeds=2, width=32, n_eval=300, n_train=2000),
    "quick": Config(),
    "full": Config(steps=10_000, seeds=10, n_eval=5000),
}


def more_modes_verdict(stabilized: list[int], vanilla: list[int]) -> Verdict:
    """The stabilized arm hits more modes than the vanilla GAN: paired by seed, mean gain > 2 SE."""
    return paired_difference([float(v) for v in stabilized], [float(v) for v in vanilla]).verdict


def _density(cfg: Config) -> GaussianMixture:
    if cfg.density == "ring":
        return ring_of_gaussians(cfg.modes, radius=2.0, std=cfg.std)
    return grid_of_gaussians(5, spacing=1.0, std=cfg.std)


def _train_arm(arm: str, x: Tensor, cfg: Config, seed: int, run: Run) -> MLP:
    init = torch.Generator().manual_seed(seed)  # the same generator initialization in every arm
    gen = MLP(cfg.latent_dim, (cfg.width, cfg.width), 2, "relu", generator=init)
    mb = cfg.minibatch_features if arm == "minibatch" else 0
    disc = MLPDiscriminator(2, (cfg.width, cfg.width), minibatch_features=mb, generator=init)
    noise = torch.Generator().manual_seed(1000 + seed)
    betas = (0.5, 0.9) if arm == "wgan-gp" else (0.5, 0.999)
    g_opt, d_opt = (
        Adam(gen.parameters(), lr=cfg.lr, betas=betas),
        Adam(disc.parameters(), lr=cfg.lr, betas=betas),
    )
    g_update, d_update = OptimizerStep(g_opt), OptimizerStep(d_opt)
    if arm == "wgan-gp":
        step = wgan_gp_step(
            gen, disc, g_update, d_update, latent_dim=cfg.latent_dim, noise=noise, n_critic=cfg.n_critic,
            penalty_weight=cfg.penalty,
        )  # fmt: skip
        batch = cfg.batch_size * cfg.n_critic  # one real chunk per critic update
    else:
        step = gan_step(gen, disc, g_update, d_update, latent_dim=cfg.latent_dim, noise=noise)
        batch = cfg.batch_size
    train(
        step,
        lambda epoch: minibatches(x, batch_size=batch, generator=noise),
        steps=cfg.steps,
        state={"gen": gen, "disc": disc, "g_opt": g_opt, "d_opt": d_opt, "noise": noise},
        run=run,
        name=f"{arm}_seed{seed}",
        log_every=min(100, cfg.steps),
    )
    return gen.eval()


def run(cfg: Config, run: Run) -> None:
    mixture = _density(cfg)
    hits: dict[str, list[int]] = {a: [] for a in ARMS}
    quality: dict[str, list[float]] = {a: [] for a in ARMS}
    pr: dict[str, dict[str, list[float]]] = {a: {"precision": [], "recall": []} for a in ARMS}
    shown: dict[str, Tensor] = {}
    reference = torch.zeros(0, 2)
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        x = draw(mixture, cfg.n_train, g).float()
        reference = draw(mixture, cfg.n_eval, g).float()
        for arm in ARMS:
            gen = _train_arm(arm, x, cfg, seed, run)
            with torch.no_grad():
                samples = gen(latent(cfg.n_eval, cfg.latent_dim, torch.Generator().manual_seed(2000 + seed)))
            cover = mode_coverage(samples, mixture, k_sigma=cfg.k_sigma, min_count=cfg.min_count)
            scores = precision_recall(reference, samples, k=3)
            hits[arm].append(cover.modes_hit)
            quality[arm].append(cover.high_quality)
            pr[arm]["precision"].append(scores.precision)
            pr[arm]["recall"].append(scores.recall)
            shown.setdefault(arm, samples)
            run.log(seed, **{f"{arm}_modes_hit": cover.modes_hit, f"{arm}_high_quality": cover.high_quality})

    k = mixture.n_components
    for arm, label in (("wgan-gp", "WGAN-GP"), ("minibatch", "mini-batch discrimination")):
        comparison = paired_difference([float(h) for h in hits[arm]], [float(h) for h in hits["vanilla"]])
        run.claim(
            f"{arm}-covers-more-modes",
            f"A GAN with {label} covers more of the {k} modes than the vanilla GAN (modes with >= "
            f"{cfg.min_count} of {cfg.n_eval} samples within {cfg.k_sigma:g} σ; {cfg.steps} generator steps; "
            f"paired by seed, {cfg.seeds} seeds, > 2 SE): {comparison.describe('modes')}",
            holds=more_modes_verdict(hits[arm], hits["vanilla"]),
            measured={
                **comparison.to_json(),
                "modes_hit": {a: hits[a] for a in ("vanilla", arm)},
                "high_quality": {a: quality[a] for a in ("vanilla", arm)},
            },
            expected=f"modes({arm}) − modes(vanilla) > 2 SE",
        )
    run.summary(
        **{f"{a}_modes_hit_mean": sum(hits[a]) / cfg.seeds for a in ARMS},
        **{f"{a}_high_quality_mean": sum(quality[a]) / cfg.seeds for a in ARMS},
        **{f"{a}_precision_mean": sum(pr[a]["precision"]) / cfg.seeds for a in ARMS},
        **{f"{a}_recall_mean": sum(pr[a]["recall"]) / cfg.seeds for a in ARMS},
        vanilla_collapsed_seeds=sum(h < k for h in hits["vanilla"]),
    )

    fig, axes = subplots(1, 3, width=3.4, height=3.5)
    limit = 3.0 if cfg.density == "ring" else 3.2
    for ax, arm in zip(axes[0], ARMS, strict=True):
        title = (
            f"{arm}: {hits[arm][0]}/{k} modes, P {pr[arm]['precision'][0]:.2f} R {pr[arm]['recall'][0]:.2f}"
        )
        scatter_2d(ax, reference, shown[arm], title, limit=limit)
        ax.title.set_fontsize(8)
    run.figure("samples", fig)

    fig, axes = subplots(1, 2, width=4.2)
    seeds = list(seed_range(cfg))
    for i, arm in enumerate(ARMS):
        offset = [s + (i - 1) * 0.25 for s in seeds]
        axes[0, 0].bar(offset, hits[arm], width=0.25, label=arm)
        axes[0, 1].bar(offset, quality[arm], width=0.25, label=arm)
    axes[0, 0].set(xlabel="seed", ylabel=f"modes hit (of {k})", title="Mode coverage", xticks=seeds)
    axes[0, 1].set(
        xlabel="seed", ylabel=f"fraction within {cfg.k_sigma:g} σ", title="Sample quality", xticks=seeds
    )
    axes[0, 0].legend(fontsize=8)
    run.figure("modes-per-seed", fig)
