"""A DCGAN on the 8 x 8 digits (UDL section 15.3, fig. 15.7), judged by the Fréchet digits distance.

Protocol (ours, the book's DCGAN trains on 64 x 64 faces): the 899 training digits of ``udl.data.
load_digits_split`` (stratified half), pixels mapped to [-1, 1]. Generator: z (``latent_dim``) -> linear ->
2 x 2 -> two stride-2 transposed convolutions with batch norm and ReLU -> 8 x 8, tanh; discriminator: two
stride-2 convolutions with LeakyReLU(0.2) -> linear (``udl.generative.DCGANGenerator`` /
``DCGANDiscriminator``; DCGAN's N(0, 0.02) initialization). The GAN loss of section 15.1 with the
non-saturating generator loss, Adam(``lr``, β = (0.5, 0.999)), batch ``batch_size``, ``steps`` steps.
The learning rate was picked once from {2e-4 (DCGAN's), 1e-3} on a seed-0 pilot run: 2e-4 is still far from
converged after 1,500 steps on this tiny set.

Every ``eval_every`` steps the Fréchet digits distance (FDD: the Fréchet distance in the feature space of the
cached digits classifier, ``udl.metrics.frechet_digits_distance``) between 899 samples (fixed noise) and the
training digits is recorded. Reference points: the held-out half of the digits (the floor a perfect generator
would reach) and the held-out digits with their pixels shuffled by one fixed permutation (right pixel
statistics, no digit structure).

Claims: the FDD falls during training, and the final samples are closer to the digits than the shuffled-pixel
baseline (paired by seed, > 2 SE, ``seeds`` seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import load_digits_split
from udl.experiments._generative import show_images, to_unit, train_gan
from udl.experiments._recipes import claim_comparison, seed_range
from udl.generative import DCGANDiscriminator, DCGANGenerator, gan_step, latent
from udl.metrics import digits_features, frechet_digits_distance
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, paired_difference

CHAPTER = 15
SECTION = "15.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "DCGAN on the 8x8 digits: samples, and the Fréchet digits distance vs held-out and shuffled-pixel sets"
)
CONTEXT = (
    "Section 15.3 describes the deep convolutional GAN (DCGAN): a generator of transposed convolutions with "
    "batch norm and a convolutional discriminator, trained with the GAN loss, which produced the first "
    "convincing GAN images (fig. 15.7). Section 14.3's Fréchet distance scores the samples."
)


@dataclass(frozen=True)
class Config:
    latent_dim: int = 16
    """dimension of the generator's latent variable z"""
    g_channels: tuple[int, int] = (64, 32)
    """channels of the generator at 2 x 2 and 4 x 4"""
    d_channels: tuple[int, int] = (32, 64)
    """channels of the discriminator at 4 x 4 and 2 x 2"""
    steps: int = 1500
    """training steps (one discriminator and one generator update each)"""
    batch_size: int = 64
    """real and generated images per step"""
    lr: float = 1e-3
    """Adam learning rate (both players)"""
    eval_every: int = 250
    """steps between Fréchet digits distance evaluations (divides steps)"""
    seeds: int = 3
    """training runs (seeds seed, seed+1, ...)"""
    seed: int = 0
    """first seed (initialization, batch order, noise)"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(self, 1, "latent_dim", "steps", "batch_size", "seeds")
        if (
            len(self.g_channels) != 2
            or len(self.d_channels) != 2
            or min(*self.g_channels, *self.d_channels) < 1
        ):
            raise ValueError(
                f"g_channels and d_channels must be two positive counts, got {self.g_channels}, {self.d_channels}"
            )
        if self.eval_every < 1 or self.steps % self.eval_every:
            raise ValueError(f"eval_every must be >= 1 and divide steps, got {self.eval_every}")


PRESETS = {
    "smoke": Config(steps=40, eval_every=20, seeds=1, g_channels=(16, 8), d_channels=(8, 16)),
    "quick": Config(),
    "full": Config(steps=10_000, eval_every=500, seeds=10),
}


def lower(lower: list[float], higher: list[float]) -> Comparison:
    """Is ``lower`` below ``higher``? The paired-by-seed ``higher − lower`` (note the order); holds when its mean is
    > 2 SE."""
    return paired_difference(higher, lower)


def run(cfg: Config, run: Run) -> None:
    data = load_digits_split()
    features = digits_features()
    x = data.x_train * 2 - 1  # (899, 1, 8, 8) in [-1, 1]
    held_out = frechet_digits_distance(data.x_train, data.x_test, features)
    curves: list[list[float]] = []
    shuffled_fdd: list[float] = []
    at: list[int] = []
    samples: Tensor | None = None
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        gen = DCGANGenerator(cfg.latent_dim, cfg.g_channels, generator=g)
        disc = DCGANDiscriminator(cfg.d_channels, generator=g)
        fixed = latent(len(x), cfg.latent_dim, torch.Generator().manual_seed(10_000 + seed))

        def fdd() -> dict[str, float]:
            return {"fdd": frechet_digits_distance(data.x_train, to_unit(gen(fixed)), features)}  # noqa: B023

        with torch.no_grad():
            initial = frechet_digits_distance(data.x_train, to_unit(gen.eval()(fixed)), features)
        gen.train()
        step = partial(gan_step, latent_dim=cfg.latent_dim, noise=g)
        result = train_gan(
            step,
            (x,),
            gen,
            disc,
            cfg,
            g,
            run=run,
            name=f"dcgan_seed{seed}",
            log_every=cfg.eval_every,
            evaluate=fdd,
        )
        curves.append([initial, *(h["fdd"] for h in result.history)])
        at = [0, *result.at]
        permutation = torch.randperm(64, generator=torch.Generator().manual_seed(seed))
        shuffled = data.x_test.flatten(1)[:, permutation].reshape(-1, 1, 8, 8)
        shuffled_fdd.append(frechet_digits_distance(data.x_train, shuffled, features))
        if samples is None:
            with torch.no_grad():
                samples = to_unit(gen.eval()(fixed[:64]))

    start, end = [c[0] for c in curves], [c[-1] for c in curves]
    falls = lower(end, start)
    claim_comparison(
        run,
        "fdd-falls",
        f"Training lowers the Fréchet digits distance of the DCGAN's samples to the training digits "
        f"({cfg.steps} steps; paired by seed, {cfg.seeds} seeds, > 2 SE): {falls.describe()}",
        falls,
        expected="FDD(start) − FDD(end) > 2 SE",
        fdd_start=start,
        fdd_end=end,
    )
    beats = lower(end, shuffled_fdd)
    claim_comparison(
        run,
        "samples-beat-shuffled-pixels",
        f"The DCGAN's samples are closer to the digits (FDD) than held-out digits with shuffled pixels "
        f"(paired by seed, {cfg.seeds} seeds, > 2 SE); held-out digits score {held_out:.2f}: {beats.describe()}",
        beats,
        expected="FDD(shuffled) − FDD(generated) > 2 SE",
        fdd_generated=end,
        fdd_shuffled=shuffled_fdd,
        fdd_held_out=held_out,
    )
    run.summary(
        fdd_generated=sum(end) / len(end), fdd_held_out=held_out, fdd_shuffled=sum(shuffled_fdd) / len(end)
    )

    assert samples is not None
    fig, axes = subplots(1, 2, width=3.4, height=3.8)
    show_images(axes[0, 0], samples, f"DCGAN samples (seed {cfg.seed}), FDD {end[0]:.1f}")
    show_images(axes[0, 1], data.x_test[:64], f"held-out digits, FDD {held_out:.1f}")
    run.figure("samples", fig)
    fig, axes = subplots(1, 1, width=5.0)
    ax = axes[0, 0]
    for curve in curves:
        ax.plot(at, curve, "o-", alpha=0.7)
    ax.axhline(held_out, color="black", linestyle="--", label="held-out digits")
    ax.axhline(sum(shuffled_fdd) / len(shuffled_fdd), color="grey", linestyle=":", label="shuffled pixels")
    ax.set(xlabel="step", ylabel="Fréchet digits distance", yscale="log", title="FDD during training")
    ax.legend(fontsize=8)
    run.figure("fdd-curve", fig)
