"""The seq2seq experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch12.seq2seq import Config, exact_match_verdict
from udl.stats import Verdict


def test_exact_match_verdict():
    assert exact_match_verdict([0.99, 0.97]) is Verdict.HOLDS
    assert exact_match_verdict([0.5, 0.97]) is Verdict.FAILS  # mean below the bar
    assert exact_match_verdict([0.99, 0.93]) is Verdict.NOT_ESTABLISHED  # one seed short
    assert exact_match_verdict([0.99]) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    ("field", "value"), [("task", "rotate"), ("lr", 0.0), ("steps", 0), ("heads", 3), ("num_seeds", 0)]
)
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field if field != "heads" else "multiple"):
        Config(**{field: value})
