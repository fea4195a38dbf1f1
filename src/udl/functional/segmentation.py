"""Segmentation helpers (UDL sections 10.5.3, 11.5.3): boundary pixels of a label map (IoU is in ``udl.metrics``)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["boundary_pixels"]


def boundary_pixels(masks: Tensor) -> Tensor:
    """(N, H, W) bool: pixels of integer label maps with a 4-neighbour of another label (the border does not count).

    Example:
        >>> boundary_pixels(torch.tensor([[[0, 0, 1, 1]]])).int().tolist()
        [[[0, 1, 1, 0]]]
    """
    if masks.dim() != 3:
        raise ValueError(f"masks must be (N, H, W) label maps, got shape {tuple(masks.shape)}")
    edge = torch.zeros_like(masks, dtype=torch.bool)
    vertical = masks[:, 1:, :] != masks[:, :-1, :]
    horizontal = masks[:, :, 1:] != masks[:, :, :-1]
    edge[:, 1:, :] |= vertical
    edge[:, :-1, :] |= vertical
    edge[:, :, 1:] |= horizontal
    edge[:, :, :-1] |= horizontal
    return edge
