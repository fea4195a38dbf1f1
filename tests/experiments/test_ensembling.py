"""Verdict functions of the ensembling experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from udl.experiments.ch09.ensembling import (
    Config,
    beats_best_member,
    beats_every_member,
    falls_with_size,
    size_verdict,
)
from udl.stats import Verdict


def test_beats_every_member() -> None:
    assert beats_every_member(torch.tensor([0.1, 0.2]), torch.tensor([0.15, 0.25]))
    assert not beats_every_member(
        torch.tensor([0.1, 0.3]), torch.tensor([0.15, 0.25])
    )  # one training set lost


def test_beats_best_member_paired_over_examples() -> None:
    member = torch.tensor([1, 1, 0, 1, 0, 1, 1, 0, 1, 1] * 20)
    better = torch.tensor([0, 1, 0, 0, 0, 1, 0, 0, 1, 0] * 20)
    assert beats_best_member(member, better).verdict is Verdict.HOLDS
    assert beats_best_member(member, member).verdict is Verdict.FAILS
    assert beats_best_member(better, member).verdict is Verdict.FAILS


def test_falls_with_size() -> None:
    assert falls_with_size([0.5, 0.4, 0.35, 0.34], 0.05)
    assert not falls_with_size([0.5, 0.4, 0.45, 0.34], 0.05)  # a step up of 0.05 > 5% of the 0.16 fall
    assert not falls_with_size([0.4, 0.4, 0.4], 0.05)  # flat


def test_size_verdict_needs_the_trend_and_the_paired_ends() -> None:
    first = torch.tensor([0.5, 0.52, 0.49, 0.51])
    last = torch.tensor([0.30, 0.31, 0.29, 0.30])
    assert size_verdict([0.5, 0.4, 0.3], first, last, 0.05) is Verdict.HOLDS
    assert size_verdict([0.5, 0.6, 0.3], first, last, 0.05) is Verdict.FAILS
    assert size_verdict([0.5, 0.4, 0.3], last, first, 0.05) is Verdict.FAILS


@pytest.mark.parametrize(
    "change",
    [{"members": 1}, {"datasets": 0}, {"subsets": 0}, {"train_split": 1.0}, {"trend_tolerance": 1.0}],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
