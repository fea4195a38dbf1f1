"""The gan-1d experiment's verdicts, gradient identity and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch15.gan_1d import Config, Shift, _gradient_ratio_error, falls, faster
from udl.stats import Verdict


def test_falls() -> None:
    assert falls([4.5, 4.4, 4.6], [0.5, 0.7, 0.4]).verdict is Verdict.HOLDS
    assert falls([0.5, 0.7, 0.4], [4.5, 4.4, 4.6]).verdict is Verdict.FAILS  # it rose
    assert falls([1.0, 1.0, 1.0], [1.2, 0.7, 1.0]).verdict is Verdict.NOT_ESTABLISHED  # +0.03 ± 0.15
    assert falls([1.0], [0.5]).verdict is Verdict.NOT_ESTABLISHED  # one seed


def test_faster() -> None:
    assert faster([3.2, 3.3, 3.0], [0.1, 0.05, 0.08]).verdict is Verdict.HOLDS
    assert faster([0.1, 0.05, 0.08], [3.2, 3.3, 3.0]).verdict is Verdict.FAILS


def test_gradient_identity_and_shift() -> None:
    assert _gradient_ratio_error(torch.linspace(-4, 4, 9)) < 1e-12
    assert torch.equal(Shift(2.0)(torch.zeros(3)), torch.full((3,), 2.0))


@pytest.mark.parametrize(
    ("field", "value"),
    [("shift_lr", 0.0), ("lr", 2.0), ("mlp_steps", 0), ("log_every", 7), ("seeds", 0), ("width", 0)],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
