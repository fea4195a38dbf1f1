"""The policy-gradient experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch19.policy_gradient import Config, a2c_verdict, faster, variance_verdict
from udl.stats import Verdict


def test_variance_verdict() -> None:
    assert variance_verdict([6400.0, 3900.0, 3600.0], [3100.0, 2000.0, 1800.0]) is Verdict.HOLDS
    assert variance_verdict([3100.0, 2000.0, 1800.0], [6400.0, 3900.0, 3600.0]) is Verdict.FAILS
    assert variance_verdict([100.0, 50.0, 80.0], [90.0, 70.0, 60.0]) is Verdict.NOT_ESTABLISHED


def test_faster_and_a2c_verdicts() -> None:
    assert faster([300.0, 310.0, 295.0], [280.0, 290.0, 285.0]).verdict is Verdict.HOLDS
    assert faster([280.0, 290.0, 285.0], [300.0, 310.0, 295.0]).verdict is Verdict.FAILS
    assert a2c_verdict([146.0, 415.0, 288.0], [21.0, 23.0, 22.5]) is Verdict.HOLDS
    assert a2c_verdict([20.0, 22.0, 21.0], [21.0, 23.0, 22.5]) is Verdict.FAILS
    assert a2c_verdict([300.0], [22.0]) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"), [("seeds", 0), ("measure_episodes", 1), ("learning_rate", 0.0), ("a2c_steps", 0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
