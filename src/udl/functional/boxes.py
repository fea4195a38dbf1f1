r"""Bounding boxes and masks: IoU, non-maximum suppression, average precision, segmentation IoU.

The evaluation side of object detection (UDL section 10.5.2) and semantic segmentation (section 10.5.3).

- :func:`box_iou`: intersection over union of two sets of boxes, :math:`|A \cap B| / |A \cup B|` — the overlap
  measure used both to match detections to objects and to suppress duplicates.
- :func:`nms`, :func:`batched_nms`: greedy non-maximum suppression. YOLO predicts many overlapping boxes for one
  object; keeping the highest-scoring box and discarding every box that overlaps it by more than a threshold,
  then repeating, leaves one box per object (section 10.5.2).
- :func:`average_precision`, :func:`mean_average_precision`: the PASCAL VOC detection metric. Detections of one
  class from all images are ranked by score; each is a true positive when it overlaps a not-yet-matched
  ground-truth box of its image by IoU >= the threshold, else a false positive; AP is the area under the
  precision-recall curve with all-point interpolation (VOC 2010 onward); mAP averages AP over the classes.
- :func:`confusion_matrix`, :func:`mask_iou`, :func:`mean_iou`: per-class intersection over union of label maps,
  accumulated over a data set, and its mean (the semantic segmentation score).

Boxes are ``(x1, y1, x2, y2)`` with x1 <= x2 and y1 <= y2 (torchvision's ``xyxy``); the signatures follow
``torchvision.ops`` (``box_iou``, ``nms``, ``batched_nms``) and the prediction/target dicts follow torchmetrics'
``MeanAveragePrecision`` (``{"boxes", "scores", "labels"}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = [
    "average_precision",
    "batched_nms",
    "box_area",
    "box_iou",
    "confusion_matrix",
    "interpolated_average_precision",
    "mask_iou",
    "mean_average_precision",
    "mean_iou",
    "nms",
]


def _check_boxes(boxes: Tensor, name: str) -> None:
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) (x1, y1, x2, y2), got {tuple(boxes.shape)}")


def box_area(boxes: Tensor) -> Tensor:
    """(N,) areas :math:`(x_2 - x_1)(y_2 - y_1)` of (N, 4) boxes (torchvision's ``box_area``)."""
    _check_boxes(boxes, "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    r"""(N, M) intersection over union of every pair of boxes, as ``torchvision.ops.box_iou``.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|},

    with the intersection the box :math:`[\max x_1, \min x_2] \times [\max y_1, \min y_2]` (empty when either
    side is negative). Two degenerate boxes (zero area) give 0/0 = NaN, as in torchvision. Differentiable.

    Args:
        boxes1: (N, 4) boxes ``(x1, y1, x2, y2)``.
        boxes2: (M, 4) boxes.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    sides = (bottom_right - top_left).clamp(min=0)
    intersection = sides[..., 0] * sides[..., 1]
    return intersection / (area1[:, None] + area2[None, :] - intersection)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression (UDL section 10.5.2), as ``torchvision.ops.nms``.

    Repeatedly keep the highest-scoring remaining box and discard every remaining box whose IoU with it is
    greater than ``iou_threshold``. Equal scores are taken in index order.

    Args:
        boxes: (N, 4) boxes ``(x1, y1, x2, y2)``.
        scores: (N,) scores.
        iou_threshold: boxes overlapping a kept box by IoU > this are discarded.

    Returns:
        (K,) long indices of the kept boxes, in decreasing order of score.
    """
    _check_boxes(boxes, "boxes")
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have shape ({len(boxes)},), got {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    overlaps = (box_iou(boxes[order], boxes[order]) > iou_threshold).tolist()  # (N, N), sorted order
    suppressed = [False] * len(order)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        row = overlaps[i]
        for j in range(i + 1, len(order)):
            if row[j]:
                suppressed[j] = True
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression within each category ``idxs`` separately, as ``torchvision.ops.batched_nms``.

    Boxes of different categories never suppress each other. Implemented by shifting each category's boxes by
    its own offset so that boxes of different categories cannot overlap, then one :func:`nms`.

    Returns:
        (K,) long indices of the kept boxes, in decreasing order of score.
    """
    _check_boxes(boxes, "boxes")
    if idxs.shape != boxes.shape[:1]:
        raise ValueError(f"idxs must have shape ({len(boxes)},), got {tuple(idxs.shape)}")
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = boxes.max() - boxes.min() + 1  # wider than any box: shifted categories are disjoint
    shifted = boxes + (idxs.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)


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
        _check_boxes(boxes, "pred_boxes")
        _check_boxes(gt, "gt_boxes")
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


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(num_classes, num_classes) long counts: entry [t, p] counts pixels of true class t labelled p.

    Args:
        pred: integer labels of any shape, values in [0, num_classes).
        target: integer labels of the same shape.
        num_classes: the number of labels (background included).
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)}, {tuple(target.shape)}"
        )
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    for name, labels in (("pred", pred), ("target", target)):
        if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < num_classes):
            raise ValueError(
                f"{name} labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
            )
    flat = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def mask_iou(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    r"""(num_classes,) per-class IoU of two label maps, accumulated over all pixels given.

    For class c, :math:`\mathrm{IoU}_c = |P_c \cap T_c| / |P_c \cup T_c|` with :math:`P_c`, :math:`T_c` the
    pixels predicted / labelled c over the whole batch (so a data set's IoU is not a mean of per-image IoUs).
    A class absent from both gets NaN.

    Args:
        pred: (N, H, W) (or any shape) predicted labels.
        target: the true labels, same shape.
        num_classes: the number of labels (background included).
    """
    cm = confusion_matrix(pred, target, num_classes).double()
    intersection = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - intersection
    return intersection / union


def mean_iou(pred: Tensor, target: Tensor, num_classes: int, *, ignore_background: bool = False) -> float:
    """Mean of :func:`mask_iou` over the classes present in ``pred`` or ``target`` (NaN entries skipped).

    With ``ignore_background=True`` class 0 is left out of the mean (the foreground classes only, a stricter
    score when the background covers most pixels).
    """
    iou = mask_iou(pred, target, num_classes)
    if ignore_background:
        iou = iou[1:]
    return float(iou.nanmean())
