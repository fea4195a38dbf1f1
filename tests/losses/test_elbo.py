"""ELBO, IWAE bound and the Gaussian KL against torch.distributions and exact likelihoods (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from udl.losses import elbo, elbo_from_joint, elbo_from_posterior, gaussian_kl, iwae_bound


def test_gaussian_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mq, mp = (
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(5, 3, generator=g, dtype=torch.float64),
    )
    sq = torch.rand(5, 3, generator=g, dtype=torch.float64) + 0.1
    sp = torch.rand(5, 3, generator=g, dtype=torch.float64) + 0.1
    expected = kl_divergence(Normal(mq, sq), Normal(mp, sp))
    torch.testing.assert_close(gaussian_kl(mq, sq, mp, sp), expected, rtol=1e-12, atol=1e-12)
    # the standard-normal prior by default
    torch.testing.assert_close(gaussian_kl(mq, sq), kl_divergence(Normal(mq, sq), Normal(0.0, 1.0)))
    torch.testing.assert_close(
        gaussian_kl(mq, sq, reduction="sum"), expected.new_tensor(0) + gaussian_kl(mq, sq).sum()
    )


def test_gaussian_kl_gradient_matches_torch() -> None:
    mq = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    sq = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    ours = torch.autograd.grad(gaussian_kl(mq, sq).sum(), (mq, sq))
    ref = torch.autograd.grad(kl_divergence(Normal(mq, sq), Normal(0.0, 1.0)).sum(), (mq, sq))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def test_gaussian_kl_rejects_bad_std() -> None:
    with pytest.raises(ValueError, match="std_q"):
        gaussian_kl(torch.zeros(2), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="std_p"):
        gaussian_kl(torch.zeros(2), torch.ones(2), 0.0, -1.0)
    with pytest.raises(ValueError, match="reduction"):
        gaussian_kl(torch.zeros(2), torch.ones(2), reduction="avg")  # type: ignore[arg-type]


def _linear_gaussian(x: torch.Tensor, w: float, s: float) -> tuple[torch.Tensor, float, float]:
    """z ~ N(0,1), x | z ~ N(w z, s²): log p(x) and the exact posterior N(m, v)."""
    log_px = Normal(torch.tensor(0.0, dtype=x.dtype), math.sqrt(w * w + s * s)).log_prob(x)
    v = s * s / (w * w + s * s)
    return log_px, v * w / (s * s), v


def test_both_forms_of_the_elbo_agree_and_bound_log_evidence() -> None:
    """Linear-Gaussian model, Gaussian q: reconstruction − KL (closed form) = log p − KL(q ‖ posterior)."""
    w, s = 1.5, 0.7
    x = torch.tensor([-1.0, 0.2, 2.5], dtype=torch.float64)
    log_px, post_scale, post_var = _linear_gaussian(x, w, s)
    mq = torch.tensor([0.1, -0.4, 1.0], dtype=torch.float64)
    sq = torch.tensor([0.3, 0.9, 0.5], dtype=torch.float64)
    # E_q[log N(x; w z, s²)] in closed form: -½log 2πs² − ((x − w m)² + w² σ_q²) / 2s²
    rec = -0.5 * math.log(2 * math.pi * s * s) - ((x - w * mq) ** 2 + w * w * sq**2) / (2 * s * s)
    first = elbo(rec, gaussian_kl(mq, sq))
    kl_post = kl_divergence(Normal(mq, sq), Normal(post_scale * x, torch.full_like(x, post_var).sqrt()))
    second = elbo_from_posterior(log_px, kl_post)
    torch.testing.assert_close(first, second, rtol=1e-12, atol=1e-12)
    assert bool((first < log_px).all())
    # q = posterior: tight
    tight = elbo_from_posterior(
        log_px, kl_divergence(Normal(post_scale * x, post_var**0.5), Normal(post_scale * x, post_var**0.5))
    )
    torch.testing.assert_close(tight, log_px)


def test_monte_carlo_elbo_and_iwae_with_the_true_posterior_are_exact() -> None:
    """With q = posterior, log p(x, z) − log q(z) = log p(x) for every z: both bounds equal log p exactly."""
    w, s = 1.5, 0.7
    x = torch.tensor([-1.0, 0.2, 2.5], dtype=torch.float64)
    log_px, a, v = _linear_gaussian(x, w, s)
    q = Normal(a * x, math.sqrt(v))
    z = q.sample((7,))
    log_joint = Normal(0.0, 1.0).log_prob(z) + Normal(w * z, s).log_prob(x)
    torch.testing.assert_close(elbo_from_joint(log_joint, q.log_prob(z)), log_px)
    torch.testing.assert_close(iwae_bound(log_joint, q.log_prob(z)), log_px)


def test_iwae_bound_is_log_mean_exp_and_rises_with_k() -> None:
    torch.manual_seed(0)
    w, s = 1.5, 0.7
    x = torch.tensor([1.3], dtype=torch.float64)
    log_px, _, _ = _linear_gaussian(x, w, s)
    q = Normal(
        torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    )  # the prior as proposal
    lw = []
    means = []
    for k in (1, 4, 16, 64):
        z = q.sample((20000, k)).squeeze(-1)  # (R, k)
        log_joint = Normal(0.0, 1.0).log_prob(z) + Normal(w * z, s).log_prob(x)
        bound = iwae_bound(log_joint.T, q.log_prob(z.unsqueeze(-1)).squeeze(-1).T)  # (R,)
        means.append(float(bound.mean()))
        lw.append(log_joint - q.log_prob(z.unsqueeze(-1)).squeeze(-1))
    assert means == sorted(means)
    assert means[-1] < float(log_px) + 1e-3
    assert float(log_px) - means[-1] < 0.1 * (float(log_px) - means[0])
    # definition: log (1/K) Σ exp(log w)
    direct = torch.log(torch.exp(lw[1]).mean(1))
    torch.testing.assert_close(iwae_bound(lw[1].T, torch.zeros_like(lw[1]).T), direct)
    # K = 1 is the single-sample ELBO
    torch.testing.assert_close(
        iwae_bound(lw[0].T, torch.zeros_like(lw[0]).T), elbo_from_joint(lw[0].T, torch.zeros_like(lw[0]).T)
    )


def test_elbo_rejects_shapes() -> None:
    with pytest.raises(ValueError, match="reconstruction_log_prob"):
        elbo(torch.zeros(3, 4), torch.zeros(5))
    with pytest.raises(ValueError, match="log_joint and log_q"):
        iwae_bound(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="kl_to_posterior"):
        elbo_from_posterior(torch.zeros(2), torch.tensor([0.1, -0.1]))
    # reconstruction averaged over samples
    torch.testing.assert_close(
        elbo(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([0.5, 0.5])), torch.tensor([1.5, 2.5])
    )
