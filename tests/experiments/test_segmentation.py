"""The segmentation experiment: its verdicts on made-up IoUs (no training), its identity and its config."""

from __future__ import annotations

import pytest
import torch

import udl.experiments.ch11.segmentation as seg
from reference import gen
from udl.stats import Verdict


def test_iou_verdict() -> None:
    assert seg.iou_verdict([0.90, 0.92, 0.91]) is Verdict.HOLDS
    assert seg.iou_verdict([0.60, 0.70, 0.65]) is Verdict.FAILS
    assert seg.iou_verdict([0.95]) is Verdict.NOT_ESTABLISHED  # one seed


def test_skips_verdict() -> None:
    assert seg.skips_verdict([0.90, 0.92, 0.91], [0.80, 0.83, 0.81]) is Verdict.HOLDS
    assert seg.skips_verdict([0.80, 0.83, 0.81], [0.90, 0.92, 0.91]) is Verdict.FAILS
    assert seg.skips_verdict([0.90, 0.70, 0.91], [0.80, 0.83, 0.81]) is Verdict.NOT_ESTABLISHED


def test_iou_identity_error_is_rounding() -> None:
    target = torch.randint(0, 4, (2, 8, 8), generator=gen(0))
    pred = torch.randint(0, 4, (2, 8, 8), generator=gen(1))
    assert seg.iou_identity_error(pred, target, 4) < 1e-12


def test_config_validation() -> None:
    for field, bad in [("num_test", 0), ("widths", ()), ("image_size", 30), ("lr", 0.0), ("seeds", 0)]:
        with pytest.raises(ValueError):
            seg.Config(**{field: bad})
    for preset in seg.PRESETS.values():
        assert isinstance(preset, seg.Config)
