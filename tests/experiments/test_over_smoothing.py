"""over-smoothing's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch13.over_smoothing import (
    Config,
    accuracy_falls,
    collapse_verdict,
    mitigation,
    suspended_verdict,
)
from udl.stats import Verdict

DEPTHS = [2, 4, 8, 16]


def test_collapse_verdict() -> None:
    falling = [[0.4, 0.41, 0.39], [0.1, 0.11, 0.09], [0.01, 0.02, 0.01], [0.001, 0.002, 0.003]]
    assert collapse_verdict(DEPTHS, falling) is Verdict.HOLDS
    assert collapse_verdict(DEPTHS, falling[::-1]) is Verdict.FAILS
    one_seed_stays = [[0.4, 0.41, 0.39], [0.1, 0.11, 0.09], [0.01, 0.02, 0.01], [0.001, 0.002, 0.1]]
    assert collapse_verdict(DEPTHS, one_seed_stays) is Verdict.FAILS  # a seed above 1% of the shallowest


def test_paired_accuracy_comparisons() -> None:
    high, low = [0.96, 0.95, 0.97], [0.34, 0.33, 0.35]
    for compare in (accuracy_falls, mitigation):
        assert compare(high, low).verdict is Verdict.HOLDS
        assert compare(low, high).verdict is Verdict.FAILS
        assert compare([0.9, 0.5, 0.9], [0.6, 0.6, 0.6]).verdict is Verdict.NOT_ESTABLISHED


def test_suspended_verdict() -> None:
    assert suspended_verdict([0.2, 0.21, 0.19], [1e-6, 2e-6, 1e-7]) is Verdict.HOLDS
    assert suspended_verdict([0.2, 0.21, 0.19], [0.05, 0.04, 0.06]) is Verdict.FAILS  # only ~4x smaller
    assert suspended_verdict([0.2, 0.21, 0.19], [0.3, 0.4, 0.5]) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"), [("depths", (1, 2)), ("depths", (4, 2)), ("depths", ()), ("seeds", 0), ("lr", 0.0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
