r"""The evidence lower bound and its relatives (UDL chapter 17, sections 17.3-17.5 and 17.8.1).

For a latent variable model Pr(x, z | φ) = Pr(x | z, φ) Pr(z) and a variational distribution q(z | θ) the ELBO
(UDL section 17.4) is

    ELBO[θ, φ] = ∫ q(z | θ) log[Pr(x, z | φ) / q(z | θ)] dz,

and it can be written two ways:

- UDL section 17.4.2: reconstruction − KL, ∫ q(z | θ) log Pr(x | z, φ) dz − D_KL[q(z | θ) ‖ Pr(z)] (:func:`elbo`);
- UDL section 17.4.1: log Pr(x | φ) − D_KL[q(z | θ) ‖ Pr(z | x, φ)], so ELBO ≤ log Pr(x) with equality exactly when
  q is the true posterior (:func:`elbo_from_posterior`).

The Monte Carlo version with samples z_s ~ q is :func:`elbo_from_joint` (mean of log Pr(x, z_s) − log q(z_s)), and
the importance-weighted bound of Burda et al. (2016), the log of the importance-sampled likelihood estimate of
UDL section 17.8.1, is :func:`iwae_bound`: log (1/K) Σ_k Pr(x, z_k)/q(z_k), which is ≥ the ELBO, rises monotonically
in expectation with K and tends to log Pr(x).

The closed-form KL between diagonal Gaussians (the VAE's KL term, UDL section 17.6, for a standard-normal prior;
appendix C.5.4 in general) is :func:`gaussian_kl`. Everything returns the *bound* (larger is better), not a loss:
minimize ``-elbo(...)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from udl.losses._common import Reduction, as_float_tensor, check_positive, check_reduction, reduce

__all__ = ["elbo", "elbo_from_joint", "elbo_from_posterior", "gaussian_kl", "iwae_bound"]


def gaussian_kl(
    mean_q: Tensor,
    std_q: Tensor,
    mean_p: Tensor | float = 0.0,
    std_p: Tensor | float = 1.0,
    reduction: Reduction = "none",
) -> Tensor:
    r"""D_KL[Norm(μ_q, σ_q²) ‖ Norm(μ_p, σ_p²)] per element (diagonal Gaussians: sum over the latent dimension).

        KL = log(σ_p/σ_q) + (σ_q² + (μ_q − μ_p)²) / (2σ_p²) − ½

    With the standard-normal prior (the defaults) this is the VAE's KL term (UDL section 17.6) per dimension,
    ½(σ_q² + μ_q² − 1 − log σ_q²). Equals ``torch.distributions.kl_divergence`` of two ``Normal``s elementwise.

    Args:
        mean_q, std_q: parameters of q (std > 0); broadcast with those of p.
        mean_p, std_p: parameters of p (std > 0).
        reduction: ``"none"`` (default: elementwise, to be summed over the latent dimension), ``"mean"``, ``"sum"``.
    """
    check_reduction(reduction)
    mp, sp = as_float_tensor(mean_p, mean_q), as_float_tensor(std_p, mean_q)
    check_positive(std_q, "std_q")
    check_positive(sp, "std_p")
    ratio = (std_q / sp).pow(2)
    kl = 0.5 * (ratio + ((mean_q - mp) / sp).pow(2) - 1 - torch.log(ratio))
    return reduce(kl, reduction)


def elbo(reconstruction_log_prob: Tensor, kl: Tensor, reduction: Reduction = "none") -> Tensor:
    """ELBO = E_q[log Pr(x | z)] − D_KL[q(z | x) ‖ Pr(z)] (UDL section 17.4.2).

    Args:
        reconstruction_log_prob: (S, N) log Pr(x_n | z_sn) for S samples z_sn ~ q(z | x_n) (the expectation is
            their mean; S = 1 is the VAE's single-sample estimate, UDL section 17.6), or (N,) when already averaged.
        kl: (N,) D_KL[q(z | x_n) ‖ Pr(z)] in closed form (e.g. :func:`gaussian_kl` summed over dimensions).
        reduction: ``"none"`` (default, per example), ``"mean"`` or ``"sum"``.
    """
    check_reduction(reduction)
    rec = (
        reconstruction_log_prob.mean(0)
        if reconstruction_log_prob.ndim == kl.ndim + 1
        else reconstruction_log_prob
    )
    if rec.shape != kl.shape:
        raise ValueError(
            f"reconstruction_log_prob must have shape (S, *{tuple(kl.shape)}) or {tuple(kl.shape)} (the shape "
            f"of kl), got {tuple(reconstruction_log_prob.shape)}"
        )
    return reduce(rec - kl, reduction)


def elbo_from_posterior(
    log_evidence: Tensor, kl_to_posterior: Tensor, reduction: Reduction = "none"
) -> Tensor:
    """ELBO = log Pr(x) − D_KL[q(z | x) ‖ Pr(z | x)] (UDL section 17.4.1): the bound is tight iff q is the posterior.

    ``kl_to_posterior`` must be ≥ 0 (it is a KL divergence); a negative entry raises a ValueError.
    """
    check_reduction(reduction)
    check_positive(kl_to_posterior, "kl_to_posterior", allow_zero=True)
    return reduce(log_evidence - kl_to_posterior, reduction)


def _check_samples(log_joint: Tensor, log_q: Tensor) -> Tensor:
    if log_joint.shape != log_q.shape or log_joint.ndim < 1 or log_joint.shape[0] < 1:
        raise ValueError(
            "log_joint and log_q must have the same shape (K, ...) with K >= 1 samples first, got "
            f"{tuple(log_joint.shape)} and {tuple(log_q.shape)}"
        )
    return log_joint - log_q


def elbo_from_joint(log_joint: Tensor, log_q: Tensor, reduction: Reduction = "none") -> Tensor:
    """Monte Carlo ELBO (UDL section 17.4): mean over samples z_k ~ q of log Pr(x, z_k) − log q(z_k).

    Args:
        log_joint: (K, ...) log Pr(x, z_k) for K samples (first dimension).
        log_q: (K, ...) log q(z_k | x) for the same samples.
    """
    check_reduction(reduction)
    return reduce(_check_samples(log_joint, log_q).mean(0), reduction)


def iwae_bound(log_joint: Tensor, log_q: Tensor, reduction: Reduction = "none") -> Tensor:
    """Importance-weighted bound log (1/K) Σ_k Pr(x, z_k)/q(z_k), z_k ~ q (Burda et al. 2016; the log of the
    importance-sampling estimate of Pr(x), UDL section 17.8.1), as a log-sum-exp.

    K = 1 is the single-sample ELBO; E[bound] rises with K and tends to log Pr(x).

    Args:
        log_joint: (K, ...) log Pr(x, z_k) for K samples (first dimension).
        log_q: (K, ...) log q(z_k | x).
    """
    check_reduction(reduction)
    log_w = _check_samples(log_joint, log_q)
    return reduce(torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0]), reduction)
