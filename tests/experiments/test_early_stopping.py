"""Verdict functions of the early-stopping experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch09.early_stopping import Config, selected_early, stopping_helps
from udl.stats import Verdict


def test_selected_early() -> None:
    assert selected_early([44, 18], 200)
    assert not selected_early([44, 150], 200)  # one seed selected late
    assert selected_early([100], 200) and not selected_early([101], 200)
    with pytest.raises(ValueError):
        selected_early([], 200)


def test_stopping_helps() -> None:
    assert stopping_helps([0.58, 0.57, 0.59], [0.53, 0.54, 0.535]).verdict is Verdict.HOLDS
    assert stopping_helps([0.55, 0.55], [0.55, 0.55]).verdict is Verdict.FAILS
    assert stopping_helps([0.50, 0.51], [0.55, 0.54]).verdict is Verdict.FAILS
    assert stopping_helps([0.60, 0.55], [0.50, 0.549]).verdict is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    "change",
    [
        {"num_val": 0},
        {"num_val": 5000},
        {"num_samples": 1005},
        {"patience": 0},
        {"label_noise": 1.5},
        {"lr": 0.0},
    ],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
