"""The bias-variance experiment's verdicts on made-up inputs (no fitting), and its Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch08.bias_variance import PRESETS, Config, capacity_trend_verdict, end_to_end, trend
from udl.stats import Verdict


def test_trend() -> None:
    falling = trend([4.0, 3.0, 3.5, 1.0], -1)
    assert falling.change == 3.0 and falling.largest_counter_step == 0.5 and falling.counter_steps == 1
    rising = trend([1.0, 2.0, 3.0], +1)
    assert rising.change == 2.0 and rising.largest_counter_step == 0.0 and rising.counter_steps == 0


def test_end_to_end_is_paired_in_the_claimed_direction() -> None:
    first, last = [3.0, 3.1, 2.9, 3.2], [1.0, 1.1, 0.8, 1.0]
    assert end_to_end(first, last, -1).verdict is Verdict.HOLDS  # falls
    assert end_to_end(first, last, +1).verdict is Verdict.FAILS  # does not rise


def test_capacity_trend_verdict_holds_on_a_clean_fall() -> None:
    first, last = [0.30, 0.31, 0.29, 0.30], [0.01, 0.02, 0.01, 0.015]
    curve = [0.30, 0.20, 0.12, 0.05, 0.02]
    assert capacity_trend_verdict(first, last, curve, -1, trend_tolerance=0.05) is Verdict.HOLDS


def test_capacity_trend_verdict_fails_on_a_wrong_sign_or_a_big_wiggle() -> None:
    first, last = [0.30, 0.31, 0.29, 0.30], [0.01, 0.02, 0.01, 0.015]
    rising = [0.02, 0.05, 0.12, 0.20, 0.30]
    assert capacity_trend_verdict(last, first, rising, -1, trend_tolerance=0.05) is Verdict.FAILS
    wiggly = [0.30, 0.10, 0.20, 0.05, 0.02]  # a counter step of 0.10 is 36% of the 0.28 fall
    assert capacity_trend_verdict(first, last, wiggly, -1, trend_tolerance=0.05) is Verdict.FAILS
    flat = [0.2, 0.2, 0.2]
    same = [0.2, 0.3, 0.1, 0.2]
    assert capacity_trend_verdict(same, same, flat, -1, trend_tolerance=0.05) is Verdict.FAILS


def test_capacity_trend_verdict_not_established_when_the_fall_is_within_noise() -> None:
    first, last = [0.30, 0.10, 0.50, 0.20], [0.25, 0.30, 0.20, 0.25]  # mean 0.275 → 0.25, SE ≈ 0.09
    curve = [0.275, 0.26, 0.25]
    assert capacity_trend_verdict(first, last, curve, -1, trend_tolerance=0.05) is Verdict.NOT_ESTABLISHED


def test_config_validation() -> None:
    for cfg in PRESETS.values():
        assert isinstance(cfg, Config)
    with pytest.raises(ValueError, match="units"):
        Config(units=(3, 1))
    with pytest.raises(ValueError, match="units"):
        Config(units=(4,))
    with pytest.raises(ValueError, match="noise_std"):
        Config(noise_std=0.0)
    with pytest.raises(ValueError, match="datasets"):
        Config(datasets=1)
    with pytest.raises(ValueError, match="trend_tolerance"):
        Config(trend_tolerance=1.0)
    with pytest.raises(ValueError, match="z_tolerance"):
        Config(z_tolerance=0.0)
