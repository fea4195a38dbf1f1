"""The generative-metrics experiment's verdicts, blur and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch14.generative_metrics import (
    Config,
    coverage_verdict,
    gaussian_blur,
    ranked_verdict,
    separation_verdict,
)
from udl.stats import Verdict


def test_ranked_verdict() -> None:
    assert ranked_verdict([[1.0, 2.0, 5.0], [1.0, 3.0]])
    assert not ranked_verdict([[1.0, 2.0, 5.0], [1.0, 0.5]])
    assert not ranked_verdict([[1.0, 1.0]])  # ties do not rank


def test_separation_verdict() -> None:
    noisy_p, noisy_r = [0.3, 0.25, 0.28], [0.95, 0.97, 0.96]
    dropped_p, dropped_r = [0.97, 0.96, 0.98], [0.5, 0.48, 0.49]
    assert separation_verdict(noisy_p, noisy_r, dropped_p, dropped_r) is Verdict.HOLDS
    # the noisy set with the higher precision: low quality not detected
    assert separation_verdict(dropped_p, noisy_r, noisy_p, dropped_r) is Verdict.FAILS
    assert (
        separation_verdict(noisy_p[:1], noisy_r[:1], dropped_p[:1], dropped_r[:1]) is Verdict.NOT_ESTABLISHED
    )


def test_coverage_verdict() -> None:
    hits = {"fresh": [8, 8], "dropped": [4, 4], "collapsed": [1, 1], "noisy": [8, 8]}
    quality = {"fresh": [0.99, 0.98], "noisy": [0.2, 0.3]}
    assert coverage_verdict(8, hits, quality)
    assert not coverage_verdict(8, {**hits, "dropped": [4, 5]}, quality)
    assert not coverage_verdict(8, hits, {**quality, "noisy": [0.2, 0.99]})


def test_gaussian_blur_keeps_mass_and_spreads() -> None:
    image = torch.zeros(1, 1, 15, 15, dtype=torch.float64)
    image[0, 0, 7, 7] = 1.0
    blurred = gaussian_blur(image, 1.0)
    assert blurred.sum().item() == pytest.approx(1.0)  # the kernel sums to 1 and fits inside the image
    assert blurred[0, 0, 7, 7] < 0.2 and torch.allclose(blurred, blurred.flip(-1))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("modes", 7),
        ("n_samples", 10),
        ("noise_levels", (0.2, 0.1)),
        ("blur_levels", ()),
        ("kept_classes", 0),
        ("k", 0),
        ("std", 0.0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
