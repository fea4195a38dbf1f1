"""Chapter 17: gradient estimators against the exact gradient, the mixture LVM's bounds, the VAE."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from udl.data import mixture_1d, ring_of_gaussians
from udl.generative import (
    VAE,
    mixture_elbo,
    mixture_iwae,
    reparameterization_gradient,
    reparameterize,
    score_function_gradient,
)

F64 = torch.float64


def _exact_grad(mu: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) = sin x: E[f] = sin μ · exp(−σ²/2), so ∂/∂μ = cos μ e^{−σ²/2}, ∂/∂σ = −σ sin μ e^{−σ²/2}."""
    damp = torch.exp(-(sigma**2) / 2)
    return torch.cos(mu) * damp, -sigma * torch.sin(mu) * damp


@pytest.mark.parametrize("estimator", ["reparameterization", "score", "score_baseline"])
def test_gradient_estimators_are_unbiased(estimator: str) -> None:
    mu = torch.tensor([0.3, -1.0, 2.0], dtype=F64)
    sigma = torch.tensor([0.5, 1.0, 0.8], dtype=F64)
    g = torch.Generator().manual_seed(1)
    n = 200_000
    if estimator == "reparameterization":
        dmu, dsigma = reparameterization_gradient(torch.sin, mu, sigma, n, generator=g)
    else:
        baseline = "leave_one_out" if estimator == "score_baseline" else "none"
        dmu, dsigma = score_function_gradient(torch.sin, mu, sigma, n, baseline=baseline, generator=g)
    gmu, gsigma = _exact_grad(mu, sigma)
    for est, exact in ((dmu, gmu), (dsigma, gsigma)):
        se = est.std(0) / math.sqrt(n)
        assert bool(((est.mean(0) - exact).abs() < 4 * se).all()), (est.mean(0), exact, se)


def test_reparameterization_has_lower_variance_and_baseline_helps() -> None:
    mu, sigma = torch.tensor([1.0], dtype=F64), torch.tensor([0.5], dtype=F64)
    f = lambda x: (x - 3.0) ** 2  # noqa: E731  large mean of f: the baseline matters
    g = torch.Generator().manual_seed(0)
    rep = reparameterization_gradient(f, mu, sigma, 20000, generator=g)[0].var()
    plain = score_function_gradient(f, mu, sigma, 20000, generator=g)[0].var()
    based = score_function_gradient(f, mu, sigma, 20000, baseline="leave_one_out", generator=g)[0].var()
    assert rep < based < plain
    # exact gradient of E[(x−3)²] = (μ−3)² + σ² w.r.t. μ is 2(μ−3): the reparameterized estimate is 2(x−3)
    est = reparameterization_gradient(f, mu, sigma, 20000, generator=g)[0].mean()
    assert abs(float(est) + 4.0) < 0.02


def test_estimator_arguments_are_checked() -> None:
    one = torch.ones(1)
    with pytest.raises(ValueError, match="samples"):
        reparameterization_gradient(torch.sin, one, one, 0)
    with pytest.raises(ValueError, match="std"):
        score_function_gradient(torch.sin, one, -one, 5)
    with pytest.raises(ValueError, match="baseline"):
        score_function_gradient(torch.sin, one, one, 5, baseline="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="samples >= 2"):
        score_function_gradient(torch.sin, one, one, 1, baseline="leave_one_out")


def test_reparameterize_is_mean_plus_std_times_noise() -> None:
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    mean, std = torch.tensor([1.0, -2.0], dtype=F64), torch.tensor([0.5, 2.0], dtype=F64)
    z = reparameterize(mean, std, 4, generator=g1)
    torch.testing.assert_close(z, mean + std * torch.randn(4, 2, generator=g2, dtype=F64))


@pytest.mark.parametrize("mixture", [mixture_1d(), ring_of_gaussians(modes=6, std=0.5)])
def test_mixture_elbo_bounds_log_likelihood_and_is_tight_at_posterior(mixture) -> None:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    x = mixture.sample(50, generator=g)
    log_px = mixture.log_prob(x)
    post = mixture.posterior(x)
    torch.testing.assert_close(mixture_elbo(mixture, x, post), log_px, rtol=0, atol=1e-12)
    q = torch.softmax(torch.randn(50, mixture.n_components, generator=g, dtype=F64), 1)
    e = mixture_elbo(mixture, x, q)
    assert bool((e <= log_px + 1e-12).all())
    # ELBO = log p − KL(q ‖ posterior), the KL computed by torch.distributions
    posterior = torch.distributions.Categorical(logits=mixture.component_log_prob(x))  # logits: no underflow
    kl = kl_divergence(torch.distributions.Categorical(probs=q), posterior)
    torch.testing.assert_close(e, log_px - kl, rtol=0, atol=1e-10)
    # IWAE with the posterior as proposal is exact for every draw; with a uniform q it rises with K
    torch.testing.assert_close(mixture_iwae(mixture, x, post, 3, generator=g), log_px, rtol=0, atol=1e-10)
    uniform = torch.full_like(q, 1.0 / mixture.n_components)
    means = [
        float(mixture_iwae(mixture, x.repeat(400, 1), uniform.repeat(400, 1), k, generator=g).mean())
        for k in (1, 3, 10, 30)
    ]
    assert means == sorted(means)
    assert means[-1] <= float(log_px.mean()) + 1e-9


def test_mixture_bounds_reject_bad_q() -> None:
    m = mixture_1d()
    x = torch.zeros(2, 1, dtype=F64)
    with pytest.raises(ValueError, match="q must have shape"):
        mixture_elbo(m, x, torch.full((2, 3), 1 / 3, dtype=F64))
    with pytest.raises(ValueError, match="probability vector"):
        mixture_elbo(m, x, torch.full((2, 4), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="k must be"):
        mixture_iwae(m, x, torch.full((2, 4), 0.25, dtype=F64), 0)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_vae_elbo_matches_its_definition(likelihood: str) -> None:
    g = torch.Generator().manual_seed(0)
    vae = VAE(6, 2, (8,), likelihood, generator=g).double()  # type: ignore[arg-type]
    x = torch.rand(5, 6, generator=g, dtype=F64)
    if likelihood == "bernoulli":
        x = (x > 0.5).double()
    mean, std = vae.encode(x)
    obj, kl_dims = vae.elbo(x, samples=3, generator=torch.Generator().manual_seed(7))
    z = mean + std * torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(7), dtype=F64)
    out = vae.decoder(z)
    if likelihood == "gaussian":
        assert vae.log_std is not None
        rec = Normal(out, vae.log_std.exp()).log_prob(x).sum(-1).mean(0)
    else:
        rec = torch.distributions.Bernoulli(logits=out).log_prob(x).sum(-1).mean(0)
    kl = kl_divergence(Normal(mean, std), Normal(torch.zeros_like(mean), torch.ones_like(std)))
    torch.testing.assert_close(kl_dims, kl)
    torch.testing.assert_close(obj, rec - kl.sum(-1))
    # free bits: each dimension's KL floored; KL weight scales it
    fb, _ = vae.elbo(x, samples=3, free_bits=0.5, kl_weight=0.3, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(fb, rec - 0.3 * kl.clamp(min=0.5).sum(-1))
    # IWAE(k=1) has the mean of the single-sample ELBO; IWAE(k) >= mean ELBO on average
    with torch.no_grad():
        iw = vae.iwae(x, 200, generator=g)
        assert float(iw.mean()) >= float(vae.elbo(x, samples=200, generator=g)[0].mean())
    assert vae.sample(4, generator=g).shape == (4, 6)
    assert vae.sample(4, generator=g, mean_only=False).shape == (4, 6)


def test_vae_trains_elbo_up() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g) @ torch.tensor([[1.0, 0.5, -0.3, 0.0], [0.0, 1.0, 0.4, 2.0]])
    vae = VAE(4, 2, (32,), generator=g)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    first = float(vae.elbo(x, generator=g)[0].mean().detach())
    for _ in range(300):
        loss = -vae.elbo(x, generator=g)[0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(vae.elbo(x, samples=20, generator=g)[0].mean().detach()) > first + 3.0


def test_vae_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, 2, likelihood="poisson")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(4, 0)


def test_vae_decoder_widths() -> None:
    vae = VAE(10, 3, (8,), decoder_hidden=(16, 16), generator=torch.Generator().manual_seed(0))
    widths = [m.out_features for m in vae.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 16, 10]
    widths = [m.out_features for m in vae.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [8, 6]
