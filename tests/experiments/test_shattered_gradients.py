"""The shattered-gradients experiment: its verdicts on made-up autocorrelations (no networks) and its config."""

from __future__ import annotations

import pytest

import udl.experiments.ch11.shattered_gradients as sg
from udl.stats import Verdict


def test_smooth_verdict() -> None:
    assert sg.smooth_verdict([0.95, 0.96, 0.94], 0.8) is Verdict.HOLDS
    assert sg.smooth_verdict([0.5, 0.6, 0.55], 0.8) is Verdict.FAILS
    assert sg.smooth_verdict([0.99, 0.62, 0.9], 0.8) is Verdict.NOT_ESTABLISHED


def test_shatter_verdict() -> None:
    assert sg.shatter_verdict({24: [0.01, -0.02, 0.03], 50: [0.0, 0.01, -0.01]}, 0.2) is Verdict.HOLDS
    assert sg.shatter_verdict({24: [0.01, -0.02, 0.03], 50: [0.6, 0.5, 0.55]}, 0.2) is Verdict.FAILS
    assert sg.shatter_verdict({24: [-0.5, -0.6, -0.55]}, 0.2) is Verdict.FAILS  # |ρ| counts, not ρ


def test_resist_verdict() -> None:
    residual = {1: [0.95, 0.94, 0.96], 24: [0.8, 0.82, 0.79]}
    plain = {1: [0.95, 0.94, 0.96], 24: [0.0, 0.02, -0.01]}
    assert sg.resist_verdict(residual, plain, 0.5) is Verdict.HOLDS
    assert sg.resist_verdict(residual, residual, 0.5) is Verdict.FAILS  # no better than plain
    assert sg.resist_verdict({1: [0.95, 0.94, 0.96], 24: [0.3, 0.2, 0.25]}, plain, 0.5) is Verdict.FAILS


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="depths"):
        sg.Config(depths=(4, 8))
    with pytest.raises(ValueError, match="lag"):
        sg.Config(lag=0.001)
    with pytest.raises(ValueError):
        sg.Config(shattered_max=0.6, residual_min=0.5)
    for preset in sg.PRESETS.values():
        assert isinstance(preset, sg.Config)
