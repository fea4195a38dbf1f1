"""udl.functional.bayes: the exact Gaussian posterior of a fixed-feature model (UDL section 9.3.5, notebook 9.4)
against ridge regression, torch.distributions and Monte Carlo."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from reference import F64, gen
from udl.functional import (
    GaussianPosterior,
    bayesian_linear_posterior,
    bayesian_linear_predictive,
    sample_posterior,
)


def _problem(seed: int = 0, n: int = 15, d: int = 6):
    g = gen(seed)
    features = torch.cat([torch.ones(n, 1, dtype=F64), torch.randn(n, d - 1, generator=g, dtype=F64)], dim=1)
    y = features @ torch.randn(d, generator=g, dtype=F64) + 0.3 * torch.randn(n, generator=g, dtype=F64)
    return features, y


@pytest.mark.parametrize(("noise_var", "prior_var"), [(0.09, 1000.0), (0.09, 1.0), (2.0, 0.5)])
def test_posterior_mean_is_the_ridge_solution(noise_var: float, prior_var: float) -> None:
    # Ridge regression minimizes ||Hᵀφ − y||² + λ||φ||²: the least-squares solution of the stacked system
    # [Hᵀ; √λ I] φ = [y; 0] (solved by QR, a route independent of the posterior's Cholesky). λ = σ²/σ_p².
    features, y = _problem()
    lam = noise_var / prior_var
    d = features.shape[1]
    stacked = torch.cat([features, math.sqrt(lam) * torch.eye(d, dtype=F64)])
    target = torch.cat([y, torch.zeros(d, dtype=F64)])
    ridge = torch.linalg.lstsq(stacked, target.unsqueeze(1), driver="gels").solution.squeeze(1)
    post = bayesian_linear_posterior(features, y, noise_var, prior_var)
    torch.testing.assert_close(post.mean, ridge, rtol=1e-11, atol=1e-12)
    explicit = torch.linalg.inv(features.T @ features / noise_var + torch.eye(d, dtype=F64) / prior_var)
    torch.testing.assert_close(post.covariance, explicit, rtol=1e-11, atol=1e-13)


def test_posterior_is_likelihood_times_prior_normalized() -> None:
    # Bayes' rule (UDL section 9.3.5): log Norm[φ; μ, Σ] − log Π_i Pr(y_i|φ) − log Pr(φ) is the same constant
    # (minus the log evidence) for every φ; densities from torch.distributions.
    features, y = _problem(1)
    noise_var, prior_var = 0.2, 3.0
    post = bayesian_linear_posterior(features, y, noise_var, prior_var)
    d = features.shape[1]
    posterior = MultivariateNormal(post.mean, post.covariance)
    prior = MultivariateNormal(torch.zeros(d, dtype=F64), prior_var * torch.eye(d, dtype=F64))
    phis = torch.randn(20, d, generator=gen(2), dtype=F64) + post.mean
    likelihood = Normal(phis @ features.T, math.sqrt(noise_var)).log_prob(y).sum(dim=1)
    gaps = posterior.log_prob(phis) - likelihood - prior.log_prob(phis)
    torch.testing.assert_close(gaps, gaps[0].expand(20), rtol=0, atol=1e-9)
    # ... and that constant is minus the log evidence, log Norm[y; 0, σ_p² HᵀH + σ² I]
    evidence = MultivariateNormal(
        torch.zeros(len(y), dtype=F64),
        prior_var * features @ features.T + noise_var * torch.eye(len(y), dtype=F64),
    )
    torch.testing.assert_close(gaps[0], -evidence.log_prob(y), rtol=0, atol=1e-9)


def test_predictive_is_the_conditional_of_the_joint_gaussian() -> None:
    # Independent route (the Gaussian-process view): under the prior, (y, y*) is jointly Gaussian with covariance
    # σ_p² H_allᵀH_all + σ² I, so log Pr(y*|y) = log Pr(y, y*) − log Pr(y), each a MultivariateNormal density.
    features, y = _problem(3)
    noise_var, prior_var = 0.09, 4.0
    new = torch.cat([torch.ones(5, 1, dtype=F64), 3 * torch.randn(5, 5, generator=gen(4), dtype=F64)], dim=1)
    pred = bayesian_linear_predictive(
        new, bayesian_linear_posterior(features, y, noise_var, prior_var), noise_var
    )
    y_star = pred.mean + torch.randn(
        5, generator=gen(5), dtype=F64
    )  # arbitrary points to evaluate densities at
    n = len(y)
    marginal = MultivariateNormal(
        torch.zeros(n, dtype=F64), prior_var * features @ features.T + noise_var * torch.eye(n, dtype=F64)
    )
    for j in range(5):
        all_features = torch.cat([features, new[j : j + 1]])
        joint = MultivariateNormal(
            torch.zeros(n + 1, dtype=F64),
            prior_var * all_features @ all_features.T + noise_var * torch.eye(n + 1, dtype=F64),
        )
        conditional = joint.log_prob(torch.cat([y, y_star[j : j + 1]])) - marginal.log_prob(y)
        ours = Normal(pred.mean[j], pred.variance[j].sqrt()).log_prob(y_star[j])
        torch.testing.assert_close(ours, conditional, rtol=0, atol=1e-9)
    torch.testing.assert_close(pred.variance - pred.function_variance, torch.full((5,), noise_var, dtype=F64))


def test_predictive_matches_monte_carlo_over_posterior_samples() -> None:
    features, y = _problem(6)
    noise_var, prior_var = 0.09, 10.0
    post = bayesian_linear_posterior(features, y, noise_var, prior_var)
    new = torch.cat([torch.ones(4, 1, dtype=F64), torch.randn(4, 5, generator=gen(7), dtype=F64)], dim=1)
    pred = bayesian_linear_predictive(new, post, noise_var)
    s = 200_000
    phis = sample_posterior(post, s, generator=gen(8))
    f = phis @ new.T  # (S, 4): function values of the sampled models
    se_mean = (pred.function_variance / s).sqrt()
    assert ((f.mean(dim=0) - pred.mean).abs() <= 5 * se_mean).all()
    se_var = pred.function_variance * math.sqrt(2 / s)  # sd of a Gaussian sample variance
    assert ((f.var(dim=0) - pred.function_variance).abs() <= 5 * se_var).all()
    # the samples' moments are the posterior's
    sd = float(post.covariance.diag().max()) ** 0.5
    torch.testing.assert_close(phis.mean(dim=0), post.mean, rtol=0, atol=5 * sd / s**0.5)
    scale = float(post.covariance.abs().max())
    torch.testing.assert_close(torch.cov(phis.T), post.covariance, rtol=0.05, atol=0.02 * scale)


def test_sampling_is_deterministic_and_outputs_share_the_covariance() -> None:
    features, y = _problem(9)
    post = bayesian_linear_posterior(features, y, 0.1, 1.0)
    assert torch.equal(
        sample_posterior(post, 3, generator=gen(1)), sample_posterior(post, 3, generator=gen(1))
    )
    ys = torch.stack([y, 2 * y + 1], dim=1)  # (N, 2)
    two = bayesian_linear_posterior(features, ys, 0.1, 1.0)
    torch.testing.assert_close(two.mean[:, 0], post.mean, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(two.mean[:, 1], bayesian_linear_posterior(features, 2 * y + 1, 0.1, 1.0).mean)
    torch.testing.assert_close(two.covariance, post.covariance, rtol=0, atol=0)


def test_bad_input() -> None:
    features, y = _problem()
    with pytest.raises(ValueError, match="noise_var"):
        bayesian_linear_posterior(features, y, 0.0, 1.0)
    with pytest.raises(ValueError, match="prior_var"):
        bayesian_linear_posterior(features, y, 1.0, -1.0)
    with pytest.raises(ValueError, match="features must be"):
        bayesian_linear_posterior(features, y[:-1], 1.0, 1.0)
    with pytest.raises(ValueError, match="samples"):
        sample_posterior(GaussianPosterior(torch.zeros(2), torch.eye(2)), 0)
