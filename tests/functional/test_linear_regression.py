"""Tests of udl.functional.linear_regression: loss, gradient, closed form, gradient descent, loss surface."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from udl.functional import (
    fit_linear_regression,
    gradient_descent_linear_regression,
    least_squares_gradient,
    least_squares_loss,
    loss_surface,
)


def _data(seed: int, n: int, d: int | None, noise: float = 0.3):
    """x of shape (n,) (d=None) or (n, d), y from a random linear model plus noise, and the true phi."""
    g = torch.Generator().manual_seed(seed)
    dd = 1 if d is None else d
    x = torch.randn(n, dd, generator=g, dtype=torch.float64) + 0.5
    phi_true = torch.randn(dd + 1, generator=g, dtype=torch.float64)
    y = phi_true[0] + x @ phi_true[1:] + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return (x[:, 0] if d is None else x), y, phi_true


def _design(x: torch.Tensor) -> torch.Tensor:
    x2 = x.unsqueeze(1) if x.dim() == 1 else x
    return torch.cat([torch.ones(x2.shape[0], 1, dtype=x2.dtype), x2], dim=1)


def _lambda_max(x: torch.Tensor) -> float:
    X = _design(x)
    return float(torch.linalg.eigvalsh(X.T @ X).max())


# ---------------------------------------------------------------------------------------------------- loss


@pytest.mark.parametrize("d", [None, 1, 3])
def test_loss_is_sum_of_squared_residuals(d):
    x, y, _ = _data(0, 30, d)
    g = torch.Generator().manual_seed(1)
    phi = torch.randn(_design(x).shape[1], generator=g, dtype=torch.float64)
    pred = _design(x) @ phi
    loss = least_squares_loss(phi, x, y)
    assert loss.shape == ()
    torch.testing.assert_close(loss, F.mse_loss(pred, y, reduction="sum"), rtol=1e-13, atol=0)
    torch.testing.assert_close(loss, 30 * F.mse_loss(pred, y), rtol=1e-13, atol=0)
    # explicit loop over eq. 2.5
    explicit = sum((float(phi[0]) + float(_design(x)[i, 1:] @ phi[1:]) - float(y[i])) ** 2 for i in range(30))
    assert float(loss) == pytest.approx(explicit, rel=1e-12)


def test_loss_1d_by_hand():
    x = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    y = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    phi = torch.tensor([1.0, 1.0], dtype=torch.float64)  # predictions 1, 2, 3 -> residuals 0, 0, -2
    assert float(least_squares_loss(phi, x, y)) == 4.0


def test_loss_of_empty_data_is_zero():
    e = torch.empty(0, dtype=torch.float64)
    assert float(least_squares_loss(torch.tensor([1.0, 2.0], dtype=torch.float64), e, e)) == 0.0


@pytest.mark.parametrize("d", [None, 1, 4])
def test_gradient_equals_autograd(d):
    x, y, _ = _data(2, 25, d)
    g = torch.Generator().manual_seed(3)
    phi = torch.randn(_design(x).shape[1], generator=g, dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(least_squares_loss(phi, x, y), phi)
    got = least_squares_gradient(phi.detach(), x, y)
    assert got.shape == phi.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_gradient_vanishes_at_closed_form_minimum():
    x, y, _ = _data(4, 40, 2)
    phi_hat = fit_linear_regression(x, y)
    grad = least_squares_gradient(phi_hat, x, y)
    assert float(grad.abs().max()) < 1e-10


# ------------------------------------------------------------------------------------------- closed form


@pytest.mark.parametrize("d", [None, 1, 3])
def test_closed_form_matches_lstsq(d):
    x, y, _ = _data(5, 50, d)
    expected = torch.linalg.lstsq(_design(x), y.unsqueeze(1)).solution.squeeze(1)
    phi = fit_linear_regression(x, y)
    assert phi.shape == (_design(x).shape[1],)
    assert phi.dtype == torch.float64
    torch.testing.assert_close(phi, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d", [None, 1, 3])
def test_closed_form_without_bias(d):
    x, y, _ = _data(6, 50, d)
    x2 = x.unsqueeze(1) if x.dim() == 1 else x
    expected = torch.linalg.lstsq(x2, y.unsqueeze(1)).solution.squeeze(1)
    phi = fit_linear_regression(x, y, bias=False)
    assert phi.shape == (x2.shape[1] + 1,)
    assert phi[0].item() == 0.0
    torch.testing.assert_close(phi[1:], expected, rtol=1e-10, atol=1e-12)
    # it minimizes the loss among lines through the origin, so it is no better than the free fit
    assert least_squares_loss(phi, x, y) >= least_squares_loss(fit_linear_regression(x, y), x, y)


def test_closed_form_recovers_noise_free_model():
    x, y, phi_true = _data(7, 20, 3, noise=0.0)
    torch.testing.assert_close(fit_linear_regression(x, y), phi_true, rtol=1e-10, atol=1e-10)


def test_closed_form_is_minimum_norm_when_rank_deficient():
    # 2 points, 4 parameters: infinitely many exact fits; the minimum-norm one is pinv(X) y.
    x = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -2.0], dtype=torch.float64)
    phi = fit_linear_regression(x, y)
    torch.testing.assert_close(phi, torch.linalg.pinv(_design(x)) @ y, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(_design(x) @ phi, y, rtol=1e-10, atol=1e-12)


def test_closed_form_float32_keeps_dtype():
    x, y, _ = _data(8, 30, None)
    phi = fit_linear_regression(x.float(), y.float())
    assert phi.dtype == torch.float32
    torch.testing.assert_close(phi.double(), fit_linear_regression(x, y), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------- gradient descent


@pytest.mark.parametrize("d", [None, 2])
def test_gradient_descent_converges_to_closed_form(d):
    x, y, _ = _data(9, 40, d)
    lr = 0.5 / _lambda_max(x)
    phi, path = gradient_descent_linear_regression(x, y, lr=lr, steps=2000)
    phi_hat = fit_linear_regression(x, y)
    assert float((phi - phi_hat).abs().max()) < 1e-8
    # the loss decreases monotonically for a step size below 1/lambda_max
    losses = torch.stack([least_squares_loss(p, x, y) for p in path])
    assert bool((losses[1:] <= losses[:-1] + 1e-12).all())


@pytest.mark.parametrize("factor", [1.5, 1.05])
def test_gradient_descent_diverges_above_critical_step(factor):
    x, y, _ = _data(10, 40, None)
    phi_hat = fit_linear_regression(x, y)
    lr = factor / _lambda_max(x)
    steps = 60 if factor == 1.5 else 1500
    phi, path = gradient_descent_linear_regression(x, y, lr=lr, steps=steps)
    dist = (path - phi_hat).norm(dim=1)
    assert float(dist[-1]) > 1e3 * float(dist[0])
    assert float(phi.norm()) > 1e3 * float(phi_hat.norm())
    # once the unstable direction dominates, the distance grows at every step
    tail = dist[-20:]
    assert bool((tail[1:] > tail[:-1]).all())


def test_gradient_descent_below_critical_step_converges():
    # 0.98 / lambda_max is still stable (|1 - 2 lr lambda| < 1 for every eigenvalue)
    x, y, _ = _data(10, 40, None)
    phi, _ = gradient_descent_linear_regression(x, y, lr=0.98 / _lambda_max(x), steps=3000)
    assert float((phi - fit_linear_regression(x, y)).abs().max()) < 1e-8


def test_gradient_descent_path_layout():
    x, y, _ = _data(11, 15, 2)
    phi_init = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    before = phi_init.clone()
    lr = 0.1 / _lambda_max(x)
    phi, path = gradient_descent_linear_regression(x, y, lr=lr, steps=7, phi_init=phi_init)
    assert path.shape == (8, 3)
    assert torch.equal(path[0], phi_init)
    assert torch.equal(path[-1], phi)
    assert torch.equal(phi_init, before)  # not modified in place
    # each step is phi <- phi - lr * dL/dphi (eq. 6.3)
    for t in range(7):
        expected = path[t] - lr * least_squares_gradient(path[t], x, y)
        torch.testing.assert_close(path[t + 1], expected, rtol=1e-12, atol=1e-12)


def test_gradient_descent_defaults_and_zero_steps():
    x, y, _ = _data(12, 10, None)
    phi, path = gradient_descent_linear_regression(x, y, lr=0.01, steps=0)
    assert path.shape == (1, 2)
    assert torch.equal(phi, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(path[0], phi)
    phi_init = torch.tensor([1.0, 2.0], dtype=torch.float32)  # converted to the data's dtype
    phi, path = gradient_descent_linear_regression(x, y, lr=0.01, steps=0, phi_init=phi_init)
    assert phi.dtype == torch.float64
    assert phi.tolist() == [1.0, 2.0]


def test_gradient_descent_detaches_phi_init():
    x, y, _ = _data(13, 10, None)
    phi_init = torch.tensor([0.5, 0.5], dtype=torch.float64, requires_grad=True)
    phi, path = gradient_descent_linear_regression(x, y, lr=0.01, steps=3, phi_init=phi_init)
    assert not phi.requires_grad
    assert not path.requires_grad


# --------------------------------------------------------------------------------------------- loss surface


def test_loss_surface_matches_brute_force_with_j_i_layout():
    x, y, _ = _data(14, 12, None)
    phi0_grid = torch.linspace(-2, 2, 7, dtype=torch.float64)
    phi1_grid = torch.linspace(-1, 3, 5, dtype=torch.float64)  # P1 != P0 so a transposed layout fails
    surface = loss_surface(x, y, phi0_grid, phi1_grid)
    assert surface.shape == (5, 7)
    for j in range(5):
        for i in range(7):
            phi = torch.stack([phi0_grid[i], phi1_grid[j]])
            assert float(surface[j, i]) == pytest.approx(float(least_squares_loss(phi, x, y)), rel=1e-10)


def test_loss_surface_minimum_at_closed_form():
    x, y, _ = _data(15, 30, None)
    phi_hat = fit_linear_regression(x, y)
    # grids with the optimum at a known index
    phi0_grid = phi_hat[0] + torch.linspace(-1, 1, 11, dtype=torch.float64)  # index 5 is phi_hat[0]
    phi1_grid = phi_hat[1] + torch.linspace(-1, 1, 9, dtype=torch.float64)  # index 4 is phi_hat[1]
    surface = loss_surface(x, y, phi0_grid, phi1_grid)
    j, i = divmod(int(surface.argmin()), surface.shape[1])
    assert (j, i) == (4, 5)
    assert float(surface[4, 5]) == pytest.approx(float(least_squares_loss(phi_hat, x, y)), rel=1e-9)


# ------------------------------------------------------------------------------------------------- errors


def test_shape_errors():
    x, y, _ = _data(16, 10, 2)  # x (10, 2): phi has 3 entries
    phi = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="phi"):
        least_squares_loss(torch.zeros(2, dtype=torch.float64), x, y)
    with pytest.raises(ValueError, match="phi"):
        least_squares_gradient(torch.zeros(4, dtype=torch.float64), x, y)
    with pytest.raises(ValueError, match="y must"):
        least_squares_loss(phi, x, y[:-1])
    with pytest.raises(ValueError, match="y must"):
        least_squares_gradient(phi, x, y.unsqueeze(1))
    with pytest.raises(ValueError, match="x must"):
        least_squares_loss(phi, x.reshape(10, 2, 1), y)
    with pytest.raises(ValueError, match="y must"):
        fit_linear_regression(x, y[:5])
    with pytest.raises(ValueError, match="x must"):
        fit_linear_regression(torch.zeros(2, 3, 4), y)
    with pytest.raises(ValueError, match="y must"):
        gradient_descent_linear_regression(x, y[:5], lr=0.1, steps=1)
    with pytest.raises(ValueError, match="phi_init"):
        gradient_descent_linear_regression(x, y, lr=0.1, steps=1, phi_init=torch.zeros(2))
    with pytest.raises(ValueError, match="steps"):
        gradient_descent_linear_regression(x, y, lr=0.1, steps=-1)


def test_loss_surface_shape_errors():
    x = torch.arange(5.0)
    grid = torch.linspace(-1, 1, 3)
    with pytest.raises(ValueError, match="x and y"):
        loss_surface(x.reshape(5, 1), x, grid, grid)
    with pytest.raises(ValueError, match="x and y"):
        loss_surface(x, x[:4], grid, grid)
    with pytest.raises(ValueError, match="grid"):
        loss_surface(x, x, grid.reshape(3, 1), grid)
    with pytest.raises(ValueError, match="grid"):
        loss_surface(x, x, grid, grid.reshape(1, 3))
