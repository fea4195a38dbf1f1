"""The variance measurement behind the initialization experiment, against eq. 7.31's prediction."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch07.initialization import (
    Config,
    factor_verdict,
    only_he_verdict,
    per_layer_factor,
    variance_through_depth,
)


def test_first_layer_variance_and_per_layer_factor() -> None:
    cfg = Config(layers=10, width=256, networks=4, batch=256)
    for scale in (0.5, 1.0, 2.0):
        forward, backward = variance_through_depth(
            scale, cfg, torch.Generator().manual_seed(0), torch.device("cpu")
        )
        assert forward.shape == backward.shape == (10,)
        # f_1 = Ω x with x ~ N(0, I): variance D · σ² = 2 · scale
        assert float(forward[0]) == pytest.approx(2 * scale, rel=0.05)
        # nine ReLU layers later: scale^9 (eq. 7.31), up to finite-width fluctuation
        assert float(forward[-1] / forward[0]) == pytest.approx(scale**9, rel=0.35)
        assert float(backward[0] / backward[-1]) == pytest.approx(scale**9, rel=0.35)


def test_config_needs_he() -> None:
    with pytest.raises(ValueError, match=r"include 1\.0"):
        Config(scales=(0.5, 2.0))


def test_only_he_verdict() -> None:
    kept_only_he = {0.5: (1e-15, 1e-15), 1.0: (1.9, 1.3), 2.0: (5e14, 5e14)}
    assert only_he_verdict(kept_only_he, 4.0)
    assert not only_he_verdict({**kept_only_he, 1.1: (3.0, 3.5)}, 4.0)  # a second scale kept
    assert not only_he_verdict({**kept_only_he, 1.0: (10.0, 1.3)}, 4.0)  # He itself drifts


def test_per_layer_factor_and_verdict() -> None:
    series = 2.0 * 0.8 ** torch.arange(20, dtype=torch.float64)
    assert per_layer_factor(series) == pytest.approx(0.8)
    assert factor_verdict({0.8: [0.8, 0.79], 1.0: [1.0, 1.01]}, 0.03)
    assert not factor_verdict({0.8: [0.8, 0.7], 1.0: [1.0, 1.01]}, 0.03)


@pytest.mark.parametrize(
    ("field", "value"), [("layers", 1), ("width", 1), ("factor", 1.0), ("slope_tolerance", 0.0)]
)
def test_config_rejects(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
