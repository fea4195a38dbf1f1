"""The loss-interpolation experiment's measures, verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch20.loss_interpolation import Config, barrier_height, barrier_verdict, monotone_verdict
from udl.stats import Verdict


def test_barrier_height_is_the_height_above_the_chord() -> None:
    assert barrier_height([1.0, 0.75, 0.5]) == pytest.approx(0.0)  # on the chord
    assert barrier_height([0.1, 0.9, 0.3]) == pytest.approx(0.9 - 0.2)
    assert barrier_height([1.0, 0.2, 0.1]) == pytest.approx(0.0)  # below the chord: the ends give 0


def test_monotone_verdict() -> None:
    assert monotone_verdict([0.0, 0.001], [2.0, 2.0], 0.01) is True
    assert monotone_verdict([0.0, 0.1], [2.0, 2.0], 0.01) is False  # a 5% bump
    assert monotone_verdict([0.0], [-0.1], 0.01) is False  # the loss did not fall
    with pytest.raises(ValueError):
        monotone_verdict([0.0], [], 0.01)


def test_barrier_verdict() -> None:
    assert barrier_verdict([0.5, 0.6, 0.55])[0] is Verdict.HOLDS
    assert barrier_verdict([0.0, 0.0, 0.0])[0] is Verdict.FAILS
    assert barrier_verdict([0.5])[0] is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize("change", [{"points": 2}, {"seeds": 1}, {"bump_tolerance": 2.0}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
