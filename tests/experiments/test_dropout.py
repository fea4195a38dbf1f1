"""Verdict functions of the dropout experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch09.dropout import Config, narrows_gap, weight_scaling_approximate_verdict
from udl.stats import Verdict


def test_gap_narrowed_on_every_seed_holds() -> None:
    assert narrows_gap([0.30, 0.32, 0.31], [0.20, 0.21, 0.215]).verdict is Verdict.HOLDS


def test_equal_or_wider_gaps_fail() -> None:
    assert narrows_gap([0.3, 0.3], [0.3, 0.3]).verdict is Verdict.FAILS
    assert narrows_gap([0.2, 0.25], [0.3, 0.3]).verdict is Verdict.FAILS


def test_inconsistent_seeds_are_not_established() -> None:
    assert narrows_gap([0.30, 0.30], [0.20, 0.31]).verdict is Verdict.NOT_ESTABLISHED
    assert narrows_gap([0.3], [0.1]).verdict is Verdict.NOT_ESTABLISHED  # one seed: no spread


def test_weight_scaling_approximate_verdict() -> None:
    assert weight_scaling_approximate_verdict(0.4, 1e-15, 0.09, 0.25)
    assert not weight_scaling_approximate_verdict(1e-12, 1e-15, 0.09, 0.25)  # rounding-level: exact
    assert not weight_scaling_approximate_verdict(0.4, 1e-15, 0.3, 0.25)  # worse than one pass


@pytest.mark.parametrize(
    "change",
    [
        {"p": 0.0},
        {"p": 1.0},
        {"hidden": ()},
        {"small_hidden": (8,)},
        {"small_hidden": (12, 12)},
        {"exact_inputs": 5000},
        {"train_split": 0.0},
        {"seeds": 0},
        {"gamma": 0.0},
    ],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
