"""The dynamic-programming experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments._tabular_rl import near_optimal_verdict
from udl.experiments.ch19.dynamic_programming import Config, horizon_verdict
from udl.stats import Verdict


def test_horizon_verdict():
    assert horizon_verdict([1, 3, 50], [9, 2, 0]) is Verdict.HOLDS
    assert horizon_verdict([1, 3, 50], [0, 0, 0]) is Verdict.FAILS  # stationary from the start
    assert horizon_verdict([1, 3, 50], [9, 2, 1]) is Verdict.FAILS  # never reaches the stationary optimum
    assert horizon_verdict([1], [9]) is Verdict.NOT_ESTABLISHED


def test_near_optimal_verdict():
    assert near_optimal_verdict([0.0, 0.01, 0.02, 0.0], 0.08) is Verdict.HOLDS
    assert near_optimal_verdict([0.3, 0.4, 0.35, 0.32], 0.08) is Verdict.FAILS
    assert near_optimal_verdict([0.0, 0.2, 0.0, 0.1], 0.08) is Verdict.NOT_ESTABLISHED  # the spread straddles
    assert near_optimal_verdict([0.0], 0.08) is Verdict.NOT_ESTABLISHED  # one seed
    assert near_optimal_verdict([0.0, 0.0, 0.0], 0.0) is Verdict.HOLDS  # exactly optimal everywhere


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slip", -0.1),
        ("horizons", (3, 1)),
        ("model_episodes", (0, 10)),
        ("model_seeds", 0),
        ("start_policies", 0),
    ],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
