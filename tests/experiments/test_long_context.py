"""The long-context experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch12.long_context import (
    Config,
    fails_without_global_verdict,
    linear_memory_verdict,
    matches_dense_verdict,
)
from udl.stats import Verdict


def test_matches_dense_verdict():
    assert matches_dense_verdict([0.99, 0.98], [0.98, 0.99]) is Verdict.HOLDS
    assert matches_dense_verdict([0.99, 0.98], [0.80, 0.85]) is Verdict.FAILS  # sparse worse
    assert matches_dense_verdict([0.6, 0.6], [0.6, 0.6]) is Verdict.FAILS  # neither solves it


def test_fails_without_global_verdict():
    assert fails_without_global_verdict([0.52, 0.55, 0.5], [0.99, 0.98, 0.99]) is Verdict.HOLDS
    assert fails_without_global_verdict([0.9, 0.95], [0.99, 0.98]) is Verdict.FAILS  # the band solves it
    assert fails_without_global_verdict([0.52], [0.99]) is Verdict.NOT_ESTABLISHED  # one seed
    assert (
        fails_without_global_verdict([0.48, 0.49], [0.5, 0.51]) is Verdict.NOT_ESTABLISHED
    )  # neither learns


def test_linear_memory_verdict():
    assert linear_memory_verdict(0.99, 1.97) is Verdict.HOLDS
    assert linear_memory_verdict(1.6, 1.97) is Verdict.FAILS  # sparse memory superlinear
    assert linear_memory_verdict(1.0, 1.1) is Verdict.FAILS  # dense not quadratic


@pytest.mark.parametrize(
    ("field", "value"),
    [("length", 2), ("cost_lengths", (512,)), ("cost_lengths", (4, 2)), ("steps", 0), ("lr", 0.0)],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
