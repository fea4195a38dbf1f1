"""The MNIST-1D baselines' verdicts on made-up per-seed measurements (no training), and its Config."""

from __future__ import annotations

import pytest

from udl.experiments._mnist1d import MNIST1DRecipe
from udl.experiments.ch08.mnist1d_baselines import (
    PRESETS,
    PUBLISHED_ACCURACY,
    SPREAD_K,
    Config,
    memorization_verdict,
)
from udl.stats import Verdict, within_spread

LIMITS = {"max_train_error": 0.02, "min_gap": 0.10}


def test_memorization_holds_when_train_is_zero_and_the_gap_is_large() -> None:
    verdict = memorization_verdict([0.0, 0.001, 0.0], [0.33, 0.35, 0.31], **LIMITS)
    assert verdict is Verdict.HOLDS


def test_memorization_fails_when_one_run_does_not_fit() -> None:
    assert memorization_verdict([0.0, 0.05, 0.0], [0.33, 0.35, 0.31], **LIMITS) is Verdict.FAILS


def test_memorization_fails_when_test_error_is_not_far_higher() -> None:
    # fits every run, but the test error is only 5 points above the training error
    assert memorization_verdict([0.0, 0.0, 0.01], [0.05, 0.06, 0.05], **LIMITS) is Verdict.FAILS


def test_memorization_not_established_with_a_noisy_gap_or_one_seed() -> None:
    # the mean gap beyond 10 points is positive but within 2 SE
    assert memorization_verdict([0.0, 0.0, 0.0], [0.05, 0.30, 0.13], **LIMITS) is Verdict.NOT_ESTABLISHED
    assert memorization_verdict([0.0], [0.4], **LIMITS) is Verdict.NOT_ESTABLISHED


def test_accuracy_claims_use_the_seed_spread() -> None:
    published = PUBLISHED_ACCURACY["mlp"]
    assert within_spread([66.0, 67.0, 68.0], published, k=SPREAD_K) is Verdict.HOLDS
    assert within_spread([60.0, 60.5, 61.0], published, k=SPREAD_K) is Verdict.FAILS  # far, tight spread
    assert within_spread([67.9], published, k=SPREAD_K) is Verdict.NOT_ESTABLISHED  # no spread


def test_config_inherits_the_recipe_and_validates() -> None:
    assert issubclass(Config, MNIST1DRecipe)
    assert PRESETS["quick"].seeds >= 3 and PRESETS["full"].seeds >= PRESETS["quick"].seeds
    assert (PRESETS["full"].epochs, PRESETS["full"].lr, PRESETS["full"].num_samples) == (50, 0.05, 5000)
    with pytest.raises(ValueError, match="hidden"):
        Config(hidden=(100, 0))
    with pytest.raises(ValueError, match="max_train_error"):
        Config(max_train_error=1.0)
    with pytest.raises(ValueError, match="seeds"):
        Config(seeds=0)
    with pytest.raises(ValueError, match="train_split"):
        Config(train_split=1.0)
