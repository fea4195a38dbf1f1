"""Seeded validation splits: disjoint, complete, sorted, reproducible, validated."""

from __future__ import annotations

import pytest
import torch

from udl.data import validation_split


@pytest.mark.parametrize(("n", "num_val"), [(2, 1), (10, 3), (500, 100)])
def test_split_is_a_partition_of_the_training_indices(n: int, num_val: int) -> None:
    fit, val = validation_split(n, num_val, generator=torch.Generator().manual_seed(1))
    assert len(fit) == n - num_val and len(val) == num_val
    assert sorted(fit.tolist() + val.tolist()) == list(range(n))
    assert fit.tolist() == sorted(fit.tolist()) and val.tolist() == sorted(val.tolist())


def test_split_is_seeded() -> None:
    a = validation_split(100, 20, generator=torch.Generator().manual_seed(3))
    b = validation_split(100, 20, generator=torch.Generator().manual_seed(3))
    c = validation_split(100, 20, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


def test_every_example_is_held_out_about_equally_often() -> None:
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(10)
    for _ in range(2000):
        counts[validation_split(10, 3, generator=g)[1]] += 1
    assert float((counts / 2000 - 0.3).abs().max()) < 0.04  # uniform subset: each index with probability 3/10


@pytest.mark.parametrize(("n", "num_val"), [(1, 1), (10, 0), (10, 10), (10, -1)])
def test_split_rejects_empty_parts(n: int, num_val: int) -> None:
    with pytest.raises(ValueError, match="num_val"):
        validation_split(n, num_val, generator=torch.Generator())
