"""Segmentation IoU: mask_iou and confusion_matrix against per-class pixel counting in plain Python, hand cases,
and iou_from_confusion against mask_iou."""

from __future__ import annotations

import math

import pytest
import torch

from reference import F64, gen
from udl.metrics import confusion_matrix, iou_from_confusion, mask_iou, mean_iou


def test_mask_iou_and_confusion_matrix_match_pixel_counting():
    g = gen(3)
    pred = torch.randint(0, 4, (5, 9, 7), generator=g)
    target = torch.randint(0, 4, (5, 9, 7), generator=g)
    target[target == 3] = 2  # class 3 only predicted, never true
    p, t = pred.flatten().tolist(), target.flatten().tolist()
    counts = [
        [sum(1 for a, b in zip(t, p, strict=True) if a == i and b == j) for j in range(5)] for i in range(5)
    ]
    assert confusion_matrix(pred, target, 5).tolist() == counts
    expected = []
    for c in range(5):
        inter = sum(1 for a, b in zip(t, p, strict=True) if a == c and b == c)
        union = sum(1 for a, b in zip(t, p, strict=True) if a == c or b == c)
        expected.append(inter / union if union else math.nan)
    got = mask_iou(pred, target, 5)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=F64), equal_nan=True)
    assert got[3] == 0.0 and math.isnan(got[4])  # predicted but absent: 0; absent everywhere: NaN
    present = [v for v in expected if not math.isnan(v)]
    assert mean_iou(pred, target, 5) == pytest.approx(sum(present) / len(present), abs=1e-15)
    assert mean_iou(pred, target, 5, ignore_background=True) == pytest.approx(
        sum(present[1:]) / len(present[1:]), abs=1e-15
    )


def test_mask_iou_hand_case_and_validation():
    target = torch.tensor([[0, 1, 1], [0, 2, 2]])
    pred = torch.tensor([[0, 1, 0], [0, 2, 2]])
    # background: 2 / 3, class 1: 1 / 2, class 2: 2 / 2
    assert mask_iou(pred, target, 3).tolist() == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert mean_iou(target, target, 3) == 1.0
    with pytest.raises(ValueError):
        mask_iou(pred, target, 2)  # label 2 out of range
    with pytest.raises(ValueError):
        mask_iou(pred[:1], target, 3)


def test_iou_from_confusion_is_mask_iou() -> None:
    target = torch.randint(0, 4, (3, 8, 8), generator=gen(1))
    pred = torch.where(
        torch.rand(3, 8, 8, generator=gen(2)) < 0.7, target, torch.randint(0, 3, (3, 8, 8), generator=gen(3))
    )
    torch.testing.assert_close(
        iou_from_confusion(confusion_matrix(pred, target, 5)),
        mask_iou(pred, target, 5).double(),
        equal_nan=True,
    )
    assert bool(iou_from_confusion(confusion_matrix(pred, target, 5))[4].isnan())  # absent everywhere
