"""The dqn-cartpole experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch19.dqn_cartpole import Config, ablation, solved_verdict
from udl.stats import Verdict


def test_solved_verdict() -> None:
    assert solved_verdict([500.0, 488.0, 475.0]) is Verdict.HOLDS
    assert solved_verdict([500.0, 500.0, 474.9]) is Verdict.FAILS  # one seed short of the threshold


def test_ablation() -> None:
    assert ablation([480.0, 490.0, 470.0], [200.0, 250.0, 180.0]).verdict is Verdict.HOLDS
    assert (
        ablation([400.0, 450.0, 280.0], [500.0, 470.0, 380.0]).verdict is Verdict.FAILS
    )  # ablated is better
    assert ablation([500.0, 405.0, 480.0], [480.0, 400.0, 420.0]).verdict is Verdict.NOT_ESTABLISHED
    assert ablation([480.0], [200.0]).verdict is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    ("field", "value"),
    [("seeds", 0), ("total_steps", 0), ("num_envs", 0), ("test_episodes", 0), ("no_replay_envs", 0)],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def test_config_rejects_a_budget_below_one_vector_step() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        Config(total_steps=5, num_envs=10)
