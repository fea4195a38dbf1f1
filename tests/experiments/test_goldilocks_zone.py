"""The goldilocks-zone experiment's verdict, Xavier scale and Config (no Hessians)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from udl.experiments.ch20.goldilocks_zone import Config, goldilocks_verdict, xavier_scale
from udl.nn import MLP
from udl.stats import Verdict

SCALES = [0.1, 0.3, 1.0, 3.0, 10.0]


def test_goldilocks_verdict() -> None:
    assert goldilocks_verdict(SCALES, [0.5, 0.7, 0.9, 0.7, 0.5], [1.0, 0.8]) is Verdict.HOLDS
    assert (
        goldilocks_verdict(SCALES, [0.5, 0.9, 0.6, 0.5, 0.5], [1.0, 0.8]) is Verdict.FAILS
    )  # peak at 0.3 only
    assert (
        goldilocks_verdict(SCALES, [0.5, 0.6, 0.7, 0.8, 0.9], [1.0]) is Verdict.NOT_ESTABLISHED
    )  # edge peak
    assert goldilocks_verdict(SCALES, [0.5] * 5, [1.0]) is Verdict.FAILS  # flat: no zone
    with pytest.raises(ValueError):
        goldilocks_verdict(SCALES, [0.5], [1.0])


def test_xavier_scale_matches_sampled_norms() -> None:
    widths = (40, 100, 100, 10)
    ratios = []
    for s in range(20):
        he = MLP(40, [100, 100], 10, init="he", generator=torch.Generator().manual_seed(s))
        xa = MLP(40, [100, 100], 10, init="xavier", generator=torch.Generator().manual_seed(s))
        norm = lambda m: math.sqrt(sum(float((layer.weight.detach() ** 2).sum()) for layer in m.linears))  # noqa: E731
        ratios.append(norm(xa) / norm(he))
    assert sum(ratios) / len(ratios) == pytest.approx(xavier_scale(widths), rel=0.01)
    assert xavier_scale((10, 10)) == pytest.approx(math.sqrt(0.5))


@pytest.mark.parametrize("change", [{"scales": (1.0, 0.5, 2.0)}, {"scales": (1.0, 2.0)}, {"subspace": 1}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
