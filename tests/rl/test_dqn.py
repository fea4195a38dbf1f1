"""DQN's pieces against hand computations (float64) and the agent learning CartPole."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.rl import (
    DQNConfig,
    VectorCartPole,
    dqn,
    dqn_loss,
    episode_returns,
    epsilon_greedy_argmax,
    greedy_actor,
    linear_schedule,
    td_target,
)


def _linear(weight: list[list[float]]) -> nn.Linear:
    layer = nn.Linear(2, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float64))
    return layer


def test_td_targets_by_hand() -> None:
    target = _linear([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    online = _linear([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # always prefers action 2
    s2 = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]], dtype=torch.float64)
    r = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    term = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    # target values of s′: [2, 0, 1], [0, 3, 1.5], [1, 1, 1]; max: 2, 3, 1; at the online argmax (2): 1, 1.5, 1
    torch.testing.assert_close(
        td_target(r, s2, term, 0.9, target), torch.tensor([1 + 0.9 * 2, -1 + 0.9 * 3, 0.5]).double()
    )
    torch.testing.assert_close(
        td_target(r, s2, term, 0.9, target, online), torch.tensor([1 + 0.9 * 1, -1 + 0.9 * 1.5, 0.5]).double()
    )
    s = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    loss = dqn_loss(target, s, torch.tensor([1]), torch.tensor([5.0], dtype=torch.float64))
    torch.testing.assert_close(loss, torch.tensor(9.0, dtype=torch.float64))  # (5 − q[s, 1] = 2)²


def test_epsilon_greedy_and_schedule() -> None:
    q = torch.tensor([[0.0, 1.0, 0.0]]).repeat(20_000, 1)
    g = torch.Generator().manual_seed(0)
    assert (epsilon_greedy_argmax(q, 0.0, g) == 1).all()
    counts = torch.bincount(epsilon_greedy_argmax(q, 0.3, g), minlength=3) / 20_000
    torch.testing.assert_close(counts, torch.tensor([0.1, 0.8, 0.1]), atol=0.015, rtol=0)
    assert [linear_schedule(1.0, 0.05, 100, t) for t in (0, 50, 100, 200)] == pytest.approx(
        [1.0, 0.525, 0.05, 0.05]
    )


def test_dqn_learns_cartpole() -> None:
    cfg = DQNConfig(total_steps=20_000, learning_starts=2000)
    q, result = dqn(VectorCartPole(10), cfg, seed=0, log_every=200)
    returns = episode_returns(VectorCartPole(50), greedy_actor(q), seed=1)
    assert returns.mean() > 44  # twice what a uniformly random policy averages (about 22)
    assert result.steps == 2000 and "td_loss" in result.final


@pytest.mark.parametrize("change", [{"replay": False}, {"target_network": False}, {"double": True}])
def test_variants_run(change: dict) -> None:
    cfg = DQNConfig(total_steps=600, learning_starts=100, **change)
    q, result = dqn(VectorCartPole(2), cfg, seed=0, log_every=100)
    assert len(result.history) == 3 and all(torch.isfinite(p).all() for p in q.parameters())


@pytest.mark.parametrize(
    ("field", "value"), [("total_steps", 0), ("gamma", 1.5), ("tau", 0.0), ("end_e", 1.5), ("hidden", ())]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        DQNConfig(**{field: value})
