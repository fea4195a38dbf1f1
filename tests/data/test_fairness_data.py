"""The synthetic fairness data set: its generative process measured back from a large sample."""

from __future__ import annotations

import pytest
import torch

from udl.data import fairness_tabular


def test_generative_process_is_measured_back() -> None:
    d = fairness_tabular(200_000, generator=torch.Generator().manual_seed(0))
    assert d.x.shape == (200_000, 5) and d.x.dtype == torch.float64 and len(d.feature_names) == 5
    assert float(d.a.double().mean()) == pytest.approx(0.3, abs=0.005)
    for g, rate, sep in ((0, 0.5, 2.0), (1, 0.3, 1.0)):
        m = d.a == g
        assert float(d.y[m].double().mean()) == pytest.approx(rate, abs=0.006)
        gap = d.z[m & (d.y == 1)].mean() - d.z[m & (d.y == 0)].mean()
        assert float(gap) == pytest.approx(sep, abs=0.03)
        assert float(d.z[m & (d.y == 1)].std()) == pytest.approx(1.0, abs=0.02)
    assert torch.allclose((d.x[:, :3] - d.z[:, None]).std(0), torch.ones(3, dtype=torch.float64), atol=0.01)
    assert float((d.x[:, 3] - d.a).std()) == pytest.approx(0.5, abs=0.01)
    assert abs(float(torch.corrcoef(torch.stack([d.x[:, 4], d.y.double()]))[0, 1])) < 0.01


def test_seeded_and_reproducible() -> None:
    a = fairness_tabular(100, generator=torch.Generator().manual_seed(3))
    b = fairness_tabular(100, generator=torch.Generator().manual_seed(3))
    c = fairness_tabular(100, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and not torch.equal(a.x, c.x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"group_fraction": 1.0},
        {"base_rates": (0.0, 0.5)},
        {"separation": (-1.0, 1.0)},
        {"informative": 0},
    ],
)
def test_bad_input(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        fairness_tabular(**{"n": 10, **kwargs})
