"""The trajectory-subspace experiment's verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch20.trajectory_subspace import (
    Config,
    intrinsic_dimension,
    intrinsic_verdict,
    pca_verdict,
)

DIMS = [10, 30, 100, 300]


def test_pca_verdict() -> None:
    assert pca_verdict([0.9, 0.7]) is True
    assert pca_verdict([0.9, 0.4]) is False
    with pytest.raises(ValueError):
        pca_verdict([])


def test_intrinsic_dimension() -> None:
    assert intrinsic_dimension(DIMS, [0.2, 0.5, 0.55, 0.6], 0.6) == 100  # 0.55 ≥ 0.54
    assert intrinsic_dimension(DIMS, [0.2, 0.3, 0.4, 0.5], 0.6) is None


def test_intrinsic_verdict() -> None:
    assert intrinsic_verdict([100, 30], 5000) is True
    assert intrinsic_verdict([100, None], 5000) is False
    assert intrinsic_verdict([1000], 5000) is False  # more than n/10


@pytest.mark.parametrize("change", [{"dims": (30, 10)}, {"dims": ()}, {"val_examples": 0}, {"adam_lr": 0.0}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
