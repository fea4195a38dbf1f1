"""The grokking experiment's data, verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from udl.experiments.ch20.grokking import (
    Config,
    first_step,
    grokking_verdict,
    modular_addition,
    no_generalization_verdict,
)

INF = math.inf


def test_modular_addition_enumerates_every_pair() -> None:
    x, y = modular_addition(5)
    assert x.shape == (25, 10) and torch.equal(x.sum(1), torch.full((25,), 2.0))
    a, b = x[:, :5].argmax(1), x[:, 5:].argmax(1)
    assert torch.equal(y, (a + b) % 5) and len({(int(i), int(j)) for i, j in zip(a, b, strict=True)}) == 25


def test_first_step() -> None:
    assert first_step([50, 100, 150], [0.2, 0.96, 0.99], 0.95) == 100.0
    assert first_step([50, 100], [0.2, 0.5], 0.95) == INF


def test_grokking_verdict() -> None:
    assert grokking_verdict([100.0, 50.0], [2000.0, 1000.0], 2.0) is True
    assert grokking_verdict([100.0, 50.0], [150.0, 1000.0], 2.0) is False  # generalized with memorization
    assert grokking_verdict([100.0, 50.0], [INF, 1000.0], 2.0) is False  # never generalized
    with pytest.raises(ValueError):
        grokking_verdict([], [], 2.0)


def test_no_generalization_verdict() -> None:
    assert no_generalization_verdict([INF, INF]) is True
    assert no_generalization_verdict([INF, 3000.0]) is False


@pytest.mark.parametrize("change", [{"p": 2}, {"train_fraction": 1.0}, {"weight_decay": 0.0}, {"delay": 0.5}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
