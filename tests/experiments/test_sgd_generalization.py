"""The trend verdict of the sgd-generalization experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from udl.experiments.ch09.sgd_generalization import Config, trend_verdict
from udl.stats import Verdict

LRS = [0.1, 0.2, 0.5, 1.0]


def _errors(means: list[float], noise: list[float]) -> torch.Tensor:
    return torch.tensor([[m + e for e in noise] for m in means])  # (settings, seeds)


def test_a_falling_curve_holds_for_direction_minus_one() -> None:
    tests = _errors([0.40, 0.38, 0.36, 0.35], [0.0, 0.004, -0.003])
    verdict, rho, ends = trend_verdict(LRS, tests, -1)
    assert verdict is Verdict.HOLDS and rho == pytest.approx(-1.0) and ends.diff == pytest.approx(0.05)


def test_a_falling_curve_fails_for_direction_plus_one() -> None:
    tests = _errors([0.40, 0.38, 0.36, 0.35], [0.0, 0.004, -0.003])
    assert trend_verdict(LRS, tests, +1)[0] is Verdict.FAILS


def test_a_flat_curve_fails() -> None:
    assert trend_verdict(LRS, _errors([0.4] * 4, [0.0, 0.01, -0.01]), -1)[0] is Verdict.FAILS


def test_noisy_ends_are_not_established() -> None:
    tests = torch.tensor([[0.40, 0.30, 0.42], [0.39, 0.36, 0.37], [0.38, 0.37, 0.36], [0.37, 0.36, 0.35]])
    # seed means fall, but the first seed's end difference is far from the others': below 2 SE
    verdict, rho, ends = trend_verdict(LRS, tests, -1)
    assert rho < 0 and 0 < ends.diff <= 2 * ends.se and verdict is Verdict.NOT_ESTABLISHED


def test_one_seed_is_not_established() -> None:
    assert trend_verdict(LRS, _errors([0.4, 0.3, 0.2, 0.1], [0.0]), -1)[0] is Verdict.NOT_ESTABLISHED


def test_trend_verdict_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        trend_verdict(LRS, _errors([0.4, 0.3], [0.0]), -1)
    with pytest.raises(ValueError):
        trend_verdict(LRS, _errors([0.4] * 4, [0.0]), 0)


@pytest.mark.parametrize(
    "change",
    [
        {"lrs": ()},
        {"lrs": (0.1, 0.1)},
        {"batch_sizes": (0,)},
        {"lr_budget": 999.0},
        {"seeds": 0},
        {"train_split": 1.0},
    ],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
