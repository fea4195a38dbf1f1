"""The shallow-networks experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch03.shallow_networks import (
    Config,
    construction_verdict,
    largest_rise,
    trained_verdict,
)
from udl.stats import Verdict

WIDTHS = [1, 2, 4, 8, 16, 32, 64]


def test_largest_rise() -> None:
    assert largest_rise([1.0, 0.5, 0.5, 0.1]) == 0.0
    assert largest_rise([1.0, 0.5, 0.6, 0.1]) == pytest.approx(0.2)
    assert largest_rise([1.0]) == 0.0


def test_construction_verdict() -> None:
    falling = [0.5 / 4**i for i in range(len(WIDTHS))]
    assert construction_verdict(WIDTHS, falling) is Verdict.HOLDS
    assert construction_verdict(WIDTHS, [0.5] * len(WIDTHS)) is Verdict.FAILS  # no improvement
    assert construction_verdict([1, 4, 16], falling[:3]) is Verdict.NOT_ESTABLISHED  # sweep too narrow


def test_trained_verdict() -> None:
    falling = [[0.8 / 2**i + 0.001 * r for r in range(4)] for i in range(len(WIDTHS))]
    assert trained_verdict(WIDTHS, falling) is Verdict.HOLDS
    flat = [[0.8 + 0.001 * r for r in range(4)] for _ in WIDTHS]
    assert trained_verdict(WIDTHS, flat) is Verdict.FAILS
    rising = list(reversed(falling))
    assert trained_verdict(WIDTHS, rising) is Verdict.FAILS
    # the widest nets at 10% (not below 5%) of the 1-unit error: fails the bar
    tenth = [[0.8, 0.81, 0.79, 0.8]] + [[0.8 / (i + 1) + 0.001 * r for r in range(4)] for i in range(1, 6)]
    tenth.append([0.08, 0.081, 0.079, 0.08])
    assert trained_verdict(WIDTHS, tenth) is Verdict.FAILS
    assert trained_verdict([1, 4, 16], falling[:3]) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("widths", (1, 3, 4)),
        ("widths", (4, 2)),
        ("widths", ()),
        ("replicas", 0),
        ("num_train", 1),
        ("lr", 0.0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
