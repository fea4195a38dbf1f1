"""The linear-regions-trained experiment's verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch20.linear_regions_trained import Config, far_below_maximum_verdict, same_order_verdict


def test_same_order_verdict() -> None:
    assert same_order_verdict([100.0, 120.0], [150.0, 80.0], 2.0) is True
    assert same_order_verdict([100.0, 120.0], [250.0, 80.0], 2.0) is False  # 2.5x more after training
    assert same_order_verdict([100.0], [40.0], 2.0) is False  # 2.5x fewer
    with pytest.raises(ValueError):
        same_order_verdict([], [], 2.0)


def test_far_below_maximum_verdict() -> None:
    assert far_below_maximum_verdict([500, 800], 10**6) is True
    assert far_below_maximum_verdict([500, 20_000], 10**6) is False


@pytest.mark.parametrize("change", [{"factor": 1.0}, {"lines": 0}, {"resolution": 1}, {"hidden": (0,)}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
