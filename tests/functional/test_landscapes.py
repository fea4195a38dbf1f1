"""The Gabor model and the saddle of UDL chapter 6 against their closed forms (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from udl.functional import gabor_model, saddle_loss


def test_gabor_model_values_and_broadcasting() -> None:
    phi = torch.tensor([0.3, 10.0], dtype=torch.float64)
    x = torch.tensor([[-2.0], [0.0], [5.0]], dtype=torch.float64)
    z = 0.3 + 0.06 * 10.0 * x
    torch.testing.assert_close(gabor_model(x, phi), torch.sin(z) * torch.exp(-(z**2) / 32))
    grid = torch.tensor([[0.0, 1.0], [1.0, 2.0]], dtype=torch.float64)  # (G, 2) against (1, N)
    out = gabor_model(x.T, grid)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out[1], gabor_model(x, grid[1]).squeeze(1))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        gabor_model(x, torch.zeros(3))


def test_saddle_stationary_points_and_gradient() -> None:
    assert float(saddle_loss(torch.zeros(2, dtype=torch.float64))) == 0.0
    for minimum in (1.0, -1.0):
        assert float(saddle_loss(torch.tensor([0.0, minimum]))) == -0.5
    phi = torch.tensor([0.4, 0.3], dtype=torch.float64, requires_grad=True)
    saddle_loss(phi, 0.2).backward()
    assert phi.grad is not None
    expected = [2 * 0.4, -2 * 0.3 + 2 * 0.3**3 + 0.2]  # ∂L/∂φ = (2φ0, −2φ1 + 2φ1³ + c)
    torch.testing.assert_close(phi.grad, torch.tensor(expected, dtype=torch.float64))
    hessian = torch.autograd.functional.hessian(saddle_loss, torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(
        hessian, torch.diag(torch.tensor([2.0, -2.0], dtype=torch.float64))
    )  # a saddle
    grid = torch.zeros(2, 4, 5, dtype=torch.float64)
    assert saddle_loss(grid).shape == (4, 5)
    with pytest.raises(ValueError, match=r"\(2, \.\.\.\)"):
        saddle_loss(torch.zeros(3))
    assert math.isclose(float(saddle_loss(torch.tensor([1.0, 0.0]), 5.0)), 1.0)


def test_wrap_angle() -> None:
    from udl.functional import wrap_angle

    angles = torch.tensor([0.0, math.pi, -math.pi, 3 * math.pi / 2, -7.0, 10.0], dtype=torch.float64)
    wrapped = wrap_angle(angles)
    assert bool((wrapped >= -math.pi).all() and (wrapped < math.pi).all())
    torch.testing.assert_close(torch.cos(wrapped), torch.cos(angles))  # same point on the circle
    torch.testing.assert_close(torch.sin(wrapped), torch.sin(angles))
    assert float(wrap_angle(torch.tensor(math.pi))) == pytest.approx(-math.pi)
