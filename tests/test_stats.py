"""spearman against its definition: Pearson correlation of average ranks, computed by brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

from udl.stats import average_ranks, spearman


def _brute_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for _, group in itertools.groupby(enumerate(order), key=lambda p: values[p[1]]):
        members = list(group)
        mean = sum(pos for pos, _ in members) / len(members)
        for _, i in members:
            ranks[i] = mean
    return ranks


@pytest.mark.parametrize("seed", range(5))
def test_matches_pearson_of_brute_force_ranks(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 4, (12,), generator=g).tolist()  # ties on purpose
    b = torch.randn(12, generator=g, dtype=torch.float64).tolist()
    ra = torch.tensor(_brute_ranks(a), dtype=torch.float64)
    rb = torch.tensor(_brute_ranks(b), dtype=torch.float64)
    assert average_ranks(a).tolist() == ra.tolist()
    expected = float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])
    assert spearman(a, b) == pytest.approx(expected, abs=1e-12)


def test_monotone_and_constant_cases() -> None:
    assert spearman([1, 2, 3, 4], [10.0, 5.0, 1.0, 0.5]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [2.0, 2.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="one length"):
        spearman([1, 2], [1.0, 2.0, 3.0])
