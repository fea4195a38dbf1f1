"""The loss-functions experiment's verdicts, on made-up per-seed measurements."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch05.loss_functions import (
    Config,
    bar_verdict,
    better_fit_verdict,
    cross_entropy_gap,
    order_verdict,
    std_tracking_verdict,
)
from udl.stats import Verdict


def test_bar_verdict_three_states() -> None:
    below = lambda e: e < 0.1  # noqa: E731
    assert bar_verdict([0.01, 0.02, 0.05], below) is Verdict.HOLDS
    assert bar_verdict([0.01, 0.02, 0.15], below) is Verdict.NOT_ESTABLISHED  # one seed misses, mean passes
    assert bar_verdict([0.2, 0.3, 0.05], below) is Verdict.FAILS  # the mean misses


def test_better_fit_verdict() -> None:
    good, bad = [0.01, 0.02, 0.03, 0.02], [0.9, 1.0, 0.8, 1.1]
    assert better_fit_verdict(good, bad, 5.0) is Verdict.HOLDS
    assert better_fit_verdict(bad, good, 5.0) is Verdict.FAILS  # the wrong way round
    assert better_fit_verdict([0.05, 0.06, 0.05, 0.06], [0.2, 0.2, 0.2, 0.2], 5.0) is Verdict.FAILS  # < 5x
    assert (
        better_fit_verdict([0.3, 0.3, 0.3, 0.3], [9.0, 9.1, 9.2, 9.0], 5.0) is Verdict.FAILS
    )  # good fit > 0.1


def test_std_tracking_verdict() -> None:
    assert std_tracking_verdict([0.99, 0.98], [0.05, 0.04]) is Verdict.HOLDS
    assert std_tracking_verdict([0.5, 0.6], [0.05, 0.04]) is Verdict.FAILS
    assert std_tracking_verdict([0.99, 0.98], [0.5, 0.4]) is Verdict.FAILS
    assert std_tracking_verdict([0.99, 0.85], [0.05, 0.04]) is Verdict.NOT_ESTABLISHED


def test_order_verdict() -> None:
    assert order_verdict([True, True, True]) is Verdict.HOLDS
    assert order_verdict([True, False, True]) is Verdict.FAILS


def test_cross_entropy_gap_is_rounding() -> None:
    nll, reference = cross_entropy_gap(50, torch.Generator().manual_seed(3))
    assert nll == pytest.approx(reference, abs=1e-12) and nll > 0


@pytest.mark.parametrize(
    ("field", "value"), [("points", 9), ("steps", 0), ("items", 1), ("seeds", 0), ("outlier_fraction", 0.5)]
)
def test_config_rejects(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
