r"""The losses of UDL chapter 15: the GAN's discriminator and generator losses, the Wasserstein critic's, the
gradient penalty (WGAN-GP) and InfoGAN's mutual-information term.

The discriminator f[x, φ] outputs a logit; sig[f] is its probability that x is real. With real examples x_i
(label 1) and generated ones x*_j = g[z_j, θ] (label 0), the discriminator minimizes the binary cross-entropy
(UDL eq. 15.5)

.. math:: L[\phi] = -\sum_i \log\operatorname{sig}[f[x_i, \phi]] - \sum_j \log\big(1 - \operatorname{sig}
          [f[x^*_j, \phi]]\big)

and the generator, in the minimax game of eq. 15.4, minimizes the second term's negative (eq. 15.6):

.. math:: L[\theta] = \sum_j \log\big(1 - \operatorname{sig}[f[g[z_j, \theta], \phi]]\big).

Its gradient vanishes where the discriminator confidently rejects the fakes (sig → 0), so in practice the
generator minimizes the *non-saturating* loss −Σ_j log sig[f[g[z_j, θ], φ]] instead (Goodfellow et al., 2014):
same fixed point, gradient ∝ 1 − sig instead of sig. Both are written with softplus (log(1 + e^a)) for
stability: −log sig[a] = softplus(−a), −log(1 − sig[a]) = softplus(a).

The Wasserstein GAN (UDL section 15.2.5) replaces the discriminator by a critic f whose mean score difference
E[f(x)] − E[f(x*)] estimates the Wasserstein distance when f is 1-Lipschitz (the dual of section 15.2.4's linear
program); WGAN-GP (Gulrajani et al., 2017) enforces the constraint softly by penalizing
(‖∇_x̂ f(x̂)‖₂ − 1)² at points x̂ = αx + (1 − α)x* on lines between real and generated samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "GeneratorLossKind",
    "categorical_mi_lower_bound",
    "continuous_code_nll",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]

GeneratorLossKind = Literal["minimax", "non_saturating"]
_KINDS = ("minimax", "non_saturating")
Reduction = Literal["mean", "sum"]


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, reduction: Reduction = "mean") -> Tensor:
    """The discriminator's binary cross-entropy, real = 1 and generated = 0 (UDL eq. 15.5).

    Args:
        real_logits: f[x_i, φ] on real examples, any shape.
        fake_logits: f[x*_j, φ] on generated examples, any shape.
        reduction: ``"sum"`` is the book's Σ_i + Σ_j; ``"mean"`` averages each set separately and adds the two
            means (the usual batch form: equal weight to both sets whatever their sizes).
    """
    return _reduce(F.softplus(-real_logits), reduction) + _reduce(F.softplus(fake_logits), reduction)


def generator_loss(
    fake_logits: Tensor, kind: GeneratorLossKind = "non_saturating", reduction: Reduction = "mean"
) -> Tensor:
    """The generator's loss on the discriminator's logits of generated samples.

    ``"minimax"``: Σ_j log(1 − sig[f_j]) = −Σ_j softplus(f_j) (UDL eq. 15.6; saturates when sig[f_j] → 0);
    ``"non_saturating"``: −Σ_j log sig[f_j] = Σ_j softplus(−f_j). ``reduction`` as in :func:`discriminator_loss`.
    """
    if kind == "minimax":
        return -_reduce(F.softplus(fake_logits), reduction)
    if kind == "non_saturating":
        return _reduce(F.softplus(-fake_logits), reduction)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic minimizes mean f(x*) − mean f(x): the negative of its Wasserstein-distance estimate."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """The generator minimizes −mean f(x*) (it moves its samples up the critic)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    alpha: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""WGAN-GP's penalty mean_n (‖∇_x̂ f(x̂_n)‖₂ − 1)² at x̂_n = α_n x_n + (1 − α_n) x*_n (Gulrajani et al., 2017).

    Args:
        critic: x (N, ...) -> scores (N,) (or (N, 1)).
        real, fake: (N, ...) real and generated samples (``fake`` is detached here).
        alpha: (N,) mixing weights in [0, 1]; None draws α_n ~ U(0, 1) from ``generator`` (CPU draws, moved).
        generator: source of α when it is not given.

    Returns:
        A 0-d tensor with a graph to the critic's parameters (``create_graph``: the penalty is differentiated).
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have one shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    n = real.shape[0]
    if alpha is None:
        alpha = torch.rand(n, generator=generator, dtype=real.dtype).to(real.device)
    elif alpha.shape != (n,):
        raise ValueError(f"alpha must have shape ({n},), got {tuple(alpha.shape)}")
    a = alpha.reshape(n, *([1] * (real.ndim - 1)))
    mixed = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)  # row n only depends on x̂_n
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def categorical_mi_lower_bound(logits: Tensor, codes: Tensor) -> Tensor:
    r"""InfoGAN's variational lower bound on I(c; x) for a uniform categorical code c of K values:
    H(c) + E[log Q(c | x)] = log K − CE(Q(· | x), c) (Chen et al., 2016), averaged over the batch.

    Args:
        logits: (N, K) the auxiliary network Q's logits on generated samples.
        codes: (N,) the codes c (0..K-1) the samples were generated with.
    """
    if logits.ndim != 2 or codes.shape != logits.shape[:1]:
        raise ValueError(
            f"need logits (N, K) and codes (N,), got {tuple(logits.shape)} and {tuple(codes.shape)}"
        )
    return math.log(logits.shape[1]) - F.cross_entropy(logits, codes)


def continuous_code_nll(mean: Tensor, codes: Tensor) -> Tensor:
    """−E[log Q(c | x)] for continuous codes under a unit-variance Gaussian Q (mean (N, C)); per-sample sum over
    the C codes, averaged over the batch. InfoGAN's continuous term (its lower bound is H(c) minus this)."""
    if mean.shape != codes.shape:
        raise ValueError(
            f"mean and codes must have one shape, got {tuple(mean.shape)} and {tuple(codes.shape)}"
        )
    return (0.5 * (codes - mean).pow(2) + 0.5 * math.log(2 * math.pi)).sum(-1).mean()
