"""The double-descent experiment's verdict functions on made-up curves (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch08.double_descent import (
    BOOK_WIDTHS,
    PRESETS,
    Config,
    double_descent_shape,
    interpolation_verdict,
    parameters,
    peak_verdict,
    second_descent_verdict,
    threshold_width,
)

N = 4000
WIDTHS = (4, 8, 14, 22, 30, 40, 45, 50, 60, 80, 120, 200, 300)
PARAMS = [parameters(h) for h in WIDTHS]  # 45 is the first width with more parameters than 4000
MARGINS = {"rise_margin": 0.03, "fall_margin": 0.05}


def _verdicts(test_error: list[float]) -> tuple[bool, bool]:
    peak = peak_verdict(PARAMS, test_error, N, rise_margin=MARGINS["rise_margin"])
    second = second_descent_verdict(PARAMS, test_error, N, **MARGINS)
    return peak, second


def test_parameters_and_threshold() -> None:
    assert parameters(1) == 41 + 2 + 20  # 40·1 + 1, 1·1 + 1, 1·10 + 10
    assert parameters(42) < N < parameters(43)
    assert threshold_width(N) == pytest.approx(42.31, abs=0.01)
    assert parameters(round(threshold_width(parameters(30)))) == parameters(30)
    assert len(BOOK_WIDTHS) == 28 and BOOK_WIDTHS[0] == 2 and BOOK_WIDTHS[-1] == 400


def test_monotonically_falling_curve_has_no_peak() -> None:
    falling = [0.8 - 0.05 * i for i in range(len(WIDTHS))]
    shape = double_descent_shape(PARAMS, falling, N)
    assert shape.rise < 0
    assert _verdicts(falling) == (False, False)


def test_flat_curve_has_no_peak() -> None:
    assert _verdicts([0.4] * len(WIDTHS)) == (False, False)


def test_real_bump_at_the_threshold() -> None:
    # falls to 0.40 at h = 22 (classical minimum), rises to 0.50 at h = 45 (params/n ≈ 1.07), falls to 0.35
    curve = [0.70, 0.55, 0.45, 0.40, 0.43, 0.47, 0.50, 0.49, 0.46, 0.42, 0.39, 0.37, 0.35]
    shape = double_descent_shape(PARAMS, curve, N)
    assert (WIDTHS[shape.bottom], WIDTHS[shape.peak]) == (22, 45)
    assert shape.rise == pytest.approx(0.10) and shape.fall == pytest.approx(0.15)
    assert _verdicts(curve) == (True, True)


def test_rise_below_the_margin_is_not_a_peak() -> None:
    curve = [0.70, 0.55, 0.45, 0.40, 0.41, 0.41, 0.42, 0.41, 0.40, 0.38, 0.36, 0.35, 0.34]  # +2 points only
    assert _verdicts(curve) == (False, False)


def test_bump_at_the_last_width_has_no_second_descent() -> None:
    curve = [0.70, 0.55, 0.45, 0.40, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.47, 0.48, 0.50]
    peak, second = _verdicts(curve)
    assert second is False
    assert peak is False  # and the peak (h = 300, params/n ≈ 26) is far from the threshold


def test_peak_far_from_the_threshold_fails() -> None:
    # the bump is at h = 120 (params/n ≈ 5.2), then a real fall
    curve = [0.70, 0.55, 0.45, 0.40, 0.40, 0.41, 0.41, 0.42, 0.43, 0.45, 0.50, 0.42, 0.38]
    peak, second = _verdicts(curve)
    assert peak is False and second is True


def test_small_fall_after_the_peak_is_no_second_descent() -> None:
    curve = [0.70, 0.55, 0.45, 0.40, 0.43, 0.47, 0.50, 0.49, 0.48, 0.48, 0.47, 0.47, 0.46]  # −4 points
    assert _verdicts(curve) == (True, False)


def test_interpolation_verdict() -> None:
    big_ok = [0.5 if p < 2 * N else 0.005 for p in PARAMS]
    assert interpolation_verdict(PARAMS, big_ok, N, max_error=0.01) is True
    one_bad = [*big_ok[:-1], 0.02]
    assert interpolation_verdict(PARAMS, one_bad, N, max_error=0.01) is False
    small = [p for p in PARAMS if p < 2 * N]
    assert interpolation_verdict(small, [0.0] * len(small), N, max_error=0.01) is False  # nothing to judge


def test_config_validation() -> None:
    for cfg in PRESETS.values():
        assert isinstance(cfg, Config)
    with pytest.raises(ValueError, match="widths"):
        Config(widths=(30, 8))
    with pytest.raises(ValueError, match="widths"):
        Config(widths=(50, 300))  # nothing below the threshold
    with pytest.raises(ValueError, match="widths"):
        Config(widths=(4, 60))  # nothing with twice the threshold's parameters
    with pytest.raises(ValueError, match="rise_margin"):
        Config(rise_margin=0.0)
    with pytest.raises(ValueError, match="fall_margin"):
        Config(fall_margin=1.5)
    with pytest.raises(ValueError, match="train_split"):
        Config(train_split=1.0)
    with pytest.raises(ValueError, match="momentum"):
        Config(momentum=1.0)
