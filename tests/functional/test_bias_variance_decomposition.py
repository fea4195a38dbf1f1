"""udl.functional.bias_variance: notebook 8.2's fixed-joint models, batched fits, the decomposition, Monte Carlo."""

from __future__ import annotations

import math

import pytest
import torch

from udl.data.toy import regression_1d
from udl.functional import (
    bias_variance_decomposition,
    bias_variance_per_dataset,
    fit_fixed_joint_models,
    fixed_joint_features,
    monte_carlo_test_error,
    predict_fixed_joint_models,
)


def _datasets(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    sets = [
        regression_1d(15, sampling="stratified", generator=generator, dtype=torch.float64)
        for _ in range(count)
    ]
    return torch.stack([s[0] for s in sets]), torch.stack([s[1] for s in sets])


def test_fixed_joint_features_are_the_notebook_units() -> None:
    x = torch.tensor([[0.1], [0.3], [0.9]], dtype=torch.float64)
    design = fixed_joint_features(x, 4)  # joints at 0, 1/4, 1/2, 3/4
    assert design.shape == (3, 5)
    expected = torch.tensor(
        [[1, 0.1, 0, 0, 0], [1, 0.3, 0.05, 0, 0], [1, 0.9, 0.65, 0.4, 0.15]], dtype=torch.float64
    )
    torch.testing.assert_close(design, expected)
    with pytest.raises(ValueError, match="units"):
        fixed_joint_features(x, 0)


@pytest.mark.parametrize("units", [1, 3, 7, 12])
def test_batched_fit_equals_a_loop_of_lstsq(units: int) -> None:
    x, y = _datasets(20, torch.Generator().manual_seed(units))
    phi, rank = fit_fixed_joint_models(x, y, units)
    assert phi.shape == (20, units + 1, 1) and rank.shape == (20,)
    for s in range(20):
        design = fixed_joint_features(x[s], units)
        expected = torch.linalg.lstsq(design, y[s]).solution  # one data set at a time, default driver
        torch.testing.assert_close(phi[s], expected, rtol=1e-8, atol=1e-8)
        # and it is the least-squares solution: the residual is orthogonal to the columns (normal equations)
        residual = y[s] - design @ phi[s]
        assert float((design.T @ residual).abs().max()) < 1e-9
    assert bool((rank == units + 1).all())  # stratified inputs: full rank up to D = 14


def test_rank_deficient_design_gives_the_minimum_norm_solution() -> None:
    # every input below 1/2: with D = 2 the second unit relu(x − 1/2) is zero on all points
    x = torch.linspace(0.05, 0.45, 6, dtype=torch.float64).reshape(1, 6, 1)
    y = torch.sin(x)
    phi, rank = fit_fixed_joint_models(x, y, 2)
    assert int(rank[0]) == 2
    torch.testing.assert_close(phi[0], torch.linalg.pinv(fixed_joint_features(x[0], 2)) @ y[0])
    assert float(phi[0, 2, 0]) == pytest.approx(0.0, abs=1e-12)


def test_predict_shapes_and_values() -> None:
    phi = torch.tensor([[[1.0], [2.0], [-4.0]]], dtype=torch.float64)  # β = 1, ω = (2, −4), joints 0, 1/2
    grid = torch.tensor([[0.0], [0.5], [1.0]], dtype=torch.float64)
    expected = torch.tensor([[1.0, 2.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(predict_fixed_joint_models(phi, grid, 2), expected)


def test_decomposition_identity_by_brute_force() -> None:
    generator = torch.Generator().manual_seed(0)
    predictions = torch.randn(5, 4, generator=generator, dtype=torch.float64)  # 5 data sets, 4 test inputs
    truth = torch.randn(4, generator=generator, dtype=torch.float64)
    sigma = 0.3
    p = predictions.tolist()
    f = truth.tolist()
    mean = [sum(p[s][g] for s in range(5)) / 5 for g in range(4)]
    bias2 = sum((mean[g] - f[g]) ** 2 for g in range(4)) / 4
    variance = sum((p[s][g] - mean[g]) ** 2 for s in range(5) for g in range(4)) / 20
    error = sum((p[s][g] - f[g]) ** 2 for s in range(5) for g in range(4)) / 20 + sigma**2
    terms = bias_variance_decomposition(predictions, truth, sigma)
    assert terms.bias2 == pytest.approx(bias2, rel=1e-12)
    assert terms.variance == pytest.approx(variance, rel=1e-12)
    assert terms.noise == pytest.approx(sigma**2)
    assert terms.error == pytest.approx(error, rel=1e-12)
    # the identity: expected test error = bias² + variance + noise
    assert terms.error == pytest.approx(terms.bias2 + terms.variance + terms.noise, rel=1e-12)


def test_per_dataset_shares_average_to_the_terms() -> None:
    generator = torch.Generator().manual_seed(3)
    predictions = torch.randn(7, 11, generator=generator, dtype=torch.float64)
    truth = torch.randn(11, generator=generator, dtype=torch.float64)
    b, v = bias_variance_per_dataset(predictions, truth)
    assert b.shape == v.shape == (7,)
    terms = bias_variance_decomposition(predictions, truth, 0.0)
    assert float(b.mean()) == pytest.approx(terms.bias2, rel=1e-12)
    assert float(v.mean()) == pytest.approx(terms.variance, rel=1e-12)
    # brute force for one data set
    p, f = predictions.tolist(), truth.tolist()
    mean = [sum(p[s][g] for s in range(7)) / 7 for g in range(11)]
    v0 = sum((p[0][g] - mean[g]) ** 2 for g in range(11)) / 11
    b0 = sum((mean[g] - f[g]) ** 2 + 2 * (p[0][g] - mean[g]) * (mean[g] - f[g]) for g in range(11)) / 11
    assert float(v[0]) == pytest.approx(v0, rel=1e-12)
    assert float(b[0]) == pytest.approx(b0, rel=1e-12)


def test_monte_carlo_error_agrees_with_the_analytic_value() -> None:
    x, y = _datasets(50, torch.Generator().manual_seed(1))
    phi, _ = fit_fixed_joint_models(x, y, 5)
    grid = torch.linspace(0, 1, 201, dtype=torch.float64).unsqueeze(1)
    truth = torch.exp(torch.sin(2 * torch.pi * grid)).squeeze(1)
    predictions = predict_fixed_joint_models(phi, grid, 5)
    analytic = bias_variance_decomposition(predictions, truth, 0.3).error
    mc = monte_carlo_test_error(predictions, truth, 0.3, 40, torch.Generator().manual_seed(2))
    assert abs(mc.mean - analytic) < 4 * mc.se
    assert mc.se < 0.005 * analytic  # 50·201·40 targets
    with pytest.raises(ValueError, match="draws"):
        monte_carlo_test_error(predictions, truth, 0.3, 0)


def test_monte_carlo_standard_error_is_the_spread_of_repeats() -> None:
    # predictions fixed; repeat the Monte Carlo estimate many times: its s.d. is the stated SE
    predictions = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
    truth = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    generator = torch.Generator().manual_seed(4)
    repeats = [monte_carlo_test_error(predictions, truth, 0.5, 20, generator) for _ in range(2000)]
    means = torch.tensor([r.mean for r in repeats], dtype=torch.float64)
    # per term: 4σ²(f̂ − f)² + 2σ⁴ = (0.25, 0.25, 2.25) + 0.125 → mean 25/24; SE = √(25/24 / 60)
    assert repeats[0].se == pytest.approx(math.sqrt(25 / 24 / 60), rel=1e-12)
    assert float(means.std()) == pytest.approx(repeats[0].se, rel=0.1)
    assert float(means.mean()) == pytest.approx(
        bias_variance_decomposition(predictions, truth, 0.5).error, abs=0.01
    )
