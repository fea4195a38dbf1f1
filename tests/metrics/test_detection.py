"""Average precision and mAP against hand-computed VOC cases and a pure-Python transcription of the PASCAL VOC
devkit's ``voc_eval``/``voc_ap`` (all-point interpolation) on random detections."""

from __future__ import annotations

import math
import random

import pytest
import torch

from reference import F64
from udl.metrics import average_precision, interpolated_average_precision, mean_average_precision


def iou_scalar(a: list[float], b: list[float]) -> float:
    """IoU of two boxes written out with Python floats."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


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
