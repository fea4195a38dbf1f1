"""Tests of udl.functional.boxes against independent references.

- box IoU: brute-force pixel counting of rasterized integer boxes, a scalar float64 formula, hand cases, gradcheck;
- NMS: a straightforward pure-Python greedy reference, hand cases, per-class reference for batched NMS;
- average precision: hand-computed VOC cases and a pure-Python transcription of the PASCAL VOC devkit's
  ``voc_eval``/``voc_ap`` (all-point interpolation) on random detections;
- mask IoU: per-class pixel counting in plain Python.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from reference import F64, gen
from udl.functional import (
    average_precision,
    batched_nms,
    box_area,
    box_iou,
    confusion_matrix,
    interpolated_average_precision,
    mask_iou,
    mean_average_precision,
    mean_iou,
    nms,
)

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


def voc_ap_reference(
    detections: list[tuple[int, float, list[float]]], gts: dict[int, list[list[float]]], threshold: float
) -> float:
    """The PASCAL VOC devkit's voc_eval + voc_ap (use_07_metric=False), transcribed to plain Python, with a
    match at IoU >= threshold."""
    npos = sum(len(g) for g in gts.values())
    used = {k: [False] * len(g) for k, g in gts.items()}
    ranked = sorted(detections, key=lambda d: -d[1])
    tp, fp = [], []
    for image, _, box in ranked:
        overlaps = [iou_scalar(box, g) for g in gts.get(image, [])]
        ovmax = max(overlaps) if overlaps else -math.inf
        if ovmax >= threshold:
            jmax = overlaps.index(ovmax)
            if not used[image][jmax]:
                used[image][jmax] = True
                tp.append(1.0)
                fp.append(0.0)
                continue
        tp.append(0.0)
        fp.append(1.0)
    ctp, cfp, rec, prec = 0.0, 0.0, [], []
    for t, f in zip(tp, fp, strict=True):
        ctp, cfp = ctp + t, cfp + f
        rec.append(ctp / npos)
        prec.append(ctp / (ctp + cfp))
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


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


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64).reshape(-1, 4)


def test_interpolated_average_precision_hand_case():
    # precisions 1, 1/2, 2/3, 1/2, 3/5 at recalls 1/4, 1/4, 1/2, 1/2, 3/4 (4 objects):
    # interpolated 1 on (0, 1/4], 2/3 on (1/4, 1/2], 3/5 on (1/2, 3/4], 0 beyond -> 1/4 (1 + 2/3 + 3/5)
    precision = torch.tensor([1, 1 / 2, 2 / 3, 1 / 2, 3 / 5], dtype=F64)
    recall = torch.tensor([1 / 4, 1 / 4, 1 / 2, 1 / 2, 3 / 4], dtype=F64)
    assert interpolated_average_precision(precision, recall) == pytest.approx(
        (1 + 2 / 3 + 3 / 5) / 4, abs=1e-15
    )


def test_average_precision_hand_case_with_a_duplicate_and_a_miss():
    g1, g2, g3, g4 = [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10], [20, 0, 30, 10]
    pred_boxes = [_t([g1, g1, g2]), _t([g3, [50, 50, 60, 60]])]
    pred_scores = [torch.tensor([0.9, 0.8, 0.5]), torch.tensor([0.7, 0.6])]
    gt = [_t([g1, g2]), _t([g3, g4])]
    # ranked: TP (g1), FP (duplicate of g1), TP (g3), FP (nothing there), TP (g2); g4 is never found
    assert average_precision(pred_boxes, pred_scores, gt) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4, abs=1e-15)


def test_average_precision_threshold_is_inclusive_and_perfect_detection_scores_one():
    gt = [_t([[0, 0, 10, 10]])]
    half = [_t([[0, 0, 10, 5]])]  # IoU exactly 0.5
    score = [torch.tensor([0.3])]
    assert average_precision(half, score, gt, 0.5) == 1.0
    assert average_precision(half, score, gt, 0.5 + 1e-9) == 0.0
    assert average_precision(gt, score, gt) == 1.0
    assert average_precision([_t([])], [torch.zeros(0)], gt) == 0.0  # objects but no detections
    assert math.isnan(average_precision(gt, score, [_t([])]))  # no objects: undefined


def test_a_duplicate_of_a_matched_object_is_a_false_positive_even_if_it_overlaps_another():
    """VOC semantics: a detection takes the object it overlaps most; if that one is taken, it is a false positive
    (here the second detection overlaps object b by IoU 7/13 >= 0.5 but object a more)."""
    gt = [_t([[0, 0, 10, 10], [5, 0, 15, 10]])]
    pred = [_t([[0, 0, 10, 10], [2, 0, 12, 10]])]
    assert average_precision(pred, [torch.tensor([0.9, 0.8])], gt) == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_the_voc_devkit_reference(threshold, seed):
    rng = random.Random(100 + seed)
    gts: dict[int, list[list[float]]] = {}
    detections: list[tuple[int, float, list[float]]] = []
    for image in range(6):
        gts[image] = random_boxes(rng.randrange(0, 5), rng, span=30.0, max_side=10.0)
        for box in gts[image]:  # jittered hits, sometimes twice
            for _ in range(rng.choice([0, 1, 1, 2])):
                jitter = [c + rng.uniform(-2, 2) for c in box]
                jitter[2], jitter[3] = max(jitter[2], jitter[0] + 0.5), max(jitter[3], jitter[1] + 0.5)
                detections.append((image, rng.random(), jitter))
        for box in random_boxes(rng.randrange(0, 3), rng, span=30.0):  # clutter
            detections.append((image, rng.random(), box))
    if not any(gts.values()):
        gts[0] = [[0.0, 0.0, 5.0, 5.0]]
    per_image = range(6)
    got = average_precision(
        [_t([d[2] for d in detections if d[0] == k]) for k in per_image],
        [torch.tensor([d[1] for d in detections if d[0] == k], dtype=F64) for k in per_image],
        [_t(gts[k]) for k in per_image],
        threshold,
    )
    assert got == pytest.approx(voc_ap_reference(detections, gts, threshold), abs=1e-12)


def test_mean_average_precision_averages_the_classes_with_objects():
    g1, g2 = [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]
    target = [{"boxes": _t([g1, g2]), "labels": torch.tensor([1, 2])}]
    pred = [
        {
            "boxes": _t([g1, [40, 40, 50, 50], g2, [60, 60, 70, 70]]),
            "scores": torch.tensor([0.9, 0.8, 0.5, 0.99]),
            "labels": torch.tensor([1, 2, 2, 3]),  # class 3 has no objects: left out
        }
    ]
    m_ap, per_class = mean_average_precision(pred, target)
    # class 1: one hit -> AP 1; class 2: FP then TP -> precision 1/2 at recall 1 -> AP 1/2
    assert per_class == {1: 1.0, 2: 0.5}
    assert m_ap == 0.75
    # a class-1 detection on the class-2 object is a false positive of class 1
    wrong = [{"boxes": _t([g2]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}]
    assert mean_average_precision(wrong, target)[1] == {1: 0.0, 2: 0.0}
    assert math.isnan(mean_average_precision([], [])[0])


# -- masks ----------------------------------------------------------------------------------------------------------


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
