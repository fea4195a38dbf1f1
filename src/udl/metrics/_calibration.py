r"""Calibration (Guo et al., 2017; UDL section 9.3.4): expected calibration error and reliability-diagram bins.

Overconfidence, e.g. of a network trained on one-hot targets without label smoothing, shows as confidence above
accuracy: :func:`expected_calibration_error` and :func:`reliability_bins` (the data of a reliability diagram).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from udl.losses import check_class_labels

__all__ = ["ReliabilityBins", "expected_calibration_error", "reliability_bins"]


class ReliabilityBins(NamedTuple):
    """Per-bin statistics of a reliability diagram (equal-width confidence bins (b/B, (b+1)/B])."""

    edges: Tensor
    """(B + 1,) bin edges 0, 1/B, ..., 1"""
    counts: Tensor
    """(B,) number of examples whose confidence falls in the bin"""
    confidence: Tensor
    """(B,) mean confidence (max probability) of the bin's examples; 0 for empty bins"""
    accuracy: Tensor
    """(B,) fraction of the bin's examples predicted correctly; 0 for empty bins"""


def reliability_bins(probs: Tensor, y: Tensor, n_bins: int = 15) -> ReliabilityBins:
    r"""Bin examples by confidence :math:`\hat p_i = \max_k p_{ik}` into B equal-width bins
    :math:`(b/B, (b+1)/B]` and return each bin's count, mean confidence and accuracy (of
    :math:`\hat y_i = \arg\max_k p_{ik}`).

    Args:
        probs: (N, K) predicted class probabilities (rows are not re-normalised).
        y: (N,) integer labels.
        n_bins: B >= 1.

    Raises:
        ValueError: bad shapes, B < 1, or probabilities outside [0, 1].
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if probs.dim() != 2 or y.shape != probs.shape[:1]:
        raise ValueError(f"need probs (N, K) and labels (N,), got {tuple(probs.shape)} and {tuple(y.shape)}")
    if probs.numel() and (float(probs.min()) < 0 or float(probs.max()) > 1):
        raise ValueError("probabilities must lie in [0, 1]")
    check_class_labels(y, probs.shape[1])
    confidence, predicted = probs.max(dim=1)  # (N,), (N,)
    correct = (predicted == y).to(probs.dtype)
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=probs.dtype, device=probs.device)
    # bucketize(right=False) returns b with edges[b-1] < v <= edges[b]: bin b-1 covers (edges[b-1], edges[b]].
    which = (torch.bucketize(confidence, edges[1:-1], right=False)).clamp_(0, n_bins - 1)  # (N,)
    counts = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(
        0, which, torch.ones_like(confidence)
    )
    conf_sum = torch.zeros_like(counts).index_add_(0, which, confidence)
    acc_sum = torch.zeros_like(counts).index_add_(0, which, correct)
    safe = counts.clamp(min=1)
    return ReliabilityBins(edges, counts, conf_sum / safe, acc_sum / safe)


def expected_calibration_error(probs: Tensor, y: Tensor, n_bins: int = 15) -> Tensor:
    r"""Expected calibration error (Guo et al., 2017) with B equal-width confidence bins:

    .. math:: \mathrm{ECE} = \sum_{b=1}^{B} \frac{|\mathcal{B}_b|}{N}\,
              \bigl|\mathrm{acc}(\mathcal{B}_b) - \mathrm{conf}(\mathcal{B}_b)\bigr|,

    where :math:`\mathcal{B}_b` holds the examples whose confidence :math:`\max_k p_{ik}` lies in
    :math:`((b-1)/B, b/B]`. 0 for a perfectly calibrated model; an overconfident model (confidence above
    accuracy) has a large ECE. Returns a 0-dim tensor in ``probs``' dtype (0 for N = 0).
    """
    bins = reliability_bins(probs, y, n_bins)
    n = max(len(y), 1)
    return (bins.counts * (bins.accuracy - bins.confidence).abs()).sum() / n
