"""The attention-basics experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch12.attention_basics import (
    Config,
    breaks_equivariance_verdict,
    hypernetwork_verdict,
    scaling_verdict,
)
from udl.stats import Verdict


def test_verdicts():
    assert breaks_equivariance_verdict(0.3) is Verdict.HOLDS
    assert breaks_equivariance_verdict(1e-15) is Verdict.FAILS
    assert hypernetwork_verdict(0.2) is Verdict.HOLDS
    assert hypernetwork_verdict(0.0) is Verdict.FAILS
    assert scaling_verdict([2.1, 2.0, 2.05], [1.5, 0.5, 0.1]) is Verdict.HOLDS
    assert scaling_verdict([2.1, 2.0, 2.05], [1.5, 1.4, 1.3]) is Verdict.FAILS  # unscaled does not saturate
    assert scaling_verdict([2.1, 1.0, 0.5], [1.5, 0.5, 0.1]) is Verdict.FAILS  # scaled saturates too


@pytest.mark.parametrize(("field", "value"), [("tokens", 1), ("width", 30), ("dims", (4,)), ("dims", (8, 4))])
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
