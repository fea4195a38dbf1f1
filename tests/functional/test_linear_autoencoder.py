"""The linear autoencoder's loss vs the data formula, and its critical points vs brute-force float64 Hessians."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import hessian

from udl.functional import linear_autoencoder_critical_points, linear_autoencoder_loss


def _data(d: int = 5, n: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.linspace(2.0, 0.5, d, dtype=torch.float64)
    return x, x.T @ x / n


def test_loss_equals_the_mean_reconstruction_error() -> None:
    x, sigma = _data()
    g = torch.Generator().manual_seed(1)
    w1 = torch.randn(3, 2, 5, generator=g, dtype=torch.float64)  # a batch of three
    w2 = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    direct = 0.5 * ((x[None] - x[None] @ w1.transpose(1, 2) @ w2.transpose(1, 2)) ** 2).sum(-1).mean(-1)
    torch.testing.assert_close(linear_autoencoder_loss(w1, w2, sigma), direct, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize(("d", "k"), [(5, 2), (4, 1), (4, 3)])
def test_critical_points_have_zero_gradient_and_the_stated_loss_and_morse_index(d: int, k: int) -> None:
    _, sigma = _data(d)
    points = linear_autoencoder_critical_points(sigma, k)
    assert len(points) == sum(math.comb(d, m) for m in range(k + 1))

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return linear_autoencoder_loss(theta[: k * d].view(k, d), theta[k * d :].view(d, k), sigma)

    minima = []
    for p in points:
        theta = torch.cat([p.w1.flatten(), p.w2.flatten()]).requires_grad_(True)
        (g,) = torch.autograd.grad(loss(theta), theta)
        assert g.abs().max() < 1e-12
        assert float(loss(theta).detach()) == pytest.approx(p.loss, abs=1e-12)
        ev = torch.linalg.eigvalsh(hessian(loss, theta.detach()))
        assert int((ev < -1e-9).sum()) == p.morse_index
        if p.morse_index == 0:
            minima.append(p.subset)
    assert minima == [tuple(range(k))]  # only the principal subspace is a minimum


def test_bad_input() -> None:
    _, sigma = _data()
    with pytest.raises(ValueError, match="1 <= k < d"):
        linear_autoencoder_critical_points(sigma, 5)
    with pytest.raises(ValueError, match="distinct"):
        linear_autoencoder_critical_points(torch.eye(3, dtype=torch.float64), 1)
    with pytest.raises(ValueError, match="need W1"):
        linear_autoencoder_loss(torch.ones(2, 4), torch.ones(5, 2), sigma)
