"""The helpers of the bias-variance experiment: batched closed-form fits, the decomposition, the Monte Carlo error."""

from __future__ import annotations

import pytest
import torch

from udl.data.toy import regression_1d
from udl.experiments.ch08.bias_variance import (
    Config,
    decompose,
    fit_least_squares,
    hidden_features,
    monte_carlo_error,
    predict,
    trend,
)


def _datasets(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    sets = [
        regression_1d(15, sampling="stratified", generator=generator, dtype=torch.float64)
        for _ in range(count)
    ]
    return torch.stack([s[0] for s in sets]), torch.stack([s[1] for s in sets])


def test_hidden_features_are_the_notebook_units() -> None:
    x = torch.tensor([[0.1], [0.3], [0.9]], dtype=torch.float64)
    design = hidden_features(x, 4)  # joints at 0, 1/4, 1/2, 3/4
    assert design.shape == (3, 5)
    expected = torch.tensor(
        [[1, 0.1, 0, 0, 0], [1, 0.3, 0.05, 0, 0], [1, 0.9, 0.65, 0.4, 0.15]], dtype=torch.float64
    )
    torch.testing.assert_close(design, expected)


@pytest.mark.parametrize("units", [1, 3, 7, 12])
def test_batched_fit_equals_a_loop_of_lstsq(units: int) -> None:
    x, y = _datasets(20, torch.Generator().manual_seed(units))
    phi, rank = fit_least_squares(x, y, units)
    assert phi.shape == (20, units + 1, 1) and rank.shape == (20,)
    for s in range(20):
        design = hidden_features(x[s], units)
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
    phi, rank = fit_least_squares(x, y, 2)
    assert int(rank[0]) == 2
    torch.testing.assert_close(phi[0], torch.linalg.pinv(hidden_features(x[0], 2)) @ y[0])
    assert float(phi[0, 2, 0]) == pytest.approx(0.0, abs=1e-12)


def test_predict_shapes_and_values() -> None:
    phi = torch.tensor([[[1.0], [2.0], [-4.0]]], dtype=torch.float64)  # β = 1, ω = (2, −4), joints 0, 1/2
    grid = torch.tensor([[0.0], [0.5], [1.0]], dtype=torch.float64)
    torch.testing.assert_close(predict(phi, grid, 2), torch.tensor([[1.0, 2.0, 1.0]], dtype=torch.float64))


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
    terms = decompose(predictions, truth, sigma)
    assert terms.bias2 == pytest.approx(bias2, rel=1e-12)
    assert terms.variance == pytest.approx(variance, rel=1e-12)
    assert terms.noise == pytest.approx(sigma**2)
    assert terms.error == pytest.approx(error, rel=1e-12)
    # the identity: expected test error = bias² + variance + noise
    assert terms.error == pytest.approx(terms.bias2 + terms.variance + terms.noise, rel=1e-12)


def test_monte_carlo_error_agrees_with_the_analytic_value() -> None:
    x, y = _datasets(50, torch.Generator().manual_seed(1))
    phi, _ = fit_least_squares(x, y, 5)
    grid = torch.linspace(0, 1, 201, dtype=torch.float64).unsqueeze(1)
    truth = torch.exp(torch.sin(2 * torch.pi * grid)).squeeze(1)
    predictions = predict(phi, grid, 5)
    analytic = decompose(predictions, truth, 0.3).error
    measured = monte_carlo_error(predictions, truth, 0.3, 40, torch.Generator().manual_seed(2))
    # 50·201·40 targets: the Monte Carlo standard error is well below 0.5%
    assert measured == pytest.approx(analytic, rel=0.01)


def test_trend() -> None:
    falling = trend([4.0, 3.0, 3.5, 1.0], -1)
    assert falling.change == 3.0 and falling.largest_counter_step == 0.5 and falling.counter_steps == 1
    rising = trend([1.0, 2.0, 3.0], +1)
    assert rising.change == 2.0 and rising.largest_counter_step == 0.0 and rising.counter_steps == 0


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="units"):
        Config(units=(3, 1))
    with pytest.raises(ValueError, match="units"):
        Config(units=(4,))
    with pytest.raises(ValueError, match="noise_std"):
        Config(noise_std=0.0)
    with pytest.raises(ValueError, match="datasets"):
        Config(datasets=1)
