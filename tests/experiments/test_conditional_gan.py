"""The conditional-gan experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch15.conditional_gan import Config, recognized_verdict
from udl.stats import Verdict


def test_recognized_verdict() -> None:
    assert recognized_verdict([0.8, 0.85, 0.9], 0.5) is Verdict.HOLDS
    assert recognized_verdict([0.1, 0.09, 0.1], 0.5) is Verdict.FAILS  # chance
    assert recognized_verdict([0.3, 0.35, 0.32], 0.5) is Verdict.FAILS  # above chance, below the good rate
    assert (
        recognized_verdict([0.1, 0.2, 0.9], 0.3) is Verdict.NOT_ESTABLISHED
    )  # too spread to clear chance by 2 SE
    assert recognized_verdict([0.9], 0.5) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    ("field", "value"), [("lr", 0.0), ("steps", 0), ("per_class", 0), ("good_rate", 1.5)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
