"""Tests of udl.data.toy: shapes, determinism, noise statistics and closed-form checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from udl.data import FUNCTIONS, linear_data, regression_1d, sine_exp_function


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("make", [linear_data, regression_1d])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(make, dtype):
    x, y = make(7, generator=_gen(0), dtype=dtype)
    assert x.shape == (7, 1) and y.shape == (7, 1)
    assert x.dtype == dtype and y.dtype == dtype
    assert torch.isfinite(x).all() and torch.isfinite(y).all()


def test_default_dtype_is_float32_and_default_sizes():
    x, y = linear_data()
    assert x.shape == (12, 1) and x.dtype == torch.float32
    x, y = regression_1d()
    assert x.shape == (15, 1) and y.dtype == torch.float32


@pytest.mark.parametrize("make", [linear_data, regression_1d])
def test_seeded_generator_is_deterministic(make):
    x1, y1 = make(50, generator=_gen(3))
    x2, y2 = make(50, generator=_gen(3))
    x3, y3 = make(50, generator=_gen(4))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3) and not torch.equal(y1, y3)


def test_global_rng_used_when_no_generator():
    torch.manual_seed(11)
    a = regression_1d(20)
    torch.manual_seed(11)
    b = regression_1d(20)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_linear_data_least_squares_recovers_parameters_at_zero_noise():
    x, y = linear_data(30, phi0=-0.7, phi1=1.9, noise_std=0.0, generator=_gen(1), dtype=torch.float64)
    design = np.hstack([np.ones((30, 1)), x.numpy()])
    (phi0, phi1), *_ = np.linalg.lstsq(design, y.numpy()[:, 0], rcond=None)
    assert phi0 == pytest.approx(-0.7, abs=1e-10)
    assert phi1 == pytest.approx(1.9, abs=1e-10)


def test_linear_data_noise_and_range():
    x, y = linear_data(20000, phi0=0.8, phi1=0.5, noise_std=0.2, x_range=(-1.0, 3.0), generator=_gen(2))
    assert x.min() >= -1.0 and x.max() <= 3.0
    assert x.mean().item() == pytest.approx(1.0, abs=0.05)  # U(-1, 3) has mean 1
    residual = (y - (0.8 + 0.5 * x)).double()
    assert residual.std().item() == pytest.approx(0.2, rel=0.03)
    assert residual.mean().item() == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_regression_1d_residual_statistics(name):
    n, sigma = 20000, 0.3
    x, y = regression_1d(n, function=name, noise_std=sigma, generator=_gen(5), dtype=torch.float64)
    residual = y - FUNCTIONS[name](x)
    # the sample std of n Gaussians has relative standard error ~ 1/sqrt(2n) = 0.5 %
    assert residual.std().item() == pytest.approx(sigma, rel=0.03)
    assert residual.mean().item() == pytest.approx(0.0, abs=4 * sigma / math.sqrt(n))


def test_regression_1d_zero_noise_is_the_function():
    x, y = regression_1d(40, noise_std=0.0, generator=_gen(0), dtype=torch.float64)
    expected = np.exp(np.sin(2 * np.pi * x.numpy()))  # independent numpy evaluation
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)


def test_sine_exp_function_known_values():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64)
    expected = torch.tensor([1.0, math.e, 1.0, 1 / math.e, 1.0], dtype=torch.float64)
    torch.testing.assert_close(sine_exp_function(x), expected)


def test_other_functions_known_values():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64)
    torch.testing.assert_close(
        FUNCTIONS["sine"](x), torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        FUNCTIONS["abs"](x), torch.tensor([1.0, 0.5, 0.0, 0.5, 1.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        FUNCTIONS["step"](x), torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    )


def test_sampling_modes():
    x, _ = regression_1d(11, sampling="grid", x_range=(-2.0, 3.0), dtype=torch.float64)
    np.testing.assert_allclose(x.numpy()[:, 0], np.linspace(-2.0, 3.0, 11))
    # stratified: exactly one point in each of the n equal bins, as in the book's notebook 8.2
    n = 15
    x, _ = regression_1d(n, sampling="stratified", generator=_gen(9), dtype=torch.float64)
    bins = np.floor(x.numpy()[:, 0] * n).astype(int)
    assert bins.tolist() == list(range(n))
    x, _ = regression_1d(1000, sampling="uniform", x_range=(2.0, 4.0), generator=_gen(9))
    assert x.min() >= 2.0 and x.max() <= 4.0
    assert not torch.equal(x, x.sort(dim=0).values)


def test_custom_callable_function():
    x, y = regression_1d(10, function=lambda t: 3 * t, noise_std=0.0, generator=_gen(0))
    torch.testing.assert_close(y, 3 * x)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 0}, "n"),
        ({"n": 2.5}, "n"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"noise_std": float("nan")}, "noise_std"),
        ({"x_range": (1.0, 1.0)}, "x_range"),
        ({"x_range": (0.0, float("inf"))}, "x_range"),
        ({"x_range": (1.0,)}, "x_range"),
        ({"dtype": torch.int64}, "dtype"),
    ],
)
@pytest.mark.parametrize("make", [linear_data, regression_1d])
def test_bad_inputs_raise_naming_the_field(make, kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} "):
        make(**kwargs)


def test_unknown_function_and_sampling_list_valid_choices():
    with pytest.raises(ValueError, match=r"unknown function 'gabor'.*sine_exp, sine, abs, step"):
        regression_1d(function="gabor")
    with pytest.raises(ValueError, match=r"unknown sampling 'sobol'.*uniform, grid, stratified"):
        regression_1d(sampling="sobol")  # type: ignore[arg-type]
