"""Tests of udl.functional.boxes against independent references.

- box IoU: brute-force pixel counting of rasterized integer boxes, a scalar float64 formula, hand cases, gradcheck;
- NMS: a straightforward pure-Python greedy reference, hand cases, per-class reference for batched NMS.

Average precision and mask IoU (``udl.metrics``) are tested in tests/metrics/.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from reference import F64, gen
from udl.functional import batched_nms, box_area, box_iou, nms

# -- references ---------------------------------------------------------------------------------------------------


def iou_scalar(a: list[float], b: list[float]) -> float:
    """IoU of two boxes written out with Python floats."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def rasterize(boxes: list[list[int]], size: int) -> torch.Tensor:
    """(N, size, size) bool: pixel (i, j) is in box (x1, y1, x2, y2) when x1 <= j < x2 and y1 <= i < y2."""
    grid = torch.zeros(len(boxes), size, size, dtype=torch.bool)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        grid[k, y1:y2, x1:x2] = True
    return grid


def nms_reference(boxes: list[list[float]], scores: list[float], threshold: float) -> list[int]:
    """Greedy NMS as textbooks write it: take the best remaining box, drop all that overlap it by > threshold."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties in index order
    keep = []
    while order:
        best = order.pop(0)
        keep.append(best)
        order = [j for j in order if not iou_scalar(boxes[best], boxes[j]) > threshold]
    return keep


def random_boxes(n: int, rng: random.Random, span: float = 20.0, max_side: float = 8.0) -> list[list[float]]:
    out = []
    for _ in range(n):
        x, y = rng.uniform(0, span), rng.uniform(0, span)
        out.append([x, y, x + rng.uniform(0.5, max_side), y + rng.uniform(0.5, max_side)])
    return out


# -- box IoU --------------------------------------------------------------------------------------------------------


def test_box_iou_equals_pixel_counts_of_rasterized_integer_boxes():
    g = gen(0)
    corners = torch.randint(0, 16, (40, 2, 2), generator=g)
    lo, hi = corners.min(1).values, corners.max(1).values + 1  # (40, 2): x1 < x2, y1 < y2
    boxes = torch.cat([lo, hi], 1).tolist()
    a, b = boxes[:25], boxes[25:]
    ma, mb = rasterize(a, 17)[:, None], rasterize(b, 17)[None]  # (25, 1, 17, 17), (1, 15, 17, 17)
    expected = (ma & mb).sum((2, 3)).double() / (ma | mb).sum((2, 3)).double()
    got = box_iou(torch.tensor(a, dtype=F64), torch.tensor(b, dtype=F64))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-15)
    assert box_area(torch.tensor(a, dtype=F64)).tolist() == rasterize(a, 17).sum((1, 2)).double().tolist()


def test_box_iou_matches_the_scalar_formula_on_float_boxes():
    rng = random.Random(1)
    a, b = random_boxes(30, rng), random_boxes(20, rng)
    expected = torch.tensor([[iou_scalar(p, q) for q in b] for p in a], dtype=F64)
    torch.testing.assert_close(box_iou(torch.tensor(a, dtype=F64), torch.tensor(b, dtype=F64)), expected)


def test_box_iou_hand_cases():
    boxes = torch.tensor([[0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6], [0, 0, 2, 2], [2, 0, 4, 2]], dtype=F64)
    iou = box_iou(boxes, boxes)
    assert iou[0, 3] == 1.0 and iou[0, 0] == 1.0
    assert iou[0, 1] == pytest.approx(2 / 6, abs=1e-15)  # half overlap: 2 / (4 + 4 - 2)
    assert iou[0, 2] == 0.0 and iou[0, 4] == 0.0  # disjoint and touching
    assert box_iou(boxes[:2], boxes[:0]).shape == (2, 0)
    degenerate = torch.tensor([[1.0, 1.0, 1.0, 1.0]], dtype=F64)
    assert box_iou(degenerate, boxes[:1]).item() == 0.0
    assert math.isnan(box_iou(degenerate, degenerate).item())  # 0 / 0, as torchvision


def test_box_iou_gradient():
    rng = random.Random(2)
    a = torch.tensor(random_boxes(4, rng, span=6.0), dtype=F64, requires_grad=True)
    b = torch.tensor(random_boxes(3, rng, span=6.0), dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(box_iou, (a, b))


def test_box_iou_rejects_bad_shapes():
    with pytest.raises(ValueError):
        box_iou(torch.zeros(3, 5), torch.zeros(2, 4))


# -- NMS --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 0.8])
@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_the_greedy_reference(threshold, seed):
    rng = random.Random(seed)
    boxes = random_boxes(60, rng, span=12.0)  # crowded: many overlaps
    scores = [rng.random() for _ in boxes]
    got = nms(torch.tensor(boxes, dtype=F64), torch.tensor(scores, dtype=F64), threshold)
    assert got.dtype == torch.long
    assert got.tolist() == nms_reference(boxes, scores, threshold)


def test_nms_hand_cases():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5.0]])
    scores = torch.tensor([0.8, 0.9, 0.7, 0.6])
    # box 1 (best) suppresses box 0 (IoU 90/110 > 0.5); box 3 overlaps box 1 by 45/105 < 0.5 and stays
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.4).tolist() == [1, 2]
    assert nms(boxes, scores, 1.0).tolist() == [1, 0, 2, 3]  # nothing overlaps by more than 1
    tied = torch.tensor([0.5, 0.5, 0.5, 0.5])
    assert nms(boxes, tied, 0.5).tolist() == [0, 2, 3]  # equal scores: index order
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.long


def test_batched_nms_is_nms_within_each_category():
    rng = random.Random(5)
    boxes = random_boxes(50, rng, span=10.0)
    scores = [rng.random() for _ in boxes]
    categories = [rng.randrange(3) for _ in boxes]
    kept: list[int] = []
    for c in range(3):
        members = [i for i in range(len(boxes)) if categories[i] == c]
        chosen = nms_reference([boxes[i] for i in members], [scores[i] for i in members], 0.3)
        kept += [members[k] for k in chosen]
    expected = sorted(kept, key=lambda i: -scores[i])
    got = batched_nms(
        torch.tensor(boxes, dtype=F64), torch.tensor(scores, dtype=F64), torch.tensor(categories), 0.3
    )
    assert got.tolist() == expected
    # the same boxes in one category suppress across the former category boundaries
    assert len(nms(torch.tensor(boxes, dtype=F64), torch.tensor(scores, dtype=F64), 0.3)) < len(expected)


# -- average precision ----------------------------------------------------------------------------------------------


# -- masks ----------------------------------------------------------------------------------------------------------
