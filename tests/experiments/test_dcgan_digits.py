"""The dcgan-digits experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch15.dcgan_digits import Config, lower
from udl.stats import Verdict


def test_lower() -> None:
    assert lower([20.0, 25.0, 22.0], [150.0, 148.0, 151.0]).verdict is Verdict.HOLDS
    assert lower([150.0, 148.0, 151.0], [20.0, 25.0, 22.0]).verdict is Verdict.FAILS
    assert lower([20.0], [150.0]).verdict is Verdict.NOT_ESTABLISHED  # one seed
    assert lower([20.0, 25.0, 22.0], [150.0, 148.0, 151.0]).diff > 0  # higher − lower


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", 0.0),
        ("steps", 0),
        ("eval_every", 7),
        ("g_channels", (8,)),
        ("d_channels", (0, 4)),
        ("seeds", 0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
