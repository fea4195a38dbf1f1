"""The toy densities of chapters 14-18 against torch.distributions, closed-form moments and numeric integration."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from udl.data import (
    GaussianMixture,
    concentric_rings,
    grid_of_gaussians,
    mixture_1d,
    ring_of_gaussians,
    two_moons,
)


def _torch_mixture(m: GaussianMixture) -> D.MixtureSameFamily:
    comp = D.Independent(D.Normal(m.means, m.stds[:, None].expand_as(m.means)), 1)
    return D.MixtureSameFamily(D.Categorical(probs=m.weights), comp)


@pytest.mark.parametrize("mixture", [mixture_1d(), ring_of_gaussians(), grid_of_gaussians(side=3, std=0.3)])
def test_log_prob_equals_torch_distributions(mixture: GaussianMixture) -> None:
    x = torch.randn(200, mixture.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    torch.testing.assert_close(
        mixture.log_prob(x), _torch_mixture(mixture).log_prob(x), rtol=1e-14, atol=1e-12
    )
    post = mixture.posterior(x)
    torch.testing.assert_close(post.sum(1), torch.ones(200, dtype=torch.float64), rtol=0, atol=1e-12)


def test_density_integrates_to_one() -> None:
    one_d = mixture_1d()
    grid = torch.linspace(-6, 6, 24001, dtype=torch.float64)[:, None]
    assert float(torch.trapezoid(one_d.log_prob(grid).exp(), grid[:, 0])) == pytest.approx(1.0, abs=1e-9)
    ring = ring_of_gaussians(modes=4, radius=1.0, std=0.3)
    axis = torch.linspace(-3.5, 3.5, 701, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    p = ring.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).exp().reshape(701, 701)
    assert float(torch.trapezoid(torch.trapezoid(p, axis, dim=1), axis)) == pytest.approx(1.0, abs=1e-6)


def test_samples_match_the_closed_form_moments_and_weights() -> None:
    m = GaussianMixture([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]], [0.5, 1.0, 0.25], [0.2, 0.5, 0.3])
    x, z = m.sample(200_000, generator=torch.Generator().manual_seed(1), return_components=True)
    freq = torch.bincount(z, minlength=3).double() / len(z)
    assert torch.allclose(freq, m.weights, atol=4 * math.sqrt(0.25 / len(z)))
    torch.testing.assert_close(x.mean(0), m.mean(), rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(x.T), m.covariance(), rtol=0, atol=0.06)
    # samples of component k sit at μ_k with spread σ_k
    for k in range(3):
        assert float((x[z == k] - m.means[k]).std()) == pytest.approx(float(m.stds[k]), rel=0.02)


def test_sampling_is_deterministic_under_a_seed() -> None:
    ring = ring_of_gaussians()
    a = ring.sample(50, generator=torch.Generator().manual_seed(3))
    b = ring.sample(50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(
        two_moons(40, generator=torch.Generator().manual_seed(2))[0],
        two_moons(40, generator=torch.Generator().manual_seed(2))[0],
    )


def test_factories_place_the_modes() -> None:
    ring = ring_of_gaussians(modes=8, radius=2.0)
    torch.testing.assert_close(ring.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    grid = grid_of_gaussians(side=5, spacing=1.0)
    assert grid.n_components == 25 and torch.equal(grid.means.mean(0), torch.zeros(2, dtype=torch.float64))
    assert sorted(set(grid.means[:, 0].tolist())) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    k, dist = grid.nearest_component(grid.means + 0.01)
    assert torch.equal(k, torch.arange(25)) and torch.allclose(
        dist, torch.full((25,), 0.01 * 2**0.5 / 0.05, dtype=torch.float64)
    )


def test_two_moons_and_rings_lie_on_their_curves() -> None:
    x, moon = two_moons(1000, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert int(moon.sum()) == 500
    upper = x[moon == 0]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(500, dtype=torch.float64))
    lower = x[moon == 1] - torch.tensor([1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(lower.norm(dim=1), torch.ones(500, dtype=torch.float64))
    x, ring = concentric_rings(1000, radii=(1.0, 3.0), noise=0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(x.norm(dim=1), torch.tensor([1.0, 3.0], dtype=torch.float64)[ring])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: GaussianMixture([0.0, 1.0], 1.0), "means"),
        (lambda: GaussianMixture([[0.0], [1.0]], [1.0, -1.0]), "stds"),
        (lambda: GaussianMixture([[0.0], [1.0]], 1.0, [1.0]), "weights"),
        (lambda: GaussianMixture([[0.0], [1.0]], 1.0, [0.0, 0.0]), "weights"),
        (lambda: ring_of_gaussians(modes=0), "modes"),
        (lambda: grid_of_gaussians(std=float("nan")), "std"),
        (lambda: two_moons(0), "n"),
        (lambda: concentric_rings(10, radii=()), "radii"),
        (lambda: ring_of_gaussians().log_prob(torch.zeros(3, 3)), "shape"),
    ],
)
def test_bad_arguments_raise_one_clear_error(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()
