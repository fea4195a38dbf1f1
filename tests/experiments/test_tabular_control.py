"""The tabular-control experiment's verdicts, cliff geometry and Config."""

from __future__ import annotations

import gymnasium
import pytest

from udl.experiments.ch19.tabular_control import Config, cliff_distance, safer_verdict
from udl.rl import modal_path, tabular_mdp, value_iteration
from udl.stats import Verdict


def test_safer_verdict():
    assert safer_verdict([2.6, 2.7, 2.5, 2.65], [1.14, 1.14, 1.2, 1.14]) is Verdict.HOLDS
    assert safer_verdict([1.14, 1.14, 1.2, 1.14], [2.6, 2.7, 2.5, 2.65]) is Verdict.FAILS
    assert safer_verdict([1.2, 1.14, 1.3, 1.14], [1.14, 1.2, 1.14, 1.3]) is Verdict.FAILS  # no difference
    assert safer_verdict([2.0, 1.0, 3.0, 1.1], [1.14, 1.2, 1.14, 1.3]) is Verdict.NOT_ESTABLISHED


def test_cliff_distance_of_the_optimal_and_the_safe_path():
    cliff = tabular_mdp(gymnasium.make("CliffWalking-v1"), gamma=1.0)
    optimal = modal_path(cliff, value_iteration(cliff).policy, 36)
    assert optimal == [36, *range(24, 36), 47]  # up, 11 steps right along the edge, down: 13 moves
    assert cliff_distance(optimal) == pytest.approx((1 + 2 + 10 * 1 + 2 + 1) / 14)
    top = [36, 24, 12, 0, *range(1, 12), 23, 35, 47]  # the safest path, along the top row
    assert cliff_distance(top) > 2.5


@pytest.mark.parametrize(
    ("field", "value"),
    [("agents", 0), ("epsilon", 1.5), ("lr", 0.0), ("lr_power", 2.0), ("cliff_lr", 1.5), ("mc_updates", 0)],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
