r"""Latent variable models and variational autoencoders (UDL chapter 17).

- The reparameterization trick (UDL section 17.7): z = μ + σ ε with ε ~ Norm[0, I], so a sample is a
  differentiable function of the variational parameters (:func:`reparameterize`).
- Two Monte Carlo estimators of ∂/∂(μ, σ) E_{x ~ Norm[μ, σ²]}[f(x)] (notebook 17.2's setting):
  :func:`reparameterization_gradient` (f'(μ + σε) and f'(μ + σε) ε) and :func:`score_function_gradient`
  (REINFORCE: f(x) ∂/∂θ log Norm[x; μ, σ²], UDL section 17.7 and problem 17.5), optionally with a baseline
  subtracted from f (a control variate: the leave-one-out mean of f keeps the estimator unbiased). Both return
  the per-sample estimates, whose mean is the estimate and whose variance the estimator's variance.
- The mixture of Gaussians as a latent variable model with a discrete z (UDL section 17.1):
  :func:`mixture_elbo` is the ELBO for a categorical q(z | x) computed exactly (a sum over the K values of z),
  and :func:`mixture_iwae` the importance-weighted bound with K samples drawn from q; with
  ``udl.data.GaussianMixture.log_prob`` (the exact log-likelihood) and ``posterior`` these check
  ELBO ≤ log Pr(x), with equality when q is the posterior.
- :class:`VAE` (UDL section 17.6): an MLP encoder giving q(z | x) = Norm[μ(x), diag σ²(x)], the prior
  Norm[0, I], and an MLP decoder with a Gaussian (learned per-output σ) or Bernoulli (logits) likelihood; its
  ``elbo`` is reconstruction − closed-form KL, with ``kl_weight`` (KL warm-up) and ``free_bits`` (a floor on the
  KL per latent dimension, Kingma et al. 2016) as the usual remedies for posterior collapse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from udl.data import GaussianMixture
from udl.losses import bernoulli_nll, elbo, gaussian_kl, gaussian_nll, iwae_bound
from udl.nn import MLP

__all__ = [
    "VAE",
    "Likelihood",
    "mixture_elbo",
    "mixture_iwae",
    "reparameterization_gradient",
    "reparameterize",
    "score_function_gradient",
]

Likelihood = Literal["gaussian", "bernoulli"]
_LIKELIHOODS = ("gaussian", "bernoulli")
Baseline = Literal["none", "leave_one_out"]


def reparameterize(
    mean: Tensor, std: Tensor, samples: int | None = None, *, generator: torch.Generator | None = None
) -> Tensor:
    """z = μ + σ ⊙ ε, ε ~ Norm[0, I] (UDL section 17.7): differentiable in ``mean`` and ``std``.

    ``samples=None`` draws one z of the shape of ``mean``; an integer S draws (S, *mean.shape).
    """
    shape = mean.shape if samples is None else (samples, *mean.shape)
    eps = torch.randn(shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + std * eps


def _check_estimator_args(mean: Tensor, std: Tensor, samples: int) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if bool((std <= 0).any()):
        raise ValueError("std must be > 0 everywhere")
    if mean.shape != std.shape:
        raise ValueError(
            f"mean and std must have the same shape, got {tuple(mean.shape)}, {tuple(std.shape)}"
        )


def reparameterization_gradient(
    f: Callable[[Tensor], Tensor],
    mean: Tensor,
    std: Tensor,
    samples: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample reparameterized estimates of ∂/∂μ and ∂/∂σ of E_{x ~ Norm[μ, σ²]}[f(x)] (elementwise f).

    x_s = μ + σ ε_s; ∂f(x_s)/∂μ = f'(x_s) and ∂f(x_s)/∂σ = f'(x_s) ε_s (autograd through f).

    Returns:
        Two (samples, *mean.shape) tensors; their means over dim 0 are unbiased estimates of the gradients.
    """
    _check_estimator_args(mean, std, samples)
    eps = torch.randn((samples, *mean.shape), generator=generator, dtype=mean.dtype, device=mean.device)
    x = (mean.detach() + std.detach() * eps).requires_grad_(True)
    (df,) = torch.autograd.grad(f(x).sum(), x)  # f elementwise: d f(x_s) / d x_s
    return df, df * eps


def score_function_gradient(
    f: Callable[[Tensor], Tensor],
    mean: Tensor,
    std: Tensor,
    samples: int,
    *,
    baseline: Baseline | float = "none",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample score-function (REINFORCE) estimates of ∂/∂μ and ∂/∂σ of E_{x ~ Norm[μ, σ²]}[f(x)].

        ∂/∂θ E[f(x)] = E[(f(x) − b) ∂/∂θ log Norm[x; μ, σ²]],
        ∂ log Norm/∂μ = (x − μ)/σ²,   ∂ log Norm/∂σ = ((x − μ)² − σ²)/σ³,

    true for any b that does not depend on x (the score has mean 0). ``baseline="none"`` is b = 0;
    ``"leave_one_out"`` uses for sample s the mean of f over the other samples (independent of x_s: unbiased, and
    samples >= 2 are needed); a number is a fixed b.

    Returns:
        Two (samples, *mean.shape) tensors; their means over dim 0 are unbiased estimates of the gradients.
    """
    _check_estimator_args(mean, std, samples)
    mu, sigma = mean.detach(), std.detach()
    eps = torch.randn((samples, *mean.shape), generator=generator, dtype=mean.dtype, device=mean.device)
    x = mu + sigma * eps
    with torch.no_grad():
        fx = f(x)
    if baseline == "leave_one_out":
        if samples < 2:
            raise ValueError("baseline='leave_one_out' needs samples >= 2")
        b = (fx.sum(0, keepdim=True) - fx) / (samples - 1)
    elif baseline == "none":
        b = torch.zeros_like(fx)
    elif isinstance(baseline, (int, float)) and not isinstance(baseline, bool) and math.isfinite(baseline):
        b = torch.full_like(fx, float(baseline))
    else:
        raise ValueError(f"baseline must be 'none', 'leave_one_out' or a finite number, got {baseline!r}")
    weight = fx - b
    return weight * eps / sigma, weight * (eps.pow(2) - 1) / sigma


def _check_q(log_joint: Tensor, q: Tensor) -> None:
    if q.shape != log_joint.shape:
        raise ValueError(f"q must have shape (N, K) = {tuple(log_joint.shape)}, got {tuple(q.shape)}")
    if bool((q < 0).any()) or not torch.allclose(q.sum(1), torch.ones_like(q[:, 0]), atol=1e-6):
        raise ValueError("q must be a probability vector over the K components for every x (>= 0, sums to 1)")


def mixture_elbo(mixture: GaussianMixture, x: Tensor, q: Tensor) -> Tensor:
    """The exact ELBO Σ_k q_k [log Pr(x, z = k) − log q_k] for a categorical q(z | x) (UDL sections 17.1, 17.4).

    Args:
        mixture: the latent variable model Pr(z = k) = λ_k, Pr(x | z = k) = Norm[μ_k, σ_k² I].
        x: (N, D) data.
        q: (N, K) variational distributions over the component (rows sum to 1; 0 log 0 = 0).

    Returns:
        (N,) ELBO; equals ``mixture.log_prob(x)`` − KL(q ‖ ``mixture.posterior(x)``).
    """
    log_joint = mixture.component_log_prob(x)  # (N, K)
    q = q.to(log_joint.dtype)
    _check_q(log_joint, q)
    return torch.where(q > 0, q * (log_joint - torch.log(q)), torch.zeros_like(q)).sum(1)


def mixture_iwae(
    mixture: GaussianMixture, x: Tensor, q: Tensor, k: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """The importance-weighted bound with ``k`` components z_1..z_k ~ q(z | x) drawn per point: (N,).

    log (1/k) Σ_j Pr(x, z_j)/q(z_j | x) (see ``udl.losses.iwae_bound``); its expectation rises with k toward
    log Pr(x) and equals it for every draw when q is the posterior.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    log_joint = mixture.component_log_prob(x)  # (N, K)
    q = q.to(log_joint.dtype)
    _check_q(log_joint, q)
    z = torch.multinomial(q, k, replacement=True, generator=generator).T  # (k, N)
    lj = log_joint.gather(1, z.T).T
    lq = torch.log(q).gather(1, z.T).T
    return iwae_bound(lj, lq)


class VAE(nn.Module):
    """Variational autoencoder (UDL section 17.6) with MLP encoder and decoder.

    Args:
        data_dim: D, the dimension of x (flattened).
        latent_dim: the dimension of z.
        hidden: hidden widths of the encoder (and, reversed, of the decoder unless ``decoder_hidden`` is given).
        likelihood: ``"gaussian"`` (decoder predicts the mean, σ is a learned vector, one per output) or
            ``"bernoulli"`` (decoder predicts logits; x ∈ {0, 1}).
        decoder_hidden: hidden widths of the decoder (a wider / deeper one is a "strong decoder", which invites
            posterior collapse, discussed in the notes of UDL chapter 17).
        generator: source of the initial weights.

    Shapes: x (N, D) -> ``encode`` gives mean and std (N, latent_dim).
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int,
        hidden: Sequence[int] = (128, 128),
        likelihood: Likelihood = "gaussian",
        *,
        decoder_hidden: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {_LIKELIHOODS}, got {likelihood!r}")
        if data_dim < 1 or latent_dim < 1:
            raise ValueError(f"data_dim and latent_dim must be >= 1, got {data_dim}, {latent_dim}")
        self.likelihood = likelihood
        self.latent_dim = latent_dim
        self.encoder = MLP(data_dim, list(hidden), 2 * latent_dim, generator=generator)
        dec = list(reversed(hidden)) if decoder_hidden is None else list(decoder_hidden)
        self.decoder = MLP(latent_dim, dec, data_dim, generator=generator)
        self.log_std = nn.Parameter(torch.zeros(data_dim)) if likelihood == "gaussian" else None

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The parameters (mean, std) of q(z | x) = Norm[μ(x), diag σ²(x)]."""
        mean, pre_std = self.encoder(x).chunk(2, dim=-1)
        return mean, nn.functional.softplus(pre_std) + 1e-4

    def reconstruction_log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        """log Pr(x | z) summed over the D outputs: z (..., N, latent) -> (..., N)."""
        out = self.decoder(z)
        if self.log_std is not None:
            return -gaussian_nll(out, self.log_std.exp(), x, reduction="none").sum(-1)
        return -bernoulli_nll(out, x.expand_as(out), reduction="none").sum(-1)

    def elbo(
        self,
        x: Tensor,
        *,
        samples: int = 1,
        kl_weight: float = 1.0,
        free_bits: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The (N,) training objective and the (N, latent) KL per latent dimension.

        objective = E_q[log Pr(x | z)] − kl_weight · Σ_d max(KL_d, free_bits), with ``samples`` reparameterized
        draws (UDL section 17.6). ``kl_weight=1`` and ``free_bits=0`` give the ELBO itself.
        """
        mean, std = self.encode(x)
        kl_dims = gaussian_kl(mean, std)  # (N, latent)
        z = reparameterize(mean, std, samples, generator=generator)  # (S, N, latent)
        kl = kl_dims.clamp(min=free_bits).sum(-1) if free_bits > 0 else kl_dims.sum(-1)
        return elbo(self.reconstruction_log_prob(x, z), kl_weight * kl), kl_dims

    def iwae(self, x: Tensor, k: int, *, generator: torch.Generator | None = None) -> Tensor:
        """(N,) importance-weighted bound with k samples from q (≥ the ELBO, → log Pr(x) as k grows)."""
        mean, std = self.encode(x)
        z = reparameterize(mean, std, k, generator=generator)  # (k, N, latent)
        log_q = torch.distributions.Normal(mean, std).log_prob(z).sum(-1)
        log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        return iwae_bound(self.reconstruction_log_prob(x, z) + log_prior, log_q)

    def decode_mean(self, z: Tensor) -> Tensor:
        """E[x | z]: the decoder's mean (Gaussian) or probabilities (Bernoulli)."""
        out = self.decoder(z)
        return out if self.log_std is not None else torch.sigmoid(out)

    def sample(self, n: int, *, generator: torch.Generator | None = None, mean_only: bool = True) -> Tensor:
        """n samples of x: z ~ Norm[0, I], then E[x | z] (``mean_only``) or a draw from Pr(x | z)."""
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype, device=p.device)
        m = self.decode_mean(z)
        if mean_only:
            return m
        if self.log_std is not None:
            return m + self.log_std.exp() * torch.randn(
                m.shape, generator=generator, dtype=m.dtype, device=m.device
            )
        return torch.bernoulli(m, generator=generator)
