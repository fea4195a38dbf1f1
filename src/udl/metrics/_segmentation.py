r"""Semantic segmentation scores (UDL sections 10.5.3, 11.5.3): per-class intersection over union of label maps.

:func:`confusion_matrix` accumulates (true, predicted) pixel counts over a data set; :func:`mask_iou` and
:func:`iou_from_confusion` turn them into per-class IoU, :func:`mean_iou` into the mean (the segmentation score).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["confusion_matrix", "iou_from_confusion", "mask_iou", "mean_iou"]


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


def iou_from_confusion(confusion: Tensor) -> Tensor:
    """Per-class IoU = C[c,c] / (Σ_p C[c,p] + Σ_t C[t,c] − C[c,c]) of a (true, predicted) confusion matrix, float64
    (nan for a class absent from both)."""
    if confusion.dim() != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {tuple(confusion.shape)}")
    c = confusion.double()
    tp = c.diagonal()
    return tp / (c.sum(0) + c.sum(1) - tp)
