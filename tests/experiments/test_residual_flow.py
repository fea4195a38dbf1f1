"""The residual-flow experiment's verdicts and Config."""

from __future__ import annotations

import math

import pytest

from udl.experiments.ch16.residual_flow import Config, fit_rate, geometric_verdict, unbiased_verdict, z_bar
from udl.stats import Verdict


def test_fit_rate_recovers_a_geometric_sequence() -> None:
    rate, r2 = fit_rate([0.3**k for k in range(15)])
    assert rate == pytest.approx(0.3) and r2 == pytest.approx(1.0)
    assert math.isnan(fit_rate([1.0, 1e-12, 1e-13])[0])  # below the floor: nothing to fit


def test_geometric_verdict() -> None:
    bounds = [0.5, 0.7, 0.9]
    assert geometric_verdict(bounds, [0.1, 0.2, 0.3], [0.99] * 3) is Verdict.HOLDS
    assert geometric_verdict(bounds, [0.1, 0.8, 0.85], [0.99] * 3) is Verdict.FAILS  # a rate above its bound
    assert geometric_verdict(bounds, [0.3, 0.2, 0.1], [0.99] * 3) is Verdict.FAILS  # does not rise with L
    assert geometric_verdict(bounds, [0.1, 0.2, 0.3], [0.99, 0.5, 0.99]) is Verdict.FAILS  # not geometric
    assert geometric_verdict(bounds, [0.1, math.nan, 0.3], [0.99] * 3) is Verdict.NOT_ESTABLISHED


def test_unbiased_verdict() -> None:
    assert z_bar(1) == pytest.approx(2.5758, abs=1e-4)
    assert unbiased_verdict([0.5, -0.3, 1.2, -1.1]) is Verdict.HOLDS
    assert unbiased_verdict([0.5, -0.3, 9.0, -1.1]) is Verdict.FAILS  # one estimate far off
    assert unbiased_verdict([2.0] * 100) is Verdict.FAILS  # each within the bar, but all biased one way
    assert unbiased_verdict([0.1]) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lipschitz", (0.9, 0.5)),
        ("lipschitz", (0.5, 1.0)),
        ("lipschitz", (0.5,)),
        ("probes", 1),
        ("terms", 0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
