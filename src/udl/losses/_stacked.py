"""Losses for stacked models: M independent members evaluated in one batched forward pass."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

from udl.losses._regularized import l2_penalty

__all__ = ["stacked_cross_entropy", "stacked_l2_penalty"]


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


def stacked_l2_penalty(params: Iterable[Tensor], lam: Tensor) -> Tensor:
    """Σ_m λ_m Σ_j φ_{m,j}²: member m's own L2 penalty (UDL eq. 9.5) with its own strength ``lam[m]``, summed.

    Args:
        params: stacked tensors with the M members along dim 0 (e.g. ``udl.train.StackedMLP.weights``).
        lam: (M,) non-negative strengths.

    Returns:
        A scalar: :func:`udl.losses.l2_penalty` of the slices scaled by √λ_m, so each member's gradient is the
        2 λ_m φ_m it would get alone.
    """
    tensors = list(params)
    if lam.dim() != 1 or any(p.dim() < 1 or p.shape[0] != len(lam) for p in tensors):
        raise ValueError(
            f"need lam (M,) and tensors with M = {lam.shape[0] if lam.dim() else '?'} along dim 0"
        )
    scale = lam.sqrt()
    return l2_penalty([scale.view(-1, *[1] * (p.dim() - 1)) * p for p in tensors])
