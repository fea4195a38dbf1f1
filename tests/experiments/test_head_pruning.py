"""The head-pruning experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch12.head_pruning import Config, importance_beats_random_verdict, prunable_verdict
from udl.stats import Verdict


def test_prunable_verdict():
    assert prunable_verdict([1.0, 0.98], [0.97, 0.95]) is Verdict.HOLDS
    assert prunable_verdict([1.0, 0.98], [0.3, 0.5]) is Verdict.FAILS
    assert prunable_verdict([1.0, 1.0], [1.0, 0.85]) is Verdict.NOT_ESTABLISHED  # one seed short
    assert prunable_verdict([1.0], [1.0]) is Verdict.NOT_ESTABLISHED  # one seed


def test_importance_beats_random_verdict():
    assert importance_beats_random_verdict([0.1, 0.12, 0.11], [0.5, 0.6, 0.55]) is Verdict.HOLDS
    assert importance_beats_random_verdict([0.5, 0.6, 0.55], [0.1, 0.12, 0.11]) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fractions", (0.0, 0.4)),
        ("fractions", (0.1, 0.5)),
        ("fractions", (0.0, 0.5, 1.0)),
        ("steps", 0),
        ("lr", 0.0),
    ],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
