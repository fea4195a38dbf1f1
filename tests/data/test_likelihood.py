"""The chapter-5 toy problems: shapes, seeding, and the distributions they claim to sample."""

from __future__ import annotations

import math

import pytest
import torch

from udl.data import (
    heteroscedastic_sine,
    heteroscedastic_std,
    outlier_line,
    plackett_luce_rankings,
    wrapped_angles,
)


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_outlier_line() -> None:
    x, y = outlier_line(1000, (0.5, 1.5), 0.1, generator=_g())
    assert x.shape == y.shape == (1000,) and x.dtype == torch.float64
    outliers = y > 7.5
    assert int(outliers.sum()) == 100 and bool((y[outliers] <= 10).all())
    residual = y[~outliers] - (0.5 + 1.5 * x[~outliers])
    assert float(residual.std()) == pytest.approx(0.1, rel=0.1)
    assert torch.equal(
        outlier_line(50, (0.0, 1.0), 0.2, generator=_g(3))[1],
        outlier_line(50, (0.0, 1.0), 0.2, generator=_g(3))[1],
    )
    with pytest.raises(ValueError, match="outlier_fraction"):
        outlier_line(10, (0.0, 1.0), 1.0)


def test_wrapped_angles() -> None:
    x, y, true = wrapped_angles(2000, generator=_g())
    assert bool((y >= -math.pi).all() and (y < math.pi).all())
    torch.testing.assert_close(true, 1.0 + 4.0 * x)
    circular = torch.remainder(y - true + math.pi, 2 * math.pi) - math.pi  # noise, unwrapped
    assert float(circular.std()) == pytest.approx(0.2, rel=0.1)
    assert bool((true > math.pi).any())  # the data do cross the wrap


def test_heteroscedastic_sine() -> None:
    x, y = heteroscedastic_sine(20000, generator=_g())
    assert x.shape == y.shape == (20000, 1)
    torch.testing.assert_close(heteroscedastic_std(torch.tensor([-1.0, 1.0])), torch.tensor([0.05, 0.35]))
    z = (y - torch.sin(2 * x)) / heteroscedastic_std(x)  # standardized noise
    assert float(z.std()) == pytest.approx(1.0, rel=0.05)


def test_plackett_luce_rankings_first_choice_probabilities() -> None:
    scores = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    rankings = plackett_luce_rankings(scores, 40000, generator=_g())
    assert rankings.shape == (40000, 3)
    assert bool((rankings.sort(dim=1).values == torch.arange(3)).all())  # permutations
    first = torch.bincount(rankings[:, 0], minlength=3).double() / 40000
    torch.testing.assert_close(first, torch.softmax(scores, 0), atol=0.01, rtol=0)  # P(first = i) = softmax
    with pytest.raises(ValueError, match="1-D"):
        plackett_luce_rankings(scores.reshape(1, 3), 5)
