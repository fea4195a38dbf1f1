"""The importance-sampling experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch17.importance_sampling import Config, approaches_verdict, rises_verdict
from udl.stats import Verdict


def test_rises_verdict() -> None:
    rising = [[-10.0 + i + 0.1 * n for n in range(5)] for i in range(4)]
    assert rises_verdict(rising) is Verdict.HOLDS
    stalls = [*rising, rising[-1]]  # the last step does not rise
    assert rises_verdict(stalls) is Verdict.FAILS
    falling = list(reversed(rising))
    assert rises_verdict(falling) is Verdict.FAILS
    noisy = [[0.0, 1.0, -1.0, 0.5], [0.1, 0.5, -0.6, 0.6]]  # up on average, within 2 SE
    assert rises_verdict(noisy) is Verdict.NOT_ESTABLISHED


def test_approaches_verdict() -> None:
    first = [10.0, 12.0, 9.0, 11.0]
    assert approaches_verdict(first, [0.1, 0.2, 0.15, 0.1], 0.1) is Verdict.HOLDS
    assert approaches_verdict(first, [2.0, 2.5, 1.9, 2.1], 0.1) is Verdict.FAILS  # only 5x closer


@pytest.mark.parametrize(
    ("field", "value"), [("ks", (2, 4)), ("ks", (1,)), ("ks", (1, 4, 2)), ("points", 1), ("ring_std", 0.0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
