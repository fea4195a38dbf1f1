"""Offline RL: the logged data set, the CQL penalty against brute force, and the three learners' behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from udl.rl import VectorCartPole, episode_returns, greedy_actor
from udl.rl.offline import (
    OfflineConfig,
    behaviour_cloning,
    cql_penalty,
    log_dataset,
    noisy_policy,
    offline_q_learning,
)


def test_log_dataset_records_consistent_transitions() -> None:
    g = torch.Generator().manual_seed(0)
    behaviour = noisy_policy(lambda o: (o[:, 2] > 0).long(), 0.5, 2, g)
    data = log_dataset(VectorCartPole(4), behaviour, 1000, seed=0)
    assert len(data) == 1000 and data.terminated.sum() > 10
    # s′ of a transition that did not end its episode is the next transition's s in the same environment
    obs, nxt, term = data.obs.view(250, 4, 4), data.next_obs.view(250, 4, 4), data.terminated.view(250, 4)
    breaks = (obs[1:] - nxt[:-1]).abs().amax(-1) > 0  # (249, 4): s′ is not the next s: a new episode began
    assert torch.equal(
        breaks, term[:-1] > 0
    )  # exactly at the terminations (no episode reaches 500 steps here)


def test_cql_penalty_by_brute_force() -> None:
    q = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.5, 0.5]], dtype=torch.float64)
    a = torch.tensor([1, 0])
    expected = (math.log(math.e + math.e**2 + 1) - 2 + math.log(3 * math.exp(0.5)) - 0.5) / 2
    torch.testing.assert_close(cql_penalty(q, a), torch.tensor(expected, dtype=torch.float64))
    assert cql_penalty(torch.tensor([[0.0, -50.0]]), torch.tensor([0])) < 1e-20  # the logged action dominates


def test_bc_imitates_and_cql_stays_conservative() -> None:
    g = torch.Generator().manual_seed(0)
    heuristic = lambda o: (o[:, 2] > 0).long()  # noqa: E731
    data = log_dataset(VectorCartPole(8), noisy_policy(heuristic, 0.3, 2, g), 8000, seed=0)
    cfg = OfflineConfig(steps=600)
    bc, _ = behaviour_cloning(data, cfg, num_actions=2, seed=0)
    with torch.no_grad():
        agree = (greedy_actor(bc)(data.obs) == heuristic(data.obs)).float().mean()
    assert agree > 0.9  # the behaviour's majority action, not its noise
    naive, _ = offline_q_learning(data, cfg, num_actions=2, seed=0)
    cql, result = offline_q_learning(data, cfg, num_actions=2, seed=0, cql_alpha=1.0)

    def gap(q: torch.nn.Module) -> torch.Tensor:  # mean of max_a q[s, a] − q[s, a_data] over the data
        with torch.no_grad():
            values = q(data.obs)
            return (values.max(1).values - values.gather(1, data.action.unsqueeze(1)).squeeze(1)).mean()

    assert gap(cql) < gap(naive)  # CQL values unlogged actions less, relative to the logged ones
    assert result.steps == 600
    returns = episode_returns(VectorCartPole(8), greedy_actor(cql), seed=3)
    assert torch.isfinite(returns).all()


def test_bad_input() -> None:
    data = log_dataset(VectorCartPole(2), lambda o: torch.zeros(2, dtype=torch.long), 10, seed=0)
    with pytest.raises(ValueError, match="cql_alpha"):
        offline_q_learning(data, OfflineConfig(steps=1), num_actions=2, cql_alpha=-1.0)
    with pytest.raises(ValueError, match="steps"):
        OfflineConfig(steps=0)
