"""The mdp-basics experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch19.mdp_basics import Config, credit_verdict
from udl.stats import Verdict


def test_credit_verdict():
    delays = [1, 2, 4, 8, 16]
    assert credit_verdict(delays, [30.0, 17.0, 14.0, 6.0, 2.5]) is Verdict.HOLDS
    assert credit_verdict(delays, [1.5, 1.2, 1.0, 0.5, 0.1]) is Verdict.FAILS  # never identified
    assert credit_verdict(delays, [30.0, 31.0, 29.0, 30.5, 30.2]) is Verdict.FAILS  # no fall with delay
    assert credit_verdict([1, 2], [30.0, 17.0]) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slip", 1.5),
        ("gamma", 1.0),
        ("mc_episodes", 1),
        ("episode_steps", 0),
        ("delays", (4, 2)),
        ("delays", ()),
    ],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
