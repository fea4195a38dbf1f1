"""The positional-encodings experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch12.positional_encodings import (
    Config,
    extrapolation_verdict,
    fails_without_positions_verdict,
)
from udl.stats import Verdict


def test_fails_without_positions_verdict():
    assert fails_without_positions_verdict([0.0, 0.02]) is Verdict.HOLDS
    assert fails_without_positions_verdict([0.9, 0.8]) is Verdict.FAILS


def test_extrapolation_verdict():
    learned = [0.12, 0.13, 0.11]
    better = {"alibi": [0.30, 0.33, 0.31], "rope": [0.4, 0.45, 0.41]}
    assert extrapolation_verdict(learned, better) is Verdict.HOLDS
    assert (
        extrapolation_verdict(learned, {**better, "relative": [0.1, 0.1, 0.1]}) is Verdict.FAILS
    )  # one worse
    assert (
        extrapolation_verdict(learned, {"alibi": [0.13, 0.12, 0.115]}) is Verdict.NOT_ESTABLISHED
    )  # within noise
    assert extrapolation_verdict([0.3, 0.3], {"alibi": [0.1, 0.1]}) is Verdict.FAILS  # direction matters


@pytest.mark.parametrize(
    ("field", "value"),
    [("encodings", ("absolute",)), ("encodings", ()), ("steps", 0), ("lr", 2.0), ("heads", 3)],
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field if field != "heads" else "d_model"):
        Config(**{field: value})
