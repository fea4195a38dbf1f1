r"""Bounding-box geometry (UDL section 10.5.2): area, intersection over union, non-maximum suppression.

- :func:`box_iou`: intersection over union of two sets of boxes, :math:`|A \cap B| / |A \cup B|` — the overlap
  measure used both to match detections to objects and to suppress duplicates.
- :func:`nms`, :func:`batched_nms`: greedy non-maximum suppression. YOLO predicts many overlapping boxes for one
  object; keeping the highest-scoring box and discarding every box that overlaps it by more than a threshold,
  then repeating, leaves one box per object (section 10.5.2).

Boxes are ``(x1, y1, x2, y2)`` with x1 <= x2 and y1 <= y2 (torchvision's ``xyxy``); the signatures follow
``torchvision.ops`` (``box_area``, ``box_iou``, ``nms``, ``batched_nms``). The detection and segmentation scores
built on them (average precision, mAP, IoU of label maps) are in :mod:`udl.metrics`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "batched_nms",
    "box_area",
    "box_iou",
    "nms",
]


def check_boxes(boxes: Tensor, name: str) -> None:
    """ValueError unless ``boxes`` is an (N, 4) tensor of (x1, y1, x2, y2) corners."""
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) (x1, y1, x2, y2), got {tuple(boxes.shape)}")


def box_area(boxes: Tensor) -> Tensor:
    """(N,) areas :math:`(x_2 - x_1)(y_2 - y_1)` of (N, 4) boxes (torchvision's ``box_area``)."""
    check_boxes(boxes, "boxes")
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
    check_boxes(boxes1, "boxes1")
    check_boxes(boxes2, "boxes2")
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
    check_boxes(boxes, "boxes")
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
    check_boxes(boxes, "boxes")
    if idxs.shape != boxes.shape[:1]:
        raise ValueError(f"idxs must have shape ({len(boxes)},), got {tuple(idxs.shape)}")
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = boxes.max() - boxes.min() + 1  # wider than any box: shifted categories are disjoint
    shifted = boxes + (idxs.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)
