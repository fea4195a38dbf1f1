"""Losses for stacked models: M independent members evaluated in one batched forward pass."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["stacked_cross_entropy"]


def stacked_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Σ_m (mean cross-entropy of member m over the batch): each member's gradient is the one it would get alone.

    Args:
        logits: (M, B, C) pre-softmax outputs of M members on one batch of B examples.
        target: (B,) class indices, shared by the members.

    Returns:
        A scalar: the sum over members of ``cross_entropy(logits[m], target)``.
    """
    if logits.dim() != 3 or target.shape != logits.shape[1:2]:
        raise ValueError(
            f"need logits (M, B, C) and target (B,), got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    m, b, c = logits.shape
    return nn.functional.cross_entropy(logits.reshape(m * b, c), target.repeat(m)) * m
