"""The detection experiment: its verdicts and its NMS-overlap measure on made-up detections (no training)."""

from __future__ import annotations

import pytest
import torch

import udl.experiments.ch10.detection as det


def test_map_and_nms_verdicts() -> None:
    assert det.map_verdict(0.85) and not det.map_verdict(0.79)
    assert det.nms_verdict(120, 40, 0.80, 0.86)
    assert not det.nms_verdict(40, 40, 0.80, 0.86)  # nothing removed
    assert not det.nms_verdict(120, 40, 0.86, 0.80)  # mAP dropped


def test_worst_same_class_overlap() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 5.0], [20.0, 20.0, 30.0, 30.0]])
    same = [{"boxes": boxes, "scores": torch.ones(3), "labels": torch.tensor([1, 1, 1])}]
    other = [{"boxes": boxes, "scores": torch.ones(3), "labels": torch.tensor([1, 2, 1])}]
    assert det.worst_same_class_overlap(same) == pytest.approx(0.5)
    assert det.worst_same_class_overlap(other) == 0.0  # overlapping boxes of different classes are kept


def test_config_validation() -> None:
    for field, bad in [("num_train", 0), ("widths", ()), ("image_size", 30), ("nms_iou", 1.5), ("lr", 0.0)]:
        with pytest.raises(ValueError):
            det.Config(**{field: bad})
    for preset in det.PRESETS.values():
        assert isinstance(preset, det.Config)
