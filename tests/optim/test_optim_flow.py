"""gradient_flow (RK4) against the exact flow exp(−At)φ₀ of a quadratic, and its fourth order; and the
backward-error statement of UDL section 9.2.1: gradient descent on a quadratic stays O(α²) from the flow of the
modified loss but O(α) from the plain one."""

from __future__ import annotations

import math

import pytest
import torch
from tests.reference import F64, gen

from udl.losses import modified_loss_gradient
from udl.optim import gradient_flow


def _spd(n: int, seed: int) -> torch.Tensor:
    m = torch.randn(n, n, generator=gen(seed), dtype=F64)
    return m @ m.T / n + 0.5 * torch.eye(n, dtype=F64)


# -- gradient flow ---------------------------------------------------------------------------------------------------
def test_gradient_flow_matches_the_exact_flow_of_a_quadratic() -> None:
    a = _spd(4, 7)
    phi0 = torch.randn(4, generator=gen(8), dtype=F64)
    times = [0.0, 0.13, 0.5, 0.5, 1.7, 3.0]
    exact = torch.stack([torch.linalg.matrix_exp(-a * t) @ phi0 for t in times])
    errors = []
    for max_dt in (0.02, 0.01):
        path = gradient_flow(lambda p: a @ p, phi0, times, max_dt=max_dt)
        assert path.shape == (len(times), 4)
        assert torch.equal(path[0], phi0)
        errors.append(float((path - exact).abs().max()))
    assert errors[1] < 1e-8
    assert 12 < errors[0] / errors[1] < 20  # fourth order: halving the step divides the error by 2⁴


@pytest.mark.parametrize("alpha", [0.02, 0.05, 0.1])
def test_gradient_descent_tracks_the_modified_flow_on_a_quadratic(alpha: float) -> None:
    """Backward error analysis (section 9.2.1): GD φ_k = (I − αA)^k φ₀ is O(α²) from the flow of L̃, O(α) from L's."""
    a = _spd(3, 9)
    phi0 = torch.randn(3, generator=gen(11), dtype=F64)
    steps = round(1.0 / alpha)
    times = [k * alpha for k in range(steps + 1)]
    gd = torch.stack(
        [torch.linalg.matrix_power(torch.eye(3, dtype=F64) - alpha * a, k) @ phi0 for k in range(steps + 1)]
    )
    plain = torch.stack([torch.linalg.matrix_exp(-a * t) @ phi0 for t in times])
    modified_exact = torch.stack(
        [torch.linalg.matrix_exp(-(a + alpha / 2 * a @ a) * t) @ phi0 for t in times]
    )
    modified = gradient_flow(
        lambda p: modified_loss_gradient(lambda q: 0.5 * q @ a @ q, p, alpha), phi0, times, max_dt=alpha / 10
    )
    torch.testing.assert_close(modified, modified_exact, rtol=0, atol=1e-8)
    d_plain = float((gd - plain).norm(dim=1).max())
    d_modified = float((gd - modified).norm(dim=1).max())
    assert d_modified < 0.25 * d_plain
    lam_max = float(torch.linalg.eigvalsh(a).max())
    assert d_modified < 2 * (alpha * lam_max) ** 2 * float(phi0.norm())  # second order in α
    assert not math.isnan(d_plain)


def test_gradient_flow_bad_arguments() -> None:
    phi = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="max_dt"):
        gradient_flow(lambda p: p, phi, [1.0], max_dt=0.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        gradient_flow(lambda p: p, phi, [1.0, 0.5], max_dt=0.1)
