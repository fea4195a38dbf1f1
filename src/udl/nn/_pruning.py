r"""Magnitude pruning with rewind: the lottery-ticket procedure (UDL section 20.4.3; Frankle & Carbin, 2019).

Iterative magnitude pruning trains a network, removes the fraction ``amount`` of each layer's *remaining* weights
with the smallest magnitude, **rewinds** the surviving weights to their initial values and trains again; the
masked sub-network ("winning ticket") often trains to the dense network's accuracy. The masks follow
``torch.nn.utils.prune.l1_unstructured`` applied repeatedly (``round(amount · remaining)`` entries per call,
only among entries not yet pruned), so a test can compare the two.

Example:
    >>> import torch
    >>> w = torch.tensor([[0.1, -2.0], [0.5, -0.05]])
    >>> magnitude_masks([w], 0.5)[0]
    tensor([[False,  True],
            [ True, False]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

__all__ = ["magnitude_masks", "mask_sparsity", "rewind"]


def magnitude_masks(
    weights: Sequence[Tensor], amount: float, masks: Sequence[Tensor] | None = None
) -> list[Tensor]:
    """Per-layer masks (bool, True = kept) that prune ``round(amount · k)`` more entries of each weight tensor,
    the smallest |w| among its k entries still kept by ``masks`` (all entries when ``masks`` is None).

    Args:
        weights: the trained weight tensors, one per pruned layer.
        amount: fraction in [0, 1] of each layer's remaining weights to prune.
        masks: the current masks (same shapes), or None for none yet.
    """
    if not 0 <= amount <= 1:
        raise ValueError(f"amount must be a fraction in [0, 1], got {amount}")
    if masks is None:
        masks = [torch.ones_like(w, dtype=torch.bool) for w in weights]
    if len(masks) != len(weights) or any(m.shape != w.shape for m, w in zip(masks, weights, strict=False)):
        raise ValueError("masks must match weights one to one, with the same shapes")
    out = []
    for w, m in zip(weights, masks, strict=True):
        k = round(amount * int(m.sum()))
        score = (
            w.detach().abs().flatten().masked_fill(~m.flatten(), float("inf"))
        )  # pruned entries stay pruned
        new = m.flatten().clone()
        if k:
            new[torch.topk(score, k, largest=False).indices] = False
        out.append(new.view_as(m))
    return out


def rewind(
    model: nn.Module, state: Mapping[str, Tensor], layers: Sequence[nn.Module], masks: Sequence[Tensor]
) -> None:
    """The lottery-ticket rewind: reset ``model`` to ``state`` (its initial ``state_dict``, unpruned) and attach
    ``masks`` to the ``weight`` of each of ``layers`` (modules of ``model``) with
    ``torch.nn.utils.prune.custom_from_mask``: ``weight = weight_orig * weight_mask``, so the pruned entries stay
    zero through any training loop (their gradient is zero). A model pruned before is unpruned first."""
    if len(layers) != len(masks):
        raise ValueError(f"need one mask per layer, got {len(masks)} masks for {len(layers)} layers")
    for layer in layers:
        if prune.is_pruned(layer) and hasattr(layer, "weight_orig"):
            prune.remove(layer, "weight")
    model.load_state_dict(state)
    for layer, mask in zip(layers, masks, strict=True):
        prune.custom_from_mask(layer, "weight", mask)


def mask_sparsity(masks: Sequence[Tensor]) -> float:
    """The fraction of entries pruned over all masks."""
    total = sum(m.numel() for m in masks)
    if total == 0:
        raise ValueError("mask_sparsity needs at least one entry")
    return 1.0 - sum(int(m.sum()) for m in masks) / total
