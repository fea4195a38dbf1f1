"""The claim's verdict and the config of the Bayesian last-layer experiment."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.bayesian_last_layer import Config, uncertainty_grows_verdict


def test_uncertainty_grows_verdict() -> None:
    assert uncertainty_grows_verdict(1.9, 0.67)
    assert not uncertainty_grows_verdict(0.9, 0.5)  # smaller in the gap
    assert not uncertainty_grows_verdict(1.5, -0.1)  # falls with the distance to the data
    assert not uncertainty_grows_verdict(1.0, 0.0)  # flat


@pytest.mark.parametrize(
    "bad",
    [
        {"gap": (0.6, 0.4)},
        {"margin": 0.2},
        {"num_train": 1},
        {"samples": 1},
        {"noise_std": 0.0},
        {"hidden": 0},
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
