"""Gradient descent (UDL eq. 6.3) and the bracketing line search (UDL fig. 6.10, notebook 6.1)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from reference import F64, gen
from udl.functional import gradient_descent_linear_regression, least_squares_loss
from udl.optim import gd_with_line_search, gradient_descent, line_search

_g = gen(11)
_M = torch.randn(4, 4, generator=_g, dtype=F64)
A = _M @ _M.T + 0.5 * torch.eye(4, dtype=F64)  # symmetric positive definite
B = torch.randn(4, generator=_g, dtype=F64)
PHI_STAR = torch.linalg.solve(A, B)
PHI0 = torch.randn(4, generator=_g, dtype=F64)
EIG = torch.linalg.eigvalsh(A)


def quadratic(phi: Tensor) -> Tensor:
    return 0.5 * phi @ A @ phi - B @ phi


def test_gradient_descent_on_a_quadratic_follows_the_closed_form_and_converges() -> None:
    lr = 1.0 / float(EIG[-1])
    steps = 2000
    traj = gradient_descent(quadratic, PHI0, lr=lr, steps=steps)
    assert traj.path.shape == (steps + 1, 4) and traj.losses.shape == (steps + 1,)
    assert traj.step_sizes.shape == (steps,) and torch.all(traj.step_sizes == lr)
    # φ_t - φ* = (I - αA)^t (φ_0 - φ*) for every t
    contraction = torch.eye(4, dtype=F64) - lr * A
    error = PHI0 - PHI_STAR
    for t in range(0, 200):
        torch.testing.assert_close(traj.path[t] - PHI_STAR, error, rtol=1e-9, atol=1e-12)
        error = contraction @ error
    torch.testing.assert_close(traj.path[-1], PHI_STAR, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(traj.losses[-1], quadratic(PHI_STAR), rtol=1e-12, atol=1e-12)
    assert torch.all(traj.losses.diff() <= 1e-12)  # α < 2/λ_max: the loss never increases
    assert torch.equal(PHI0, traj.path[0])  # the start is not modified


def test_gradient_descent_diverges_beyond_two_over_lambda_max() -> None:
    traj = gradient_descent(quadratic, PHI0, lr=2.2 / float(EIG[-1]), steps=100)
    assert float((traj.path[-1] - PHI_STAR).norm()) > 1e3 * float((PHI0 - PHI_STAR).norm())


def test_gradient_descent_matches_the_linear_regression_implementation() -> None:
    g = gen(5)
    x = torch.rand(20, generator=g, dtype=F64)
    y = 0.3 + 1.7 * x + 0.1 * torch.randn(20, generator=g, dtype=F64)
    _, expected = gradient_descent_linear_regression(x, y, lr=0.01, steps=300)
    traj = gradient_descent(lambda phi: least_squares_loss(phi, x, y), torch.zeros(2, dtype=F64), 0.01, 300)
    torch.testing.assert_close(traj.path, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("f", "a", "d", "minimizer"),
    [
        (lambda s: (s - 0.3) ** 2, 0.0, 1.0, 0.3),
        (lambda s: abs(s - 0.71), 0.0, 1.0, 0.71),  # not differentiable at the minimum
        (lambda s: math.exp(s) - 2.0 * s, -1.0, 3.0, math.log(2.0)),
        (lambda s: math.cosh(4.0 * (s - 2.5)), -10.0, 10.0, 2.5),
        (lambda s: s * s + s, 0.0, 1.0, 0.0),  # increasing: the minimum is the left end
        (lambda s: -s, 0.0, 2.0, 2.0),  # decreasing: the right end
        (lambda s: torch.tensor(s - 0.05) ** 2, 0.0, 1.0, 0.05),  # near a: rule 1 (halving) is needed
    ],
)
@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_line_search_finds_the_minimum_of_unimodal_functions(
    f, a: float, d: float, minimizer: float, tol: float
):
    found = line_search(f, a, d, tol=tol)
    assert abs(found - minimizer) <= tol
    assert a <= found <= d


def test_line_search_uses_few_evaluations() -> None:
    calls = []

    def f(s: float) -> float:
        calls.append(s)
        return (s - 0.3) ** 2

    line_search(f, 0.0, 1.0, tol=1e-6)
    # the bracket shrinks by 2/3 per round at two evaluations: log(1e6)/log(1.5) ≈ 34 rounds
    assert len(calls) <= 2 + 2 * 36
    assert all(0.0 <= s <= 1.0 for s in calls)


def test_line_search_stops_after_max_iter() -> None:
    found = line_search(lambda s: (s - 0.9) ** 2, 0.0, 1.0, tol=1e-12, max_iter=0)
    assert found == 0.5  # no rounds: the midpoint of [a, d]


def test_gd_with_line_search_takes_exact_steepest_descent_steps() -> None:
    traj = gd_with_line_search(quadratic, PHI0, steps=120, max_step=2.0, tol=1e-9)
    phi = traj.path
    for t in range(10):
        g = A @ phi[t] - B
        exact = float(g @ g / (g @ A @ g))  # the minimizer of L along -g on a quadratic
        # comparing loss values resolves the minimizer to about sqrt(machine epsilon), not to tol
        assert abs(float(traj.step_sizes[t]) - exact) < 1e-7
    assert torch.all(traj.losses.diff() <= 1e-12)
    torch.testing.assert_close(phi[-1], PHI_STAR, rtol=0, atol=1e-6)
    # Kantorovich: exact line search shrinks the gap L - L* by at least ((κ-1)/(κ+1))² per step
    kappa = float(EIG[-1] / EIG[0])
    gap = traj.losses[:40] - quadratic(PHI_STAR)
    assert torch.all(gap[1:] <= ((kappa - 1) / (kappa + 1)) ** 2 * gap[:-1] + 1e-12)


def test_gd_with_line_search_on_a_non_convex_loss_never_increases_it() -> None:
    def loss(phi: Tensor) -> Tensor:  # a Gabor-like 2-parameter model fit, as in UDL fig. 6.4
        x = torch.linspace(-5, 5, 40, dtype=F64)
        y = torch.sin(2.0 * x + 0.5) * torch.exp(-(x**2) / 8)
        pred = torch.sin(phi[1] * x + phi[0]) * torch.exp(-(x**2) / 8)
        return ((pred - y) ** 2).sum()

    traj = gd_with_line_search(loss, torch.tensor([0.0, 1.9], dtype=F64), steps=30, max_step=0.5)
    assert torch.all(traj.losses.diff() <= 1e-12)  # α = 0 is always in the bracket
    assert float(traj.losses[-1]) < 1e-3 * float(traj.losses[0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradient_descent(quadratic, PHI0, lr=-0.1, steps=5), "lr"),
        (lambda: gradient_descent(quadratic, PHI0, lr=0.1, steps=-1), "steps"),
        (lambda: gradient_descent(quadratic, torch.zeros(4, dtype=torch.int64), lr=0.1, steps=1), "floating"),
        (lambda: gradient_descent(lambda p: p * 2, PHI0, lr=0.1, steps=1), "scalar"),
        (lambda: line_search(lambda s: s * s, 1.0, 1.0), "a < d"),
        (lambda: line_search(lambda s: s * s, 0.0, 1.0, tol=0.0), "tol"),
        (lambda: line_search(lambda s: s * s, 0.0, 1.0, max_iter=-1), "max_iter"),
        (lambda: gd_with_line_search(quadratic, PHI0, steps=3, max_step=0.0), "max_step"),
    ],
)
def test_invalid_arguments_raise(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
