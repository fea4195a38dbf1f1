"""The ambiguity decomposition, the ensemble-size curve and the ensembles' error summaries, against direct
computations."""

from __future__ import annotations

import itertools

import pytest
import torch

from reference import gen
from udl.functional import (
    CLASSIFIER_COMBINATIONS,
    ambiguity_decomposition,
    classifier_ensemble_errors,
    combined_labels,
    ensemble_mean,
    ensemble_median,
    ensemble_size_curve,
    ensemble_size_curves,
    regression_ensemble_errors,
)


def test_ambiguity_terms_match_loops_and_the_identity() -> None:
    g = torch.Generator().manual_seed(0)
    f, y = (
        torch.randn(5, 7, generator=g, dtype=torch.float64),
        torch.randn(7, generator=g, dtype=torch.float64),
    )
    d = ambiguity_decomposition(f, y)
    mean = f.mean(0)
    torch.testing.assert_close(d.member_error, sum((f[m] - y) ** 2 for m in range(5)) / 5)
    torch.testing.assert_close(d.ambiguity, sum((f[m] - mean) ** 2 for m in range(5)) / 5)
    torch.testing.assert_close(d.ensemble_error, (mean - y) ** 2)
    torch.testing.assert_close(d.ensemble_error, d.member_error - d.ambiguity, rtol=0, atol=1e-12)


def test_ambiguity_along_another_dim_with_a_broadcast_target() -> None:
    f = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)  # (S, M, G)
    y = torch.randn(6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    d = ambiguity_decomposition(f, y, dim=1)
    assert d.member_error.shape == (3, 6)
    for s in range(3):
        torch.testing.assert_close(d.ensemble_error[s], ambiguity_decomposition(f[s], y).ensemble_error)


def test_size_curve_enumerates_all_subsets_when_few() -> None:
    f = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)

    def score(z: torch.Tensor) -> torch.Tensor:  # (R, K, 1) -> (R,): squared error of the subset mean to 0
        return z.mean(dim=1).squeeze(-1) ** 2

    curve = ensemble_size_curve(f, score, subsets=10)
    expected = [
        sum(float(f[list(c)].mean()) ** 2 for c in itertools.combinations(range(3), k))
        / len(list(itertools.combinations(range(3), k)))
        for k in (1, 2, 3)
    ]
    assert curve == pytest.approx(expected)


def test_size_curve_samples_subsets_without_repeats_when_many() -> None:
    f = torch.arange(10, dtype=torch.float64).unsqueeze(1)
    seen: list[torch.Tensor] = []

    def score(z: torch.Tensor) -> torch.Tensor:
        seen.append(z)
        return z.mean(dim=(1, 2))

    ensemble_size_curve(f, score, subsets=4, generator=torch.Generator().manual_seed(0))
    assert [len(z) for z in seen] == [4] * 9 + [1]  # C(10, k) > 4 except k = 10
    assert all(len(set(row.squeeze(-1).tolist())) == row.shape[0] for z in seen for row in z)


def test_size_curve_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        ensemble_size_curve(torch.zeros(3, 1), lambda z: z.mean(dim=(1, 2)), subsets=0)


def test_ensemble_size_curves_is_the_curve_of_each_ensemble_in_turn() -> None:
    from udl.functional import ensemble_size_curve, ensemble_size_curves

    outputs = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(1))

    def score(z: torch.Tensor) -> torch.Tensor:
        return z.mean(dim=1).square().mean(dim=-1)

    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    curves = ensemble_size_curves(outputs, score, 4, g1)
    expected = [ensemble_size_curve(outputs[s], score, 4, g2) for s in range(3)]
    assert curves.dtype == torch.float64 and curves.shape == (3, 5)
    assert curves.tolist() == expected


def test_largest_step_up() -> None:
    from udl.functional import largest_step_up

    assert largest_step_up([0.5, 0.4, 0.45, 0.3]) == pytest.approx(0.05)
    assert largest_step_up([0.5, 0.4, 0.3]) == 0.0
    assert largest_step_up([1.0]) == 0.0


def test_regression_ensemble_errors_match_direct_computations() -> None:
    fits, truth = torch.randn(4, 5, 30, generator=gen(0)), torch.randn(30, generator=gen(1))
    r = regression_ensemble_errors(fits, truth, 3, gen(2))
    assert torch.equal(r.member_error, (fits - truth).pow(2).mean(-1))
    assert torch.equal(r.fit["median"], ensemble_median(fits, dim=1))
    assert torch.equal(r.error["mean"], (ensemble_mean(fits, dim=1) - truth).pow(2).mean(-1))
    assert torch.equal(r.best_member, r.member_error.min(dim=1).values)
    g = gen(2)  # the same draws: the means' curves first, then the medians'
    for name, combine in (("mean", ensemble_mean), ("median", ensemble_median)):
        expected = ensemble_size_curves(
            fits, lambda z, c=combine: (c(z, dim=1) - truth).pow(2).mean(-1), 3, g
        )
        assert torch.equal(r.size_curves[name], expected) and r.size_curves[name].shape == (4, 5)
    averages = r.averages()
    assert list(averages) == ["mean_mse", "median_mse", "best_member_mse", "average_member_mse"]
    assert averages["average_member_mse"] == float(r.member_error.mean())
    assert averages["median_mse"] >= 0 and averages["best_member_mse"] <= averages["average_member_mse"]


def test_classifier_ensemble_errors_match_combined_labels() -> None:
    logits, target = torch.randn(4, 50, 3, generator=gen(0)), torch.randint(0, 3, (50,), generator=gen(1))
    c = classifier_ensemble_errors(logits, target, 5, gen(2))
    assert torch.equal(c.member_wrong, (logits.argmax(-1) != target).double())
    assert list(c.wrong) == list(CLASSIFIER_COMBINATIONS) == list(c.error) == list(c.size_curves)
    for how in CLASSIFIER_COMBINATIONS:
        wrong = (combined_labels(logits, how) != target).double()
        assert torch.equal(c.wrong[how], wrong) and c.error[how] == pytest.approx(float(wrong.mean()))
        curve = c.size_curves[how]
        assert len(curve) == 4 and curve[-1] == pytest.approx(c.error[how])  # K = M: the one full subset
        assert curve[0] == pytest.approx(float(c.member_wrong.mean()))  # K = 1: each member (4 <= 5 subsets)
