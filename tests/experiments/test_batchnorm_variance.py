"""The batchnorm-variance experiment: its verdicts on made-up variance series (no networks) and its config."""

from __future__ import annotations

import pytest
import torch

import udl.experiments.ch11.batchnorm_variance as bv

K = torch.arange(21, dtype=torch.float64)


def test_doubling_verdict() -> None:
    assert bv.doubling_verdict(2.0**K, 0.1)
    assert not bv.doubling_verdict(1.5**K, 0.1)  # exponential, but not doubling
    assert not bv.doubling_verdict(1.0 + K, 0.1)  # linear


def test_linear_growth_verdict() -> None:
    assert bv.linear_growth_verdict(1.0 + K, 0.99, 0.2)
    assert not bv.linear_growth_verdict(1.0 + 3.0 * K, 0.99, 0.2)  # linear, slope 3
    assert not bv.linear_growth_verdict(2.0**K, 0.99, 0.2)


def test_near_identity_and_constant_variance_verdicts() -> None:
    assert bv.near_identity_verdict(0.97, 0.71, 0.95)
    assert not bv.near_identity_verdict(0.90, 0.71, 0.95)
    assert not bv.near_identity_verdict(0.97, 0.96, 0.95)  # the plain blocks too: nothing to do with BN
    assert bv.constant_variance_verdict(torch.full((21,), 2.0, dtype=torch.float64), 0.1)
    assert not bv.constant_variance_verdict(2.0**K, 0.1)
    assert bv.per_block_ratio(3.0 * 2.0**K) == pytest.approx(2.0)


def test_config_validation() -> None:
    for field, bad in [("blocks", 2), ("batch", 5000), ("ratio_tolerance", 1.0), ("identity_cosine", 1.0)]:
        with pytest.raises(ValueError):
            bv.Config(**{field: bad})
    for preset in bv.PRESETS.values():
        assert isinstance(preset, bv.Config)
