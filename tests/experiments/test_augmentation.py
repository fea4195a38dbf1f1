"""Verdicts and config of the augmentation experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.augmentation import Config, about_verdict
from udl.stats import Verdict


def test_about_verdict() -> None:
    assert about_verdict([33.5, 34.0, 32.8], 33.0, 5.0) is Verdict.HOLDS
    assert about_verdict([45.0, 46.0, 44.5], 33.0, 5.0) is Verdict.FAILS  # far outside the band
    assert about_verdict([37.0, 39.0, 38.5], 33.0, 5.0) is Verdict.NOT_ESTABLISHED  # straddles 38
    assert about_verdict([33.0], 33.0, 5.0) is Verdict.NOT_ESTABLISHED  # one seed: no spread


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden": ()},
        {"hidden": (0, 5)},
        {"num_augmented": 0},
        {"scale_low": 1.3},
        {"epochs": 0},
        {"train_split": 1.0},
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
