"""Conditional generation (UDL section 15.4): a conditional GAN and an auxiliary-classifier GAN (ACGAN) on the
8 x 8 digits draw the digit they are asked for.

Protocol (ours). The 899 training digits (pixels in [-1, 1]) with their labels. Both models use the DCGAN
generator of ``dcgan-digits`` with the one-hot label appended to z (``DCGANGenerator(num_classes=10)``):

- *cGAN* (Mirza & Osindero, 2014; UDL section 15.4.1): the discriminator also gets the label, as ten one-hot
  planes stacked onto the image, and judges whether the (image, label) pair is real;
- *ACGAN* (Odena et al., 2017; UDL section 15.4.2): the discriminator sees the image only; besides real vs
  generated it predicts the class, and both networks add the cross-entropy of that prediction (real images with
  their labels, generated images with the requested labels) to their losses.

Training: non-saturating GAN loss, Adam(``lr``, β = (0.5, 0.999)), batch ``batch_size``, ``steps`` steps, the
requested labels drawn uniformly. Evaluation: ``per_class`` samples of each digit are classified by the cached
digits classifier (``udl.metrics.digits_features``, about 98% accurate on held-out digits); the rate at which
it recognizes the requested digit is reported, with the Fréchet digits distance of the samples to the training
digits. Claims: each model's recognition rate is above chance (10%) by more than 2 SE over ``seeds`` seeds,
and above ``good_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import load_digits_split
from udl.experiments._generative import show_images, to_unit, train_gan
from udl.experiments._recipes import seed_range
from udl.generative import DCGANDiscriminator, DCGANGenerator, conditional_gan_step, latent
from udl.metrics import confusion_matrix, digits_features, frechet_digits_distance
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, mean_se

CHAPTER = 15
SECTION = "15.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "cGAN and ACGAN on the 8x8 digits: a classifier recognizes the requested digit in the samples"
CONTEXT = (
    "Section 15.4 conditions a GAN on a class: the conditional GAN passes the label to both generator and "
    "discriminator; the auxiliary classifier GAN passes it to the generator and has the discriminator predict "
    "it. Both let the user ask for a particular class."
)

MODELS = ("cgan", "acgan")
CHANCE = 0.1
"""the recognition rate of a generator that ignores the label (ten classes)"""


@dataclass(frozen=True)
class Config:
    latent_dim: int = 16
    """dimension of z (the one-hot label is appended)"""
    steps: int = 1500
    """training steps per model"""
    batch_size: int = 64
    """images per step"""
    lr: float = 1e-3
    """Adam learning rate (both players; dcgan-digits' setting)"""
    aux_weight: float = 1.0
    """ACGAN: weight of the classification loss"""
    per_class: int = 100
    """samples generated per requested digit for the evaluation"""
    good_rate: float = 0.5
    """the claims' second bar: recognition rate above this"""
    seeds: int = 3
    """training runs per model (seeds seed, seed+1, ...)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), aux_weight=(0, 100), good_rate=(0, 1))
        at_least(self, 1, "latent_dim", "steps", "batch_size", "per_class", "seeds")


PRESETS = {
    "smoke": Config(steps=30, per_class=10, seeds=1),
    "quick": Config(),
    "full": Config(steps=10_000, seeds=10),
}


def recognized_verdict(rates: list[float], good_rate: float, chance: float = CHANCE) -> Verdict:
    """The seed mean of the recognition rate exceeds chance by > 2 SE and exceeds ``good_rate`` (fails at or
    below chance; not established with one seed, or between chance and the bars)."""
    s = mean_se(rates)
    if s.mean <= chance:
        return Verdict.FAILS
    if s.n < 2:
        return Verdict.NOT_ESTABLISHED
    return all_of(
        Verdict.HOLDS if s.mean - chance > 2 * s.se else Verdict.NOT_ESTABLISHED,
        s.mean > good_rate,
    )


def run(cfg: Config, run: Run) -> None:
    data = load_digits_split()
    features = digits_features()
    x = data.x_train * 2 - 1  # (899, 1, 8, 8) in [-1, 1]
    wanted = torch.arange(10).repeat_interleave(cfg.per_class)  # (10·per_class,) the requested digits
    rates: dict[str, list[float]] = {m: [] for m in MODELS}
    fdd: dict[str, list[float]] = {m: [] for m in MODELS}
    shown: dict[str, Tensor] = {}
    confusion: dict[str, Tensor] = {}
    for seed in seed_range(cfg):
        for model in MODELS:
            g = torch.Generator().manual_seed(seed)
            gen = DCGANGenerator(cfg.latent_dim, num_classes=10, generator=g)
            disc = DCGANDiscriminator(
                num_classes=10 if model == "cgan" else 0,
                aux_classes=10 if model == "acgan" else 0,
                generator=g,
            )
            step = partial(
                conditional_gan_step,
                latent_dim=cfg.latent_dim,
                num_classes=10,
                noise=g,
                auxiliary=model == "acgan",
                aux_weight=cfg.aux_weight,
            )
            train_gan(
                step,
                (x, data.y_train),
                gen,
                disc,
                cfg,
                g,
                run=run,
                name=f"{model}_seed{seed}",
                log_every=min(250, cfg.steps),
            )
            with torch.no_grad():
                z = latent(len(wanted), cfg.latent_dim, torch.Generator().manual_seed(10_000 + seed))
                images = to_unit(gen.eval()(z, wanted))
            predicted = features.predict(images)
            rates[model].append(float((predicted == wanted).double().mean()))
            fdd[model].append(frechet_digits_distance(data.x_train, images, features))
            run.log(seed, **{f"{model}_recognized": rates[model][-1], f"{model}_fdd": fdd[model][-1]})
            if model not in shown:
                per_row = torch.arange(10)[:, None] * cfg.per_class + torch.arange(min(8, cfg.per_class))
                shown[model] = images[per_row.reshape(-1)]
                confusion[model] = confusion_matrix(predicted, wanted, 10)

    for model, label in (("cgan", "conditional GAN"), ("acgan", "ACGAN")):
        s = mean_se(rates[model])
        run.claim(
            f"{model}-draws-requested-digit",
            f"The {label}'s samples show the requested digit: the digits classifier recognizes it in "
            f"{100 * s.mean:.1f}% of {10 * cfg.per_class} samples (chance {100 * CHANCE:.0f}%; {cfg.seeds} seeds, "
            f"mean − chance > 2 SE, and above {100 * cfg.good_rate:.0f}%)",
            holds=recognized_verdict(rates[model], cfg.good_rate),
            measured={**s.to_json(), "per_seed": rates[model], "fdd": fdd[model]},
            expected=f"rate − {CHANCE} > 2 SE and rate > {cfg.good_rate}",
        )
    run.summary(
        classifier_test_accuracy=features.test_accuracy,
        **{f"{m}_recognition_rate": sum(rates[m]) / cfg.seeds for m in MODELS},
        **{f"{m}_fdd": sum(fdd[m]) / cfg.seeds for m in MODELS},
    )

    fig, axes = subplots(1, 2, width=3.6, height=4.4)
    columns = min(8, cfg.per_class)
    for ax, model in zip(axes[0], MODELS, strict=True):
        show_images(
            ax,
            shown[model],
            f"{model}: rows = requested 0-9\nrecognized {100 * rates[model][0]:.0f}%",
            columns,
        )
    run.figure("samples", fig)
    fig, axes = subplots(1, 2, width=4.0, height=3.8)
    for ax, model in zip(axes[0], MODELS, strict=True):
        ax.imshow(confusion[model].numpy(), cmap="Blues")  # [requested, recognized]
        ax.set(xlabel="recognized", ylabel="requested", title=model, xticks=range(10), yticks=range(10))
        ax.grid(False)
    run.figure("confusion", fig)
