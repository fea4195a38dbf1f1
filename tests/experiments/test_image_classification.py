"""The image-classification experiment: its verdicts on made-up accuracies (no training) and its config."""

from __future__ import annotations

import pytest

import udl.experiments.ch10.image_classification as ic
from udl.stats import Verdict


def test_above_threshold_verdict() -> None:
    assert ic.above_threshold_verdict([98.0, 98.2, 97.9], 97.0) is Verdict.HOLDS
    assert ic.above_threshold_verdict([96.0, 96.5, 96.8], 97.0) is Verdict.FAILS
    assert ic.above_threshold_verdict([97.0, 97.0], 97.0) is Verdict.FAILS  # equal is not above
    assert ic.above_threshold_verdict([99.0, 95.5, 97.5], 97.0) is Verdict.NOT_ESTABLISHED  # 0.33 above, SE 1
    assert ic.above_threshold_verdict([98.0], 97.0) is Verdict.NOT_ESTABLISHED  # one seed


def test_augmentation_helps_verdict() -> None:
    assert ic.augmentation_helps_verdict([98.5, 98.4, 98.6], [98.0, 97.9, 98.0]) is Verdict.HOLDS
    assert ic.augmentation_helps_verdict([97.4, 97.5, 97.3], [98.0, 97.9, 98.0]) is Verdict.FAILS
    assert ic.augmentation_helps_verdict([98.0, 97.9, 98.0], [98.0, 97.9, 98.0]) is Verdict.FAILS  # no gain
    assert ic.augmentation_helps_verdict([98.5, 97.5, 98.3], [98.0, 97.9, 98.0]) is Verdict.NOT_ESTABLISHED


def test_config_validation() -> None:
    for field, bad in [
        ("test_fraction", 1.0),
        ("epochs", 0),
        ("lr", 0.0),
        ("max_shift", -1),
        ("channels", ()),
    ]:
        with pytest.raises(ValueError):
            ic.Config(**{field: bad})
    for preset in ic.PRESETS.values():
        assert isinstance(preset, ic.Config)
