"""The deep upper bound on linear regions: its formula, and that no measured count exceeds it."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from udl.functional import count_regions_1d, deep_max_regions_upper_bound, zaslavsky_max_regions
from udl.nn import MLP, sawtooth_mlp


def test_one_layer_is_zaslavsky() -> None:
    for d_in, width in itertools.product(range(1, 4), range(1, 9)):
        assert deep_max_regions_upper_bound(d_in, [width]) == zaslavsky_max_regions(d_in, width)


def test_closed_forms() -> None:
    assert deep_max_regions_upper_bound(1, [3, 4, 5]) == 4 * 5 * 6  # 1-D input: product of (D_l + 1)
    # a bottleneck of width 1 limits later layers to 1-D arrangements
    assert deep_max_regions_upper_bound(3, [5, 1, 4]) == zaslavsky_max_regions(3, 5) * 2 * 5
    expected = math.prod(sum(math.comb(8, j) for j in range(3)) for _ in range(3))
    assert deep_max_regions_upper_bound(2, [8, 8, 8]) == expected


@pytest.mark.parametrize(("width", "depth"), [(2, 4), (3, 3), (5, 2)])
def test_measured_counts_never_exceed_it(width: int, depth: int) -> None:
    bound = deep_max_regions_upper_bound(1, [width] * depth)
    assert (
        count_regions_1d(sawtooth_mlp(width, depth, dtype=torch.float64), 1e-9, 1 - 1e-9, num=50_000) <= bound
    )
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        net = MLP(1, [width] * depth, 1, init="torch", generator=g, dtype=torch.float64)
        assert count_regions_1d(net, -20.0, 20.0, num=50_000) <= bound


@pytest.mark.parametrize("widths", [[], [0]])
def test_bad_arguments(widths: list[int]) -> None:
    with pytest.raises(ValueError):
        deep_max_regions_upper_bound(1, widths)
