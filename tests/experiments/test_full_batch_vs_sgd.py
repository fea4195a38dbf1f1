"""The full-batch-vs-sgd experiment's verdict and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from udl.experiments.ch20.full_batch_vs_sgd import Config, sgd_verdict
from udl.stats import Verdict


def test_sgd_verdict() -> None:
    sgd = torch.tensor([[0.30, 0.31, 0.29], [0.28, 0.29, 0.27]])
    assert sgd_verdict(sgd + 0.05, sgd)[0] is Verdict.HOLDS
    assert sgd_verdict(sgd, sgd + 0.05)[0] is Verdict.FAILS
    assert sgd_verdict(sgd, sgd)[0] is Verdict.FAILS
    noisy = sgd + torch.tensor([[0.10, -0.05, 0.0], [0.10, -0.05, 0.0]])
    assert sgd_verdict(noisy, sgd)[0] is Verdict.NOT_ESTABLISHED
    _, c = sgd_verdict(sgd + 0.05, sgd)
    assert c.diff == pytest.approx(0.05) and c.n == 3
    with pytest.raises(ValueError):
        sgd_verdict(sgd, sgd[:1])


@pytest.mark.parametrize("change", [{"widths": ()}, {"widths": (8, 8)}, {"batch_size": 5000}, {"lr": 0.0}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
