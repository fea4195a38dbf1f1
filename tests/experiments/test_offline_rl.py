"""The offline-rl experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch19.offline_rl import Config, offline_verdict
from udl.stats import Verdict


def test_offline_verdict() -> None:
    cql, bc, naive = [117.0, 153.0, 98.0], [38.0, 56.0, 40.0], [46.0, 25.0, 44.0]
    assert offline_verdict(cql, bc, naive) is Verdict.HOLDS
    assert offline_verdict(bc, cql, naive) is Verdict.FAILS  # behaviour cloning beats the offline method
    assert (
        offline_verdict(cql, bc, [100.0, 160.0, 60.0]) is Verdict.NOT_ESTABLISHED
    )  # no clear gain over naive
    assert offline_verdict(cql, bc, [120.0, 160.0, 100.0]) is Verdict.FAILS  # naive Q-learning is better


@pytest.mark.parametrize(
    ("field", "value"), [("seeds", 0), ("dataset_size", 0), ("behaviour_epsilon", 1.5), ("cql_alpha", -1.0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
