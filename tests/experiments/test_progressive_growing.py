"""The progressive-growing experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch15.progressive_growing import Config, at_least_as_good
from udl.stats import Verdict


def test_at_least_as_good() -> None:
    assert at_least_as_good([15.0, 16.0, 14.0], [25.0, 27.0, 26.0]).verdict is Verdict.HOLDS
    assert at_least_as_good([25.0, 27.0, 26.0], [15.0, 16.0, 14.0]).verdict is Verdict.FAILS  # worse
    assert at_least_as_good([20.0, 20.0, 20.0], [20.0, 20.0, 20.0]).verdict is Verdict.FAILS  # no difference
    assert at_least_as_good([15.0, 30.0, 14.0], [25.0, 16.0, 26.0]).verdict is Verdict.NOT_ESTABLISHED
    assert at_least_as_good([15.0, 16.0, 14.0], [25.0, 27.0, 26.0]).diff > 0  # direct − progressive


@pytest.mark.parametrize(("field", "value"), [("lr", 0.0), ("steps_fade", 0), ("channels", 0), ("seeds", 0)])
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
