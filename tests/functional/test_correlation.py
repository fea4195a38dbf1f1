"""autocorrelation against numpy's np.correlate (notebook 11.1's computation), float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import F64, gen
from udl.functional import autocorrelation


@pytest.mark.parametrize("n", [5, 64, 257])
def test_autocorrelation_is_np_correlate_normalized(n: int) -> None:
    g = torch.randn(3, n, dtype=F64, generator=gen(n)).cumsum(-1)  # brown noise: strongly correlated
    rho = autocorrelation(g, n)
    for row, expected_row in zip(rho, g.numpy(), strict=True):
        c = expected_row - expected_row.mean()
        full = np.correlate(c, c, mode="full")[n - 1 :]
        np.testing.assert_allclose(row.numpy(), full / full[0], rtol=0, atol=1e-12)
    assert torch.all(rho[:, 0] == 1)


def test_white_noise_is_uncorrelated_and_errors() -> None:
    rho = autocorrelation(torch.randn(20000, dtype=F64, generator=gen(0)), 4)
    assert float(rho[1:].abs().max()) < 0.03
    assert torch.allclose(
        autocorrelation(torch.tensor([1.0, -1.0, 1.0, -1.0]), 2), torch.tensor([1.0, -0.75])
    )
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(torch.zeros(4), 5)
