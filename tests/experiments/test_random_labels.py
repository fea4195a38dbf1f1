"""The random-labels experiment's verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from udl.experiments.ch20.random_labels import Config, epochs_to_fit, memorized_verdict, slower_verdict
from udl.stats import Verdict


def test_epochs_to_fit() -> None:
    assert epochs_to_fit([0.5, 0.1, 0.0, 0.0]) == 3.0
    assert epochs_to_fit([0.5, 0.001]) == math.inf


def test_memorized_verdict() -> None:
    assert memorized_verdict([10.0, 30.0]) is True
    assert memorized_verdict([10.0, math.inf]) is False
    with pytest.raises(ValueError):
        memorized_verdict([])


def test_slower_verdict() -> None:
    assert slower_verdict([30.0, 32.0, 35.0], [10.0, 11.0, 12.0], 100)[0] is Verdict.HOLDS
    assert slower_verdict([9.0, 10.0, 11.0], [10.0, 11.0, 12.0], 100)[0] is Verdict.FAILS
    assert slower_verdict([30.0, 9.0, 12.0], [10.0, 11.0, 12.0], 100)[0] is Verdict.NOT_ESTABLISHED
    verdict, c = slower_verdict([math.inf, math.inf], [10.0, 20.0], 100)  # never fit: censored at budget + 1
    assert verdict is Verdict.HOLDS and c.mean_a == 101.0


@pytest.mark.parametrize("change", [{"epochs": 0}, {"lr": 0.0}, {"train_split": 1.0}, {"hidden": (0,)}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
