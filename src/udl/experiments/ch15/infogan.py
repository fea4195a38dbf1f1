"""InfoGAN on the 8 x 8 digits (UDL section 15.4.3, fig. 15.14): a categorical code learns digit identity
without labels.

Protocol (after Chen et al., 2016, on MNIST): the 899 training digits, pixels in [-1, 1], labels never used in
training. The generator (``udl.generative.DCGANGenerator``) takes [z, one-hot c, u]: noise z (``noise_dim``),
a categorical code c uniform over ``categories`` values and ``continuous`` codes u ~ U(−1, 1). The
discriminator (``DCGANDiscriminator`` with Q heads) also outputs Q(c | x) (logits) and the mean of a
unit-variance Gaussian Q(u | x). Both networks add λ = ``info_weight`` times L_info = CE(Q(c | x), c) +
NLL(u | x) on generated samples to their GAN losses (non-saturating); log K − CE is a lower bound on the mutual
information I(c; x) in nats (at most log 10 = 2.30 for ten values). Adam(``lr``, β = (0.5, 0.999)), batch
``batch_size``, ``steps`` steps.

Evaluation: (1) the MI lower bound on 2,000 fresh samples; (2) unsupervised classification of the 898
held-out real digits: the cluster of a digit is argmax_c Q(c | x), scored by the clustering accuracy under the
best one-to-one map from codes to labels (``udl.metrics.clustering_accuracy``); chance is that accuracy with
the cluster ids shuffled across digits (mean of ``shuffles`` shuffles: about 0.1 plus the matching's bias);
(3) ``per_code`` samples per code value classified by the digits classifier, scored the same way. Claims, with
``seeds`` seeds, mean − reference > 2 SE: the MI bound exceeds 0; the clustering accuracy of held-out digits
exceeds its shuffled chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor
from torch.nn import functional as F

from udl.checks import at_least, in_range
from udl.data import load_digits_split
from udl.experiments._generative import show_images, to_unit, train_gan
from udl.experiments._recipes import claim_comparison, seed_range
from udl.generative import (
    DCGANDiscriminator,
    DCGANGenerator,
    categorical_mi_lower_bound,
    infogan_latent,
    infogan_step,
)
from udl.metrics import clustering_accuracy, digits_features
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, paired_difference

CHAPTER = 15
SECTION = "15.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "InfoGAN on the 8x8 digits: a categorical code captures digit identity without labels"
CONTEXT = (
    "Section 15.4.3 describes InfoGAN, which splits the latent variable into noise and interpretable codes and "
    "maximizes a lower bound on the mutual information between the codes and the generated image; on MNIST a "
    "ten-valued categorical code comes to pick the digit class without ever seeing labels (fig. 15.14)."
)


@dataclass(frozen=True)
class Config:
    noise_dim: int = 14
    """dimension of the noise z"""
    categories: int = 10
    """values of the categorical code c (>= 2)"""
    continuous: int = 2
    """continuous codes u ~ U(−1, 1) (>= 0)"""
    info_weight: float = 1.0
    """λ, the weight of the information term in both losses"""
    steps: int = 1500
    """training steps"""
    batch_size: int = 64
    """images per step"""
    lr: float = 1e-3
    """Adam learning rate (both players; dcgan-digits' setting)"""
    per_code: int = 100
    """samples generated per code value for the classifier's view"""
    shuffles: int = 20
    """label shuffles for the chance level of the clustering accuracy"""
    seeds: int = 3
    """training runs (seeds seed, seed+1, ...)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), info_weight=(0, 100))
        if self.categories < 2 or self.continuous < 0:
            raise ValueError(
                f"categories must be >= 2 and continuous >= 0, got {self.categories}, {self.continuous}"
            )
        at_least(self, 1, "noise_dim", "steps", "batch_size", "per_code", "shuffles", "seeds")


PRESETS = {
    "smoke": Config(steps=30, per_code=10, shuffles=3, seeds=2),
    "quick": Config(),
    "full": Config(steps=10_000, seeds=10),
}


def above(values: list[float], reference: list[float]) -> Comparison:
    """Do ``values`` exceed ``reference``? values − reference, paired by seed; holds when its mean is > 2 SE."""
    return paired_difference(values, reference)


def shuffled_chance(clusters: Tensor, labels: Tensor, shuffles: int, generator: torch.Generator) -> float:
    """Mean clustering accuracy with the cluster ids permuted across the examples (no information)."""
    return (
        sum(
            clustering_accuracy(clusters[torch.randperm(len(clusters), generator=generator)], labels)
            for _ in range(shuffles)
        )
        / shuffles
    )


def run(cfg: Config, run: Run) -> None:
    data = load_digits_split()
    features = digits_features()
    x = data.x_train * 2 - 1
    k = cfg.categories
    bounds: list[float] = []
    held_out: list[float] = []
    chance: list[float] = []
    generated: list[float] = []
    shown: Tensor | None = None
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        gen = DCGANGenerator(cfg.noise_dim + k + cfg.continuous, generator=g)
        disc = DCGANDiscriminator(code_categories=k, code_continuous=cfg.continuous, generator=g)
        step = partial(
            infogan_step, noise_dim=cfg.noise_dim, categories=k, continuous=cfg.continuous, noise=g,
            info_weight=cfg.info_weight,
        )  # fmt: skip
        train_gan(
            step, (x,), gen, disc, cfg, g, run=run, name=f"infogan_seed{seed}", log_every=min(250, cfg.steps)
        )
        gen.eval()
        evaluation = torch.Generator().manual_seed(10_000 + seed)
        with torch.no_grad():
            z, c, _ = infogan_latent(2000, cfg.noise_dim, k, cfg.continuous, evaluation)
            bounds.append(float(categorical_mi_lower_bound(disc.outputs(gen(z)).code_logits, c)))  # type: ignore[arg-type]
            clusters = disc.outputs(data.x_test * 2 - 1).code_logits.argmax(1)  # type: ignore[union-attr]
            # samples per code value: c fixed, z and u random
            z, _, _ = infogan_latent(k * cfg.per_code, cfg.noise_dim, k, cfg.continuous, evaluation)
            codes = torch.arange(k).repeat_interleave(cfg.per_code)
            z[:, cfg.noise_dim : cfg.noise_dim + k] = F.one_hot(codes, k).float()
            images = to_unit(gen(z))
        held_out.append(clustering_accuracy(clusters, data.y_test))
        chance.append(shuffled_chance(clusters, data.y_test, cfg.shuffles, evaluation))
        generated.append(clustering_accuracy(codes, features.predict(images)))
        run.log(seed, mi_lower_bound=bounds[-1], clustering_accuracy=held_out[-1], chance=chance[-1])
        if shown is None:
            rows = torch.arange(k)[:, None] * cfg.per_code + torch.arange(min(8, cfg.per_code))
            shown = images[rows.reshape(-1)]

    mi = above(bounds, [0.0] * cfg.seeds)
    claim_comparison(
        run,
        "code-carries-information",
        f"The categorical code carries information about the sample: the lower bound log K − CE on I(c; x) is "
        f"above 0 (at most log {k} = {torch.tensor(float(k)).log():.2f} nats; {cfg.seeds} seeds, > 2 SE): "
        f"{mi.describe('nats')}",
        mi,
        expected="bound > 2 SE above 0",
        per_seed=bounds,
    )
    gain = above(held_out, chance)
    claim_comparison(
        run,
        "code-captures-digit-identity",
        f"Without labels, Q's categorical code sorts held-out real digits by class better than chance "
        f"(clustering accuracy under the best code-to-digit map vs the same with shuffled codes; paired by seed, "
        f"{cfg.seeds} seeds, > 2 SE): {gain.describe()}",
        gain,
        expected="accuracy − chance > 2 SE",
        accuracy=held_out,
        chance=chance,
        generated_by_classifier=generated,
    )
    run.summary(
        mi_lower_bound=sum(bounds) / cfg.seeds,
        clustering_accuracy=sum(held_out) / cfg.seeds,
        chance_accuracy=sum(chance) / cfg.seeds,
        generated_clustering_accuracy=sum(generated) / cfg.seeds,
    )

    assert shown is not None
    fig, axes = subplots(1, 1, width=4.0, height=5.0)
    show_images(
        axes[0, 0],
        shown,
        f"rows: code c = 0..{k - 1} (seed {cfg.seed})\nclustering acc. {held_out[0]:.2f}",
        min(8, cfg.per_code),
    )
    run.figure("samples-by-code", fig)
