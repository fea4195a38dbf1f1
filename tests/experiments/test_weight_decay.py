"""Selection and verdict functions of the weight-decay experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from udl.experiments.ch09.weight_decay import (
    Config,
    apart_verdict,
    choose_lambda,
    shrink_verdict,
    underfit_verdict,
)
from udl.stats import Verdict


def test_choose_lambda_uses_the_seed_mean_validation_error() -> None:
    val = torch.tensor([[0.30, 0.32], [0.25, 0.35], [0.27, 0.28]])  # means 0.31, 0.30, 0.275
    assert choose_lambda(val) == 2
    assert choose_lambda(torch.tensor([[0.2, 0.2], [0.2, 0.2]])) == 0  # ties: the first (smallest λ)


def test_shrink_verdict() -> None:
    norm = torch.tensor([[12.0, 12.2, 11.9], [11.0, 11.1, 10.8], [9.0, 9.2, 8.9]])
    assert shrink_verdict(norm) is Verdict.HOLDS
    assert shrink_verdict(norm.flip(0)) is Verdict.FAILS
    assert shrink_verdict(torch.tensor([[12.0, 12.0], [12.0, 11.0]])) is Verdict.NOT_ESTABLISHED


def test_underfit_verdict() -> None:
    train_base, train_big = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.30, 0.32, 0.31])
    test_chosen, test_big = torch.tensor([0.30, 0.31, 0.29]), torch.tensor([0.45, 0.46, 0.44])
    assert underfit_verdict(train_big, train_base, test_big, test_chosen, 0.1) is Verdict.HOLDS
    # training error up by only 5 points: not "no longer fits"
    assert underfit_verdict(train_base + 0.05, train_base, test_big, test_chosen, 0.1) is Verdict.FAILS
    assert underfit_verdict(train_big, train_base, test_chosen, test_chosen, 0.1) is Verdict.FAILS


def test_apart_verdict() -> None:
    far, near = torch.tensor([0.5, 0.52, 0.49]), torch.tensor([0.02, 0.03, 0.02])
    assert apart_verdict([far, far], 0.1) is Verdict.HOLDS
    assert apart_verdict([far, near], 0.1) is Verdict.FAILS


@pytest.mark.parametrize(
    "change",
    [
        {"lambdas": (1e-3, 1e-2)},
        {"lambdas": (0.0,)},
        {"lambdas": (0.0, -1.0)},
        {"num_val": 0},
        {"num_test": 3605},
        {"adam_weight_decays": ()},
        {"hidden": (0,)},
    ],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
