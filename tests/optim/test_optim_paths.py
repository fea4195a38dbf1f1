"""optimizer_path, first_step_below and steps_to_tolerance against hand-computed iterates (float64)."""

from __future__ import annotations

import pytest
import torch

from udl.optim import (
    SGD,
    Adam,
    first_step_below,
    minimize_adam,
    minimize_lbfgs,
    optimizer_path,
    steps_to_tolerance,
)


def test_optimizer_path_is_the_gd_recursion() -> None:
    start = torch.tensor([1.0, -2.0], dtype=torch.float64)
    path = optimizer_path(SGD, start, lambda p, t: (p**2).sum(), 3, lr=0.1)
    expected = torch.stack([start * 0.8**t for t in range(4)])  # φ ← φ − 0.1 · 2φ
    torch.testing.assert_close(path, expected)
    assert start.tolist() == [1.0, -2.0] and not start.requires_grad  # the start is not modified


def test_optimizer_path_passes_the_step_to_the_loss() -> None:
    seen: list[int] = []

    def loss(p: torch.Tensor, t: int) -> torch.Tensor:
        seen.append(t)
        return (p * (t + 1)).sum()  # gradient t + 1 at step t

    path = optimizer_path(SGD, torch.zeros(1, dtype=torch.float64), loss, 3, lr=1.0)
    assert seen == [0, 1, 2]
    assert path.squeeze(1).tolist() == [0.0, -1.0, -3.0, -6.0]


def test_optimizer_path_matches_a_hand_loop_for_adam() -> None:
    start = torch.tensor([0.5, 1.5], dtype=torch.float64)
    phi = start.clone().requires_grad_()
    opt = Adam([phi], lr=0.1)
    expected = [phi.detach().clone()]
    for _ in range(5):
        opt.zero_grad()
        (phi**4).sum().backward()
        opt.step()
        expected.append(phi.detach().clone())
    path = optimizer_path(Adam, start, lambda p, t: (p**4).sum(), 5, lr=0.1)
    assert torch.equal(path, torch.stack(expected))


def test_optimizer_path_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="steps"):
        optimizer_path(SGD, torch.zeros(1), lambda p, t: p.sum(), -1, lr=0.1)
    with pytest.raises(ValueError, match="floating-point"):
        optimizer_path(SGD, torch.zeros(1, dtype=torch.long), lambda p, t: p.sum(), 1, lr=0.1)


def test_first_step_below() -> None:
    values = torch.tensor([0.0, float("nan"), -0.2, -0.3, -0.1])
    assert first_step_below(values, -0.25) == 3
    assert first_step_below(values, -1.0) is None
    with pytest.raises(ValueError, match="1-D"):
        first_step_below(values.reshape(1, 5), 0.0)


def test_steps_to_tolerance_matches_the_contraction_rate() -> None:
    # GD on ½κφ² with lr α: the loss shrinks by (1 − ακ)² per step, so it needs ⌈log(tol) / (2 log(1 − ακ))⌉
    start = torch.ones(1, dtype=torch.float64)
    steps = steps_to_tolerance(SGD, start, lambda p: 0.5 * 4.0 * (p**2).sum(), 1e-6, 1000, lr=0.1)
    assert steps == 14  # 0.6^(2t) <= 1e-6  <=>  t >= log(1e-6) / (2 log 0.6) = 13.52


def test_steps_to_tolerance_gives_none_on_divergence_and_on_running_out() -> None:
    start = torch.ones(1, dtype=torch.float64)
    quadratic = lambda p: (p**2).sum()  # noqa: E731
    assert steps_to_tolerance(SGD, start, quadratic, 1e-6, 10_000, lr=1.5) is None  # |1 − 3| > 1: diverges
    assert steps_to_tolerance(SGD, start, quadratic, 1e-6, 5, lr=0.01) is None  # too few steps
    assert steps_to_tolerance(SGD, start, quadratic, 0.5, 0, lr=0.01) is None
    with pytest.raises(ValueError, match="tolerance"):
        steps_to_tolerance(SGD, start, quadratic, 1.0, 5, lr=0.01)


def test_minimizers_reach_a_quadratic_minimum() -> None:
    target = torch.tensor([3.0, -1.0], dtype=torch.float64)
    for minimize in (minimize_lbfgs, lambda loss, params: minimize_adam(loss, params, 2000, lr=0.1)):
        phi = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        final = minimize(lambda phi=phi: ((phi - target) ** 2).sum(), [phi])
        torch.testing.assert_close(phi.detach(), target, atol=1e-6, rtol=0)
        assert final < 1e-10
    with pytest.raises(ValueError, match="steps"):
        minimize_adam(lambda: phi.sum(), [phi], 0)
