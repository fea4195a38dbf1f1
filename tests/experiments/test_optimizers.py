"""The optimizers experiment's verdicts: momentum vs GD on the quadratic, GD vs SGD at the saddle; its Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch06.optimizers import (
    SADDLE_LR,
    Config,
    escape_step,
    momentum_verdict,
    saddle_verdict,
)
from udl.functional import saddle_loss
from udl.optim import SGD, optimizer_path
from udl.stats import Verdict


def test_momentum_verdict() -> None:
    assert momentum_verdict(461, 46)
    assert not momentum_verdict(46, 461)
    assert not momentum_verdict(50, 50)
    assert not momentum_verdict(None, 46)  # GD never reached the tolerance: no comparison
    assert not momentum_verdict(461, None)


def test_escape_step_and_censoring() -> None:
    losses = torch.tensor([0.5, 0.0, -0.1, -0.3, -0.5])
    assert escape_step(losses) == 3
    assert escape_step(torch.zeros(7)) == 7  # never below −¼: censored at the path length


def test_saddle_verdict_states() -> None:
    assert saddle_verdict([92, 92, 92, 92, 92], [20, 20, 22, 37, 25]) is Verdict.HOLDS
    assert saddle_verdict([20, 21, 22, 23, 24], [92, 92, 92, 92, 92]) is Verdict.FAILS  # GD leaves first
    assert saddle_verdict([30, 30, 30], [30, 30, 30]) is Verdict.FAILS  # no difference
    assert saddle_verdict([31, 30, 30], [30, 31, 29]) is Verdict.NOT_ESTABLISHED


def _gd_escape(offset: float, steps: int = 300) -> int:
    path = optimizer_path(
        SGD,
        torch.tensor([1.0, offset], dtype=torch.float64),
        lambda p, t: saddle_loss(p),
        steps,
        lr=SADDLE_LR,
    )
    return escape_step(saddle_loss(path.T))


def test_gd_can_leave_the_saddle_so_the_claim_can_fail() -> None:
    # Off the stable line φ1 = 0, GD's φ1 grows by 1 + 2α per step: it leaves, later the closer it starts.
    near, far = _gd_escape(1e-4), _gd_escape(0.1)
    assert far < near < 300
    assert near - far == pytest.approx(
        torch.log(torch.tensor(1e3)).item() / torch.log1p(torch.tensor(0.1)).item(), abs=3
    )
    # an SGD that left later than this GD would make the claim fail
    assert saddle_verdict([far] * 3, [near, near + 1, near + 2]) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("condition", 1.0),
        ("tolerance", 1.0),
        ("gabor_batch", 0),
        ("gabor_batch", 29),
        ("saddle_batch", 65),
        ("saddle_points", 1),
        ("saddle_offset", 0.0),
        ("saddle_offset", 0.5),
        ("saddle_seeds", 0),
        ("warmup_epochs", 30),
    ],
)
def test_config_rejects(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
