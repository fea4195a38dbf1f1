"""The notebook 9.2 valley loss and the log-log slope, against closed forms (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from udl.functional import loglog_slope, valley_curvature, valley_loss


def test_valley_loss_matches_the_formula_elementwise() -> None:
    phi = torch.tensor([[-0.7, 0.0, 0.3], [-0.75, 0.2, 0.0]], dtype=torch.float64)
    expected = [1 - math.exp(-(p1**2) / (2 * math.exp(-2 * p0**2) ** 2)) for p0, p1 in phi.T.tolist()]
    torch.testing.assert_close(valley_loss(phi), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("phi0", [-0.7, 0.0, 0.4])
def test_curvature_on_the_floor_is_exp_4_phi0_squared(phi0: float) -> None:
    curvature = valley_curvature(torch.tensor([phi0, 0.0], dtype=torch.float64))
    assert curvature == pytest.approx(math.exp(4 * phi0**2), rel=1e-12)


def test_curvature_equals_a_finite_difference_off_the_floor() -> None:
    phi, h = torch.tensor([-0.3, 0.1], dtype=torch.float64), 1e-4
    e = torch.tensor([0.0, h], dtype=torch.float64)
    fd = float((valley_loss(phi + e) - 2 * valley_loss(phi) + valley_loss(phi - e)) / h**2)
    assert valley_curvature(phi) == pytest.approx(fd, rel=1e-6)


def test_valley_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        valley_loss(torch.zeros(3))
    with pytest.raises(ValueError, match="one point"):
        valley_curvature(torch.zeros(2, 2))


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0])
def test_loglog_slope_recovers_a_power_law(p: float) -> None:
    x = [0.0125, 0.025, 0.05, 0.1]
    assert loglog_slope(x, [7.0 * v**p for v in x]) == pytest.approx(p, abs=1e-12)


def test_loglog_slope_is_the_least_squares_fit() -> None:
    x, y = [1.0, 2.0, 4.0], [1.0, 3.0, 5.0]
    lx, ly = torch.tensor(x).double().log(), torch.tensor(y).double().log()
    design = torch.stack([torch.ones(3, dtype=torch.float64), lx], dim=1)
    expected = float(torch.linalg.lstsq(design, ly.unsqueeze(1)).solution[1, 0])
    assert loglog_slope(x, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("x", "y"), [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([1.0, -2.0], [1.0, 1.0]), ([2.0, 2.0], [1.0, 3.0])]
)
def test_loglog_slope_rejects_bad_input(x: list[float], y: list[float]) -> None:
    with pytest.raises(ValueError):
        loglog_slope(x, y)
