"""boundary_pixels against a brute-force neighbour scan."""

from __future__ import annotations

import pytest
import torch

from reference import gen
from udl.functional import boundary_pixels


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
