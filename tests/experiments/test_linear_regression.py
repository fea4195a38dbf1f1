"""The linear-regression experiment's check helpers and Config: a non-finite loss stops the run."""

from __future__ import annotations

import pytest
import torch

from udl.errors import DivergenceError
from udl.experiments.ch02.linear_regression import Config, contraction_excess, largest_loss_increase


def test_largest_loss_increase() -> None:
    assert largest_loss_increase(torch.tensor([4.0, 2.0, 1.0, 0.5])) < 0  # every step lowers the loss
    assert largest_loss_increase(torch.tensor([4.0, 2.0, 3.0, 0.5])) == pytest.approx(0.25)  # one rise of 1/4


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_non_finite_loss_raises_at_its_step(bad: float) -> None:
    with pytest.raises(DivergenceError, match="step 2") as info:
        largest_loss_increase(torch.tensor([4.0, 2.0, bad, 1.0]))
    assert info.value.step == 2 and info.value.quantity == "training loss"
    with pytest.raises(DivergenceError, match="step 0"):
        largest_loss_increase(torch.full((5,), float("inf")))  # an overflowed start: no "0 increases"


def test_contraction_excess() -> None:
    d = 2.0 * 0.5 ** torch.arange(6, dtype=torch.float64)
    assert contraction_excess(d, 0.5) == pytest.approx(0.0)  # exactly on the bound
    assert contraction_excess(d, 0.6) == 0.0  # inside a looser bound (t = 0 is always on it)
    assert contraction_excess(d, 0.4) > 0  # slower than a rate of 0.4: the check fails


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", 1),
        ("lr_fraction", 1.0),
        ("lr_fraction", 0.0),
        ("steps", 0),
        ("noise_std", -1.0),
        ("tolerance", 0.0),
    ],
)
def test_config_rejects(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
