"""udl.functional.ensembles: bootstrap samples and the book's ways of combining members (UDL section 9.3.2)."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
import torch

from reference import F64, gen
from udl.functional import (
    bootstrap_indices,
    bootstrap_samples,
    ensemble_mean,
    ensemble_median,
    majority_vote,
    mean_probabilities,
)


def test_bootstrap_indices_are_deterministic_under_a_generator() -> None:
    a = bootstrap_indices(50, 8, generator=gen(0))
    b = bootstrap_indices(50, 8, generator=gen(0))
    c = bootstrap_indices(50, 8, generator=gen(1))
    assert a.shape == (8, 50) and a.dtype == torch.int64
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) < 50
    with pytest.raises(ValueError, match="n and members"):
        bootstrap_indices(0, 3)


def test_bootstrap_samples_draw_with_replacement_at_the_expected_rate() -> None:
    # Each index is an independent uniform draw: E[#distinct] = n (1 − (1 − 1/n)^n), and every example is drawn
    # n·members/n = members times on average. Both checked within 5 standard errors over 4000 samples.
    n, m = 20, 4000
    idx = bootstrap_indices(n, m, generator=gen(2))
    distinct = torch.tensor([len(set(row.tolist())) for row in idx], dtype=F64)
    expected = n * (1 - (1 - 1 / n) ** n)
    assert abs(float(distinct.mean()) - expected) <= 5 * float(distinct.std()) / math.sqrt(m)
    counts = torch.bincount(idx.flatten(), minlength=n).to(F64)  # Binomial(n·m, 1/n) per example
    sd = math.sqrt(n * m * (1 / n) * (1 - 1 / n))
    assert ((counts - m).abs() <= 5 * sd).all()


@pytest.mark.parametrize("members", [1, 4, 5])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_mean_and_median_equal_numpy(members: int, dim: int) -> None:
    shape = [3, 6, 2]
    shape[dim] = members
    x = torch.randn(*shape, dtype=F64, generator=gen(3))
    np.testing.assert_allclose(
        ensemble_mean(x, dim).numpy(), np.mean(x.numpy(), axis=dim), rtol=1e-14, atol=1e-16
    )
    # numpy.median averages the two middle values for an even count (torch.median would take the lower one)
    np.testing.assert_allclose(
        ensemble_median(x, dim).numpy(), np.median(x.numpy(), axis=dim), rtol=1e-14, atol=1e-16
    )


def test_majority_vote_equals_counting_with_ties_to_the_smallest_class() -> None:
    labels = torch.randint(0, 4, (6, 300), generator=gen(4))  # 6 members: ties are common
    votes = majority_vote(labels, num_classes=4)
    for j in range(labels.shape[1]):
        counts = collections.Counter(labels[:, j].tolist())
        top = max(counts.values())
        assert int(votes[j]) == min(c for c, k in counts.items() if k == top)
    assert torch.equal(majority_vote(labels.T, dim=1), votes)
    with pytest.raises(ValueError, match="integer"):
        majority_vote(labels.float())
    with pytest.raises(ValueError, match="lie in"):
        majority_vote(labels, num_classes=3)


def test_mean_probabilities_is_the_average_softmax() -> None:
    logits = torch.randn(5, 7, 10, dtype=F64, generator=gen(5))
    e = torch.exp(logits - logits.amax(dim=-1, keepdim=True))
    expected = (e / e.sum(dim=-1, keepdim=True)).mean(dim=0)
    torch.testing.assert_close(mean_probabilities(logits), expected, rtol=1e-14, atol=1e-16)
    torch.testing.assert_close(mean_probabilities(logits).sum(-1), torch.ones(7, dtype=F64))


def test_ensemble_mean_error_is_the_average_error_minus_the_spread() -> None:
    # The ambiguity decomposition (Krogh & Vedelsby, 1995): for squared error,
    # (1/M) Σ_m (f_m − y)² = (f̄ − y)² + (1/M) Σ_m (f_m − f̄)², so the mean never does worse than the average
    # member and does better by exactly the members' spread. An identity, checked to rounding.
    f = torch.randn(7, 40, dtype=F64, generator=gen(6))
    y = torch.randn(40, dtype=F64, generator=gen(7))
    mean = ensemble_mean(f)
    lhs = ((f - y) ** 2).mean(dim=0)
    rhs = (mean - y) ** 2 + ((f - mean) ** 2).mean(dim=0)
    torch.testing.assert_close(lhs, rhs, rtol=1e-14, atol=1e-14)


def test_combined_labels() -> None:
    from udl.functional import CLASSIFIER_COMBINATIONS, combined_labels, ensemble_mean, majority_vote

    logits = torch.randn(2, 4, 6, 3, generator=torch.Generator().manual_seed(0))  # (R, K, N, C)
    assert torch.equal(
        combined_labels(logits, "mean_logits", dim=-3), ensemble_mean(logits, dim=1).argmax(-1)
    )
    probabilities = torch.softmax(logits, dim=-1).mean(dim=1).argmax(-1)
    assert torch.equal(combined_labels(logits, "mean_probabilities", dim=1), probabilities)
    votes = majority_vote(logits.argmax(-1), 3, dim=1)
    assert torch.equal(combined_labels(logits, "majority_vote", dim=-3), votes)
    assert torch.equal(combined_labels(logits, "majority_vote", dim=1), votes)
    assert set(CLASSIFIER_COMBINATIONS) == {"mean_logits", "mean_probabilities", "majority_vote"}
    with pytest.raises(ValueError):
        combined_labels(logits, "median")
    with pytest.raises(ValueError):
        combined_labels(logits, "mean_logits", dim=-1)


def test_bootstrap_samples_index_every_tensor_by_one_draw() -> None:
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10) * 2
    xb, yb = bootstrap_samples((x, y), 3, generator=gen(4))
    idx = bootstrap_indices(10, 3, generator=gen(4))
    assert xb.shape == (3, 10, 1) and yb.shape == (3, 10)
    assert torch.equal(xb, x[idx]) and torch.equal(yb, y[idx])
    assert torch.equal(yb, 2 * xb.squeeze(-1).long())  # the same rows for both tensors
    with pytest.raises(ValueError):
        bootstrap_samples((x, y[:5]), 3)
    with pytest.raises(ValueError):
        bootstrap_samples((), 3)
