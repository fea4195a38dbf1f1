"""The spread comparison of the mc-dropout experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch09.mc_dropout import Config, spread_larger
from udl.stats import Verdict


def test_larger_spread_on_every_network_holds() -> None:
    assert spread_larger([0.30, 0.35, 0.32], [0.20, 0.22, 0.21]).verdict is Verdict.HOLDS


def test_smaller_or_equal_spread_fails() -> None:
    assert spread_larger([0.2, 0.2], [0.2, 0.2]).verdict is Verdict.FAILS
    assert spread_larger([0.1, 0.15], [0.2, 0.2]).verdict is Verdict.FAILS


def test_mixed_networks_are_not_established() -> None:
    assert spread_larger([0.40, 0.19, 0.30], [0.20, 0.20, 0.20]).verdict is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    "change",
    [{"gap": (0.7, 0.3)}, {"margin": 0.2}, {"p": 1.0}, {"num_train": 1}, {"grid_points": 5}, {"seeds": 0}],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
