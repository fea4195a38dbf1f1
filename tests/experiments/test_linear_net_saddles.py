"""The linear-net-saddles experiment's verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch20.linear_net_saddles import Config, global_minimum_verdict, only_principal_minimum

SUBSETS = [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]


def test_only_principal_minimum() -> None:
    assert only_principal_minimum(SUBSETS, [-3, -1, -2, -2, 0.0, -0.5, -1], 2) is True
    assert only_principal_minimum(SUBSETS, [-3, -1, -2, -2, 0.0, 0.1, -1], 2) is False  # a second minimum
    assert only_principal_minimum(SUBSETS, [-3, -1, -2, -2, -0.1, -0.5, -1], 2) is False  # none


def test_global_minimum_verdict() -> None:
    assert global_minimum_verdict([1e-6, 0.0], [1.0, 2.0], 1e-3) is True
    assert global_minimum_verdict([1e-6, 0.5], [1.0, 2.0], 1e-3) is False  # one start stuck at a saddle
    with pytest.raises(ValueError):
        global_minimum_verdict([], [], 1e-3)


@pytest.mark.parametrize(
    "change",
    [{"spectrum": (1.0, 1.0, 2.0)}, {"spectrum": (1.0, -1.0)}, {"hidden": 8}, {"hidden": 0}, {"lr": 0.0}],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
