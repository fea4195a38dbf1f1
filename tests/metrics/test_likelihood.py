"""Negative log-likelihood and bits/dim against closed forms: a Gaussian via torch.distributions, a histogram density
(where the dequantized bound is exact), the Jensen bound against exact cell probabilities, and dequantization."""

from __future__ import annotations

import math

import pytest
import torch

from udl.metrics import bits_per_dim, negative_log_likelihood, uniform_dequantize


def test_nll_and_bits_of_a_gaussian_match_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.zeros(4, dtype=torch.float64), 2.0)
    log_prob = normal.log_prob(x).sum(1)
    torch.testing.assert_close(negative_log_likelihood(log_prob), -log_prob.mean())
    torch.testing.assert_close(negative_log_likelihood(log_prob, "sum"), -log_prob.sum())
    per_dim = normal.log_prob(x).mean(1)  # mean over the 4 variables: −bits·log 2
    torch.testing.assert_close(bits_per_dim(log_prob, 4, reduction="none"), -per_dim / math.log(2))
    # 8-bit images in [0, 1) with Δ = 1/256: exactly 8 bits more per dimension
    torch.testing.assert_close(bits_per_dim(log_prob, 4, bin_width=1 / 256), bits_per_dim(log_prob, 4) + 8)


def test_histogram_density_makes_the_dequantized_bound_exact() -> None:
    # K = 17 levels in D = 2 with a joint table P(k1, k2); p(y) = P(k)/Δ² on the cell of k
    k_levels, g = 17, torch.Generator().manual_seed(1)
    table = torch.softmax(torch.randn(k_levels, k_levels, generator=g, dtype=torch.float64).flatten(), 0)
    table = table.reshape(k_levels, k_levels)
    k = torch.randint(0, k_levels, (200, 2), generator=g)
    y = uniform_dequantize(k, k_levels, generator=g, dtype=torch.float64)
    cell = (y * k_levels).floor().long()
    assert torch.equal(cell, k)
    log_density = torch.log(table[cell[:, 0], cell[:, 1]]) + 2 * math.log(k_levels)
    exact_bits = -torch.log2(table[k[:, 0], k[:, 1]]) / 2
    torch.testing.assert_close(
        bits_per_dim(log_density, 2, bin_width=1 / k_levels, reduction="none"), exact_bits
    )


def test_dequantized_bits_bound_the_discrete_model_from_above() -> None:
    # a smooth density p = N(0.5, 0.2²) on y; the discrete model P(k) = Φ((k+1)Δ) − Φ(kΔ) (exact, via erf)
    k_levels, mu, sigma = 17, 0.5, 0.2
    delta = 1 / k_levels
    normal = torch.distributions.Normal(torch.tensor(mu, dtype=torch.float64), sigma)
    k = torch.arange(k_levels, dtype=torch.float64)
    exact = -torch.log2(normal.cdf((k + 1) * delta) - normal.cdf(k * delta))  # bits of each level
    u = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000  # E_u by the midpoint rule
    y = ((k[:, None] + u[None]) * delta).reshape(-1)
    bound = (
        bits_per_dim(normal.log_prob(y), 1, bin_width=delta, reduction="none").reshape(k_levels, -1).mean(1)
    )
    assert bool((bound >= exact - 1e-12).all())  # Jensen
    assert float((bound - exact).max()) < 0.05  # and tight when p varies little inside a cell


def test_uniform_dequantize_is_seeded_and_stays_in_each_cell() -> None:
    levels = torch.randint(0, 17, (3, 1, 8, 8), generator=torch.Generator().manual_seed(2))
    a = uniform_dequantize(levels, 17, generator=torch.Generator().manual_seed(3))
    b = uniform_dequantize(levels, 17, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == levels.shape and a.dtype == torch.float32
    assert bool(((a >= levels / 17) & (a < (levels + 1) / 17)).all())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bits_per_dim(torch.zeros(3), 0), "dim"),
        (lambda: bits_per_dim(torch.zeros(3), 2, bin_width=0.0), "bin_width"),
        (lambda: bits_per_dim(torch.zeros(3, 2), 2), "log_prob"),
        (lambda: negative_log_likelihood(torch.zeros(3), "avg"), "reduction"),
        (lambda: uniform_dequantize(torch.tensor([0.5]), 17), "levels"),
        (lambda: uniform_dequantize(torch.tensor([17]), 17), "levels"),
        (lambda: uniform_dequantize(torch.tensor([1]), 1), "num_levels"),
    ],
)
def test_bad_input(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()
