"""The reparameterization experiment's verdicts, reference gradient and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch17.reparameterization import (
    Config,
    exact_gradient,
    expectation,
    far_lower_verdict,
    lower_verdict,
)
from udl.stats import Verdict


def test_exact_gradient_matches_the_notebook_values() -> None:
    """Notebook 17.2 prints (Monte Carlo with 1e7 draws, so within ~3 SE = 4e-3) E = 2.7650801613563116 at
    φ = 0.5 and 0.8176793102849222 at φ = −0.1, and ∂E/∂φ = 5.726338035051403 at φ = 0.5."""
    phi = torch.tensor([0.5, -0.1], dtype=torch.float64)
    expected = torch.tensor([2.7650801613563116, 0.8176793102849222], dtype=torch.float64)
    torch.testing.assert_close(expectation(phi), expected, rtol=0, atol=4e-3)
    assert abs(float(exact_gradient(phi[:1])) - 5.726338035051403) < 4e-3


def test_far_lower_verdict() -> None:
    low = [1.0, 1.1, 0.9, 1.05]
    assert far_lower_verdict([20.0, 22.0, 19.0, 21.0], low, 10.0) is Verdict.HOLDS
    assert far_lower_verdict([8.0, 9.0, 8.5, 8.7], low, 10.0) is Verdict.FAILS  # lower, but not 10x
    assert far_lower_verdict([10.0, 12.0, 8.0, 11.0], low, 10.0) is Verdict.NOT_ESTABLISHED
    assert lower_verdict([8.0, 9.0, 8.5, 8.7], low) is Verdict.HOLDS
    assert lower_verdict([0.9, 1.0, 0.8, 1.0], low) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"), [("phis", ()), ("phis", (5.0,)), ("samples", 1), ("seeds", 0), ("min_ratio", 0.5)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
