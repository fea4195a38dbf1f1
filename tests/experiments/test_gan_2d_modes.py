"""The gan-2d-modes experiment's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch15.gan_2d_modes import Config, _density, more_modes_verdict
from udl.stats import Verdict


def test_more_modes_verdict() -> None:
    assert more_modes_verdict([8, 8, 8], [5, 6, 4]) is Verdict.HOLDS
    assert more_modes_verdict([5, 6, 4], [8, 8, 8]) is Verdict.FAILS
    assert more_modes_verdict([8, 8, 8], [8, 8, 8]) is Verdict.FAILS  # no difference
    assert more_modes_verdict([8, 5, 8], [8, 8, 3]) is Verdict.NOT_ESTABLISHED  # +0.67 ± 2.2


def test_densities() -> None:
    assert _density(Config()).n_components == 8
    assert _density(Config(density="grid")).n_components == 25


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("density", "moons"),
        ("modes", 1),
        ("lr", 0.0),
        ("n_critic", 0),
        ("steps", 0),
        ("n_train", 10),
        ("std", 2.0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
