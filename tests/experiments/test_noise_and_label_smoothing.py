"""Verdicts and config of the noise-and-label-smoothing experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.noise_and_label_smoothing import Config, lowers
from udl.stats import Verdict


def test_lowers() -> None:
    plain = [56.0, 57.5, 55.9]
    assert lowers(plain, [52.0, 53.0, 52.1]).verdict is Verdict.HOLDS
    assert lowers(plain, plain).verdict is Verdict.FAILS  # equal
    assert lowers(plain, [59.0, 60.2, 58.1]).verdict is Verdict.FAILS  # label smoothing at quick: worse
    assert lowers(plain, [55.0, 57.9, 54.0]).verdict is Verdict.NOT_ESTABLISHED  # +0.8 ± 0.6


@pytest.mark.parametrize(
    "bad",
    [
        {"train_size": 5},
        {"train_size": 4001},
        {"input_noise": ()},
        {"weight_noise": (0.05, 0.01)},
        {"label_smoothing": (0.5, 1.5)},
        {"ece_bins": 0},
        {"hidden": (0,)},
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
