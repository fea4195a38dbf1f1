"""Tests of udl.losses.plackett_luce_nll against brute force over all rankings (float64)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor

from udl.losses import bernoulli_nll, categorical_nll, plackett_luce_nll

F64 = torch.float64


def _scores(n: int, seed: int, scale: float = 2.0) -> Tensor:
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _naive_probability(scores: list[float], ranking: tuple[int, ...]) -> float:
    """Π_j exp(s_{r_j}) / Σ_{items not yet ranked} exp(s), straight from the definition."""
    remaining = set(range(len(scores)))
    p = 1.0
    for item in ranking:
        p *= math.exp(scores[item]) / sum(math.exp(scores[k]) for k in remaining)
        remaining.remove(item)
    return p


@pytest.mark.parametrize("n", range(1, 7))
def test_full_rankings_match_product_formula_and_sum_to_one(n: int) -> None:
    scores = _scores(n, seed=n)
    rankings = list(itertools.permutations(range(n)))
    # scores (n,) broadcast against all n! rankings at once
    nll = plackett_luce_nll(scores, torch.tensor(rankings), reduction="none")
    assert nll.shape == (math.factorial(n),)
    probs = torch.exp(-nll)
    expected = torch.tensor([_naive_probability(scores.tolist(), r) for r in rankings], dtype=F64)
    torch.testing.assert_close(probs, expected, rtol=1e-12, atol=0.0)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("n", "k"), [(4, 1), (4, 2), (5, 2), (5, 3), (6, 4), (6, 5)])
def test_top_k_rankings_are_marginals_of_full_rankings(n: int, k: int) -> None:
    scores = _scores(n, seed=10 * n + k)
    tops = list(itertools.permutations(range(n), k))
    probs = torch.exp(-plackett_luce_nll(scores, torch.tensor(tops), reduction="none"))
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-12)
    full = list(itertools.permutations(range(n)))
    full_probs = torch.exp(-plackett_luce_nll(scores, torch.tensor(full), reduction="none"))
    marginal = {top: 0.0 for top in tops}
    for ranking, p in zip(full, full_probs.tolist(), strict=True):
        marginal[ranking[:k]] += p
    torch.testing.assert_close(
        probs, torch.tensor([marginal[t] for t in tops], dtype=F64), rtol=1e-12, atol=0.0
    )
    naive = torch.tensor([_naive_probability(scores.tolist(), t) for t in tops], dtype=F64)
    torch.testing.assert_close(probs, naive, rtol=1e-12, atol=0.0)


def test_top_one_is_softmax_and_pairs_are_logistic() -> None:
    scores = _scores(5, seed=0).expand(3, 5)
    first = torch.tensor([[4], [0], [2]])
    torch.testing.assert_close(
        plackett_luce_nll(scores, first, reduction="none"),
        categorical_nll(scores, first[:, 0], reduction="none"),
    )
    pair = _scores(2, seed=1)
    torch.testing.assert_close(
        plackett_luce_nll(pair, torch.tensor([1, 0])), bernoulli_nll(pair[1] - pair[0], torch.tensor(1.0))
    )


def test_batched_scores_and_rankings_with_reductions() -> None:
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 1, 6, generator=g, dtype=F64)
    rankings = torch.stack([torch.randperm(6, generator=g) for _ in range(3)])  # (3, 6)
    loss = plackett_luce_nll(scores, rankings, reduction="none")
    assert loss.shape == (4, 3)
    for i, j in itertools.product(range(4), range(3)):
        p = _naive_probability(scores[i, 0].tolist(), tuple(rankings[j].tolist()))
        assert float(loss[i, j]) == pytest.approx(-math.log(p), rel=1e-12)
    torch.testing.assert_close(plackett_luce_nll(scores, rankings, reduction="sum"), loss.sum())
    torch.testing.assert_close(plackett_luce_nll(scores, rankings), loss.mean())


def test_shift_invariant_and_stable_for_huge_scores() -> None:
    scores = _scores(6, seed=5)
    rankings = torch.tensor(list(itertools.permutations(range(6)))[::37])
    base = plackett_luce_nll(scores, rankings, reduction="none")
    for shift in (-1e4, 1e3, 1e5):  # exp(s) would overflow or underflow float64
        torch.testing.assert_close(
            plackett_luce_nll(scores + shift, rankings, reduction="none"), base, rtol=1e-9, atol=1e-9
        )
    # widely separated scores: the sorted ranking is almost sure, the reversed one costs Σ_j (max remaining − chosen)
    spread = torch.tensor([3e3, 2e3, 1e3, 0.0], dtype=F64)
    loss = plackett_luce_nll(spread, torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]), reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, (3e3 - 0) + (3e3 - 1e3) + (3e3 - 2e3)], dtype=F64))


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        (torch.tensor([0, 1, 1, 2]), r"must not list an item twice"),
        (torch.tensor([0, 1, 4, 2]), r"indices must be in 0\.\.3 .* n = 4 .* 0 to 4"),
        (torch.tensor([0, -1, 2, 3]), r"indices must be in 0\.\.3"),
        (torch.tensor([0, 1, 2, 3, 0]), r"between 1 and n = 4 items .* got 5"),
        (torch.tensor([0.0, 1.0, 2.0, 3.0]), r"integer tensor\); got dtype"),
        (torch.tensor(0), r"item dimension"),
    ],
)
def test_invalid_rankings_raise(ranking: Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plackett_luce_nll(torch.zeros(4, dtype=F64), ranking)


def test_bad_reduction_raises() -> None:
    with pytest.raises(ValueError, match=r"'mean', 'sum', 'none'; got 'batchmean'"):
        plackett_luce_nll(torch.zeros(3), torch.tensor([0, 1, 2]), reduction="batchmean")  # type: ignore[arg-type]
