r"""Object detection scores (UDL section 10.5.2): PASCAL VOC average precision and mAP.

Detections of one class from all images are ranked by score; each is a true positive when it overlaps a
not-yet-matched ground-truth box of its image by IoU >= the threshold, else a false positive; AP is the area under
the precision-recall curve with all-point interpolation (VOC 2010 onward); mAP averages AP over the classes.

Boxes are ``(x1, y1, x2, y2)`` (torchvision's ``xyxy``, IoU by :func:`udl.functional.box_iou`); the
prediction/target dicts follow torchmetrics' ``MeanAveragePrecision`` (``{"boxes", "scores", "labels"}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from udl.functional import box_iou, check_boxes

__all__ = ["average_precision", "interpolated_average_precision", "mean_average_precision"]


def interpolated_average_precision(precision: Tensor, recall: Tensor) -> float:
    r"""Area under a precision-recall curve with all-point interpolation (PASCAL VOC 2010 onward).

    The curve is extended with (recall 0, precision 0) and (recall 1, precision 0); precision is made monotone
    by :math:`p_{\text{interp}}(r) = \max_{r' \ge r} p(r')`; AP is :math:`\sum_i (r_{i+1} - r_i)\,
    p_{\text{interp}}(r_{i+1})` over the points where recall changes.

    Args:
        precision: (D,) precision after each detection in ranked order.
        recall: (D,) recall after each detection (non-decreasing).
    """
    zero, one = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    r = torch.cat([zero, recall.double().cpu(), one])
    p = torch.cat([zero, precision.double().cpu(), zero])
    p = p.flip(0).cummax(0).values.flip(0)  # p_interp(r) = max over r' >= r
    step = r[1:] - r[:-1]
    return float((step * p[1:]).sum())


def _match_detections(
    pred_boxes: Tensor, pred_scores: Tensor, gt_boxes: Tensor, iou_threshold: float
) -> tuple[Tensor, Tensor]:
    """Scores and true-positive flags of one image's detections of one class (VOC matching, by rank)."""
    order = torch.sort(pred_scores, descending=True, stable=True).indices
    pred_boxes, pred_scores = pred_boxes[order], pred_scores[order]
    tp = torch.zeros(len(pred_boxes), dtype=torch.bool)
    if len(gt_boxes) and len(pred_boxes):
        iou = box_iou(pred_boxes.double(), gt_boxes.double()).cpu()
        best_iou, best_gt = iou.max(1)
        taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
        for d in range(len(pred_boxes)):  # in decreasing score: the best-scoring detection claims an object
            g = int(best_gt[d])
            if float(best_iou[d]) >= iou_threshold and not bool(taken[g]):
                tp[d] = True
                taken[g] = True
    return pred_scores.detach().cpu(), tp


def average_precision(
    pred_boxes: Sequence[Tensor],
    pred_scores: Sequence[Tensor],
    gt_boxes: Sequence[Tensor],
    iou_threshold: float = 0.5,
) -> float:
    """PASCAL VOC average precision of one class's detections over a set of images.

    Matching (VOC): within each image, detections are taken in decreasing score; a detection is a true positive
    when the ground-truth box it overlaps most has IoU >= ``iou_threshold`` and was not matched by a
    higher-scoring detection, else a false positive (so a duplicate detection of a matched object is a false
    positive even if it also overlaps another object). IoU exactly at the threshold counts as a match (the
    COCO / torchmetrics convention; the VOC devkit's test is a strict >). Then all detections of all images
    are ranked by score (ties: image order, then score order within the image), precision and recall are
    accumulated down the ranking, and AP is :func:`interpolated_average_precision`.

    Args:
        pred_boxes: per image, (D_n, 4) detected boxes.
        pred_scores: per image, (D_n,) their scores.
        gt_boxes: per image, (G_n, 4) ground-truth boxes.
        iou_threshold: the IoU a detection needs with its object (0.5 for mAP@0.5).

    Returns:
        AP in [0, 1]; NaN when there are no ground-truth boxes at all (AP is undefined).
    """
    if not len(pred_boxes) == len(pred_scores) == len(gt_boxes):
        raise ValueError(
            f"need one entry per image in each list, got {len(pred_boxes)}, {len(pred_scores)}, {len(gt_boxes)}"
        )
    num_gt = sum(len(g) for g in gt_boxes)
    if num_gt == 0:
        return float("nan")
    scores, flags = [], []
    for boxes, s, gt in zip(pred_boxes, pred_scores, gt_boxes, strict=True):
        check_boxes(boxes, "pred_boxes")
        check_boxes(gt, "gt_boxes")
        ranked, tp = _match_detections(boxes, s, gt, iou_threshold)
        scores.append(ranked)
        flags.append(tp)
    if not scores or sum(len(s) for s in scores) == 0:
        return 0.0
    all_scores = torch.cat(scores).double()
    order = torch.sort(all_scores, descending=True, stable=True).indices
    tp = torch.cat(flags)[order].double()
    true_pos = tp.cumsum(0)
    false_pos = (1 - tp).cumsum(0)
    recall = true_pos / num_gt
    precision = true_pos / (true_pos + false_pos)
    return interpolated_average_precision(precision, recall)


def mean_average_precision(
    pred: Sequence[Mapping[str, Tensor]],
    target: Sequence[Mapping[str, Tensor]],
    iou_threshold: float = 0.5,
) -> tuple[float, dict[int, float]]:
    """Mean over classes of the VOC :func:`average_precision` (mAP@``iou_threshold``).

    Args:
        pred: per image, ``{"boxes": (D, 4), "scores": (D,), "labels": (D,)}`` (torchmetrics' format).
        target: per image, ``{"boxes": (G, 4), "labels": (G,)}``.
        iou_threshold: IoU needed for a match (0.5: the VOC metric, "mAP@0.5").

    Returns:
        ``(mAP, {label: AP})``: the mean over the classes that have at least one ground-truth box (classes that
        appear only among the predictions have no defined AP and are left out, as in VOC); mAP is NaN when the
        targets hold no boxes.
    """
    if len(pred) != len(target):
        raise ValueError(f"pred and target must list the same images, got {len(pred)} and {len(target)}")
    classes = sorted({int(c) for t in target for c in t["labels"].tolist()})
    per_class: dict[int, float] = {}
    for c in classes:
        keep_p = [p["labels"] == c for p in pred]
        keep_t = [t["labels"] == c for t in target]
        per_class[c] = average_precision(
            [p["boxes"][k] for p, k in zip(pred, keep_p, strict=True)],
            [p["scores"][k] for p, k in zip(pred, keep_p, strict=True)],
            [t["boxes"][k] for t, k in zip(target, keep_t, strict=True)],
            iou_threshold,
        )
    if not per_class:
        return float("nan"), per_class
    return sum(per_class.values()) / len(per_class), per_class
