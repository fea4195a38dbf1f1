r"""Generative adversarial networks (UDL chapter 15): losses, networks and one training step per variant.

Each ``*_step`` function returns the ``step(batch)`` that :func:`udl.train.train` drives: one discriminator
(critic) update and one generator update, each through its own :class:`udl.train.OptimizerStep`, with latent
variables drawn from the ``noise`` generator (keep it in ``train``'s ``state`` so a resumed run draws the same
noise). Written out like CleanRL, the whole algorithm in a few lines:

- :func:`gan_step` -- the GAN of section 15.1: discriminator on BCE (eq. 15.5), generator on the minimax loss
  (eq. 15.6) or the non-saturating one;
- :func:`wgan_gp_step` -- Wasserstein GAN with gradient penalty (section 15.2.5; Gulrajani et al., 2017):
  ``n_critic`` critic updates on disjoint chunks of the batch, then one generator update;
- :func:`conditional_gan_step` -- the conditional GAN (section 15.4.1; the label enters both networks) or, with
  ``auxiliary=True``, ACGAN (section 15.4.2; an unconditional discriminator that also classifies, both networks
  minimizing the classification loss on generated samples);
- :func:`infogan_step` -- InfoGAN (section 15.4.3): the generator's input holds a categorical code c and
  continuous codes u; an auxiliary head Q of the discriminator predicts them from the sample, and both networks
  add λ times the negative mutual-information lower bound (H(c) − E[log Q(c | x)] terms) to their losses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from udl.generative._gan_losses import (
    GeneratorLossKind,
    categorical_mi_lower_bound,
    continuous_code_nll,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from udl.generative._gan_nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    DiscriminatorOutput,
    MinibatchDiscrimination,
    MLPDiscriminator,
    ProgressiveDiscriminator,
    ProgressiveGenerator,
    dcgan_init_,
)
from udl.train import OptimizerStep

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DiscriminatorOutput",
    "GeneratorLossKind",
    "MLPDiscriminator",
    "MinibatchDiscrimination",
    "ProgressiveDiscriminator",
    "ProgressiveGenerator",
    "categorical_mi_lower_bound",
    "conditional_gan_step",
    "continuous_code_nll",
    "dcgan_init_",
    "discriminator_loss",
    "gan_step",
    "generator_loss",
    "gradient_penalty",
    "infogan_latent",
    "infogan_step",
    "latent",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wgan_gp_step",
]

Step = Callable[[Any], Mapping[str, Tensor]]


def _head(value: Tensor | None) -> Tensor:
    assert value is not None  # the step builders check that the heads exist
    return value


def latent(n: int, dim: int, generator: torch.Generator | None, device: torch.device | str = "cpu") -> Tensor:
    """z ~ Norm[0, I], (n, dim), drawn on the CPU from ``generator`` (the same draws on any device), then moved."""
    return torch.randn(n, dim, generator=generator).to(device)


def gan_step(
    gen: nn.Module,
    disc: nn.Module,
    g_update: OptimizerStep,
    d_update: OptimizerStep,
    *,
    latent_dim: int,
    noise: torch.Generator,
    kind: GeneratorLossKind = "non_saturating",
) -> Step:
    """The GAN of UDL section 15.1: ``step((real, ...))`` updates the discriminator, then the generator."""

    def step(batch: Any) -> Mapping[str, Tensor]:
        real = batch[0]
        fake = gen(latent(len(real), latent_dim, noise, real.device))
        d_loss = discriminator_loss(disc(real), disc(fake.detach()))  # eq. 15.5
        d_update(d_loss)
        g_loss = generator_loss(disc(fake), kind)  # eq. 15.6 or the non-saturating form
        g_update(g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step


def wgan_gp_step(
    gen: nn.Module,
    critic: nn.Module,
    g_update: OptimizerStep,
    d_update: OptimizerStep,
    *,
    latent_dim: int,
    noise: torch.Generator,
    n_critic: int = 5,
    penalty_weight: float = 10.0,
) -> Step:
    """WGAN-GP: the batch is cut into ``n_critic`` chunks, one critic update on each (Wasserstein loss + λ·GP),
    then one generator update on a fresh batch of the chunk size."""
    if n_critic < 1 or penalty_weight < 0:
        raise ValueError(f"need n_critic >= 1 and penalty_weight >= 0, got {n_critic}, {penalty_weight}")

    def step(batch: Any) -> Mapping[str, Tensor]:
        chunks = batch[0].chunk(n_critic)
        for real in chunks:
            fake = gen(latent(len(real), latent_dim, noise, real.device)).detach()
            distance = -wasserstein_critic_loss(critic(real), critic(fake))  # the critic's W estimate
            penalty = gradient_penalty(critic, real, fake, generator=noise)
            d_update(-distance + penalty_weight * penalty)
        g_loss = wasserstein_generator_loss(
            critic(gen(latent(len(chunks[0]), latent_dim, noise, real.device)))
        )
        g_update(g_loss)
        return {
            "critic_w": distance.detach(),
            "gradient_penalty": penalty.detach(),
            "g_loss": g_loss.detach(),
        }

    return step


def conditional_gan_step(
    gen: nn.Module,
    disc: DCGANDiscriminator,
    g_update: OptimizerStep,
    d_update: OptimizerStep,
    *,
    latent_dim: int,
    num_classes: int,
    noise: torch.Generator,
    auxiliary: bool = False,
    aux_weight: float = 1.0,
) -> Step:
    """cGAN (the label conditions both networks) or, with ``auxiliary``, ACGAN (an unconditional discriminator
    with a classifier head; both losses add ``aux_weight`` x cross-entropy on the labels). Batches are (x, y);
    generated labels are drawn uniformly from ``noise``."""
    if auxiliary and disc.classifier is None:
        raise ValueError("ACGAN needs a discriminator with a classifier head (aux_classes > 0)")
    if not auxiliary and disc.num_classes != num_classes:
        raise ValueError(f"a cGAN needs a discriminator conditioned on {num_classes} classes (num_classes=)")

    def step(batch: Any) -> Mapping[str, Tensor]:
        real, labels = batch[0], batch[1]
        n = len(real)
        wanted = torch.randint(num_classes, (n,), generator=noise).to(real.device)
        fake = gen(latent(n, latent_dim, noise, real.device), wanted)
        if auxiliary:
            out_real, out_fake = disc.outputs(real), disc.outputs(fake.detach())
            d_class = F.cross_entropy(_head(out_real.class_logits), labels) + F.cross_entropy(
                _head(out_fake.class_logits), wanted
            )
            d_loss = discriminator_loss(out_real.logit, out_fake.logit) + aux_weight * d_class
        else:
            d_loss = discriminator_loss(disc(real, labels), disc(fake.detach(), wanted))
        d_update(d_loss)
        if auxiliary:
            out = disc.outputs(fake)
            g_loss = generator_loss(out.logit) + aux_weight * F.cross_entropy(_head(out.class_logits), wanted)
        else:
            g_loss = generator_loss(disc(fake, wanted))
        g_update(g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step


def infogan_latent(
    n: int,
    noise_dim: int,
    categories: int,
    continuous: int,
    generator: torch.Generator | None,
    device: Any = "cpu",
) -> tuple[Tensor, Tensor, Tensor]:
    """InfoGAN's generator input [z, one-hot c, u]: z ~ Norm[0, I] (noise_dim), c ~ Cat uniform over
    ``categories``, u ~ U(−1, 1) (``continuous``). Returns (input (n, noise_dim + categories + continuous), c, u)."""
    z = torch.randn(n, noise_dim, generator=generator)
    c = torch.randint(categories, (n,), generator=generator)
    u = torch.rand(n, continuous, generator=generator) * 2 - 1
    full = torch.cat([z, F.one_hot(c, categories).float(), u], dim=1)
    return full.to(device), c.to(device), u.to(device)


def infogan_step(
    gen: nn.Module,
    disc: DCGANDiscriminator,
    g_update: OptimizerStep,
    d_update: OptimizerStep,
    *,
    noise_dim: int,
    categories: int,
    continuous: int,
    noise: torch.Generator,
    info_weight: float = 1.0,
) -> Step:
    """InfoGAN: the discriminator (with its Q heads) minimizes BCE + λ·L_info on generated samples, the
    generator its non-saturating loss + λ·L_info, where L_info = CE(Q(c | x), c) + NLL(u | x) (UDL section
    15.4.3). The metric ``mi_lower_bound`` is log K − CE, a lower bound on I(c; x) in nats."""
    if disc.code_logits is None or (continuous and disc.code_mean is None):
        raise ValueError("InfoGAN needs a discriminator with Q heads (code_categories=, code_continuous=)")

    def info(out: DiscriminatorOutput, c: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        bound = categorical_mi_lower_bound(_head(out.code_logits), c)
        nll = continuous_code_nll(_head(out.code_mean), u) if continuous else torch.zeros((), device=c.device)
        return -bound + nll, bound

    def step(batch: Any) -> Mapping[str, Tensor]:
        real = batch[0]
        z, c, u = infogan_latent(len(real), noise_dim, categories, continuous, noise, real.device)
        fake = gen(z)
        out_fake = disc.outputs(fake.detach())
        d_info, _ = info(out_fake, c, u)
        d_loss = discriminator_loss(disc(real), out_fake.logit) + info_weight * d_info
        d_update(d_loss)
        out = disc.outputs(fake)
        g_info, bound = info(out, c, u)
        g_loss = generator_loss(out.logit) + info_weight * g_info
        g_update(g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "mi_lower_bound": bound.detach()}

    return step
