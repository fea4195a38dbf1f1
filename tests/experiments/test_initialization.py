"""The variance measurement behind the initialization experiment, against eq. 7.31's prediction."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch07.initialization import Config, variance_through_depth


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
