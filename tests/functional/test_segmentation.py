"""boundary_pixels against a brute-force neighbour scan; iou_from_confusion against mask_iou."""

from __future__ import annotations

import pytest
import torch

from reference import gen
from udl.functional import boundary_pixels, confusion_matrix, iou_from_confusion, mask_iou


def test_boundary_pixels_brute_force() -> None:
    masks = torch.randint(0, 3, (2, 6, 7), generator=gen(0))
    edge = boundary_pixels(masks)
    for n in range(2):
        for i in range(6):
            for j in range(7):
                neighbours = [(i + di, j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))]
                inside = [(a, b) for a, b in neighbours if 0 <= a < 6 and 0 <= b < 7]
                assert bool(edge[n, i, j]) == any(masks[n, a, b] != masks[n, i, j] for a, b in inside)
    with pytest.raises(ValueError, match="N, H, W"):
        boundary_pixels(torch.zeros(4, 4))


def test_iou_from_confusion_is_mask_iou() -> None:
    target = torch.randint(0, 4, (3, 8, 8), generator=gen(1))
    pred = torch.where(
        torch.rand(3, 8, 8, generator=gen(2)) < 0.7, target, torch.randint(0, 3, (3, 8, 8), generator=gen(3))
    )
    torch.testing.assert_close(
        iou_from_confusion(confusion_matrix(pred, target, 5)),
        mask_iou(pred, target, 5).double(),
        equal_nan=True,
    )
    assert bool(iou_from_confusion(confusion_matrix(pred, target, 5))[4].isnan())  # absent everywhere
