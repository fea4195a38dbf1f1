"""Verdicts and config of the adversarial experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.adversarial import Config, collapse_verdict
from udl.stats import Verdict


def test_collapse_verdict() -> None:
    # accuracy over ε = (0, 0.05, 0.1, 0.2), two seeds
    collapsing = [[0.60, 0.40, 0.12, 0.02], [0.62, 0.38, 0.10, 0.01]]
    assert collapse_verdict(collapsing, 2) is Verdict.HOLDS
    robust = [[0.60, 0.55, 0.50, 0.40], [0.62, 0.58, 0.52, 0.41]]  # above half the clean accuracy
    assert collapse_verdict(robust, 2) is Verdict.FAILS
    rising = [[0.60, 0.10, 0.20, 0.02], [0.62, 0.12, 0.18, 0.01]]  # not monotone in the mean
    assert collapse_verdict(rising, 2) is Verdict.FAILS
    assert collapse_verdict(collapsing[:1], 2) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    "bad",
    [
        {"eval_eps": (0.05, 0.1)},
        {"eval_eps": (0.0, 0.2)},
        {"eval_eps": (0.0, 0.2, 0.1)},
        {"train_eps": 0.0},
        {"train_pgd_steps": 0},
        {"hidden": ()},
        {"seeds": 0},
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
