"""The ambiguity decomposition and the ensemble-size curve, against direct float64 computations."""

from __future__ import annotations

import itertools

import pytest
import torch

from udl.functional import ambiguity_decomposition, ensemble_size_curve


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
