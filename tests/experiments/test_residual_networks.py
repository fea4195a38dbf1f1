"""The residual-networks experiment: its verdict on made-up training errors (no training) and its config."""

from __future__ import annotations

import pytest

import udl.experiments.ch11.residual_networks as rn
from udl.experiments._mnist1d import MNIST1DRecipe
from udl.stats import Verdict


def test_worse_verdict_with_and_without_margin() -> None:
    plain, residual_bn = [0.44, 0.40, 0.47], [0.03, 0.02, 0.04]
    assert rn.worse_verdict(plain, residual_bn, 0.2) is Verdict.HOLDS
    assert rn.worse_verdict(residual_bn, plain, 0.2) is Verdict.FAILS  # wrong sign
    assert (
        rn.worse_verdict([0.12, 0.10, 0.14], [0.0, 0.0, 0.0], 0.2) is Verdict.FAILS
    )  # worse, but not by 0.2
    assert rn.worse_verdict([0.12, 0.10, 0.14], [0.0, 0.0, 0.0]) is Verdict.HOLDS  # no margin
    assert rn.worse_verdict([0.5], [0.0], 0.2) is Verdict.NOT_ESTABLISHED  # one seed
    assert rn.worse_verdict([1.0, 0.1, 0.6], [0.0, 0.0, 0.0], 0.2) is Verdict.NOT_ESTABLISHED  # erratic


def test_config_uses_the_shared_recipe_and_validates() -> None:
    cfg = rn.Config()
    assert isinstance(cfg, MNIST1DRecipe) and (cfg.epochs, cfg.step_size) == (100, 20)
    for field, bad in [("variants", ("plain",)), ("blocks", 0), ("shallow_blocks", 24), ("margin", 1.0)]:
        with pytest.raises(ValueError):
            rn.Config(**{field: bad})
    with pytest.raises(ValueError, match="variants"):
        rn.Config(variants=("plain", "residual-bn", "plain"))
    for preset in rn.PRESETS.values():
        assert isinstance(preset, rn.Config)
