"""The conv-mnist1d experiment: its verdicts on made-up accuracies (no training) and its config."""

from __future__ import annotations

import pytest

import udl.experiments.ch10.conv_mnist1d as cm
from udl.experiments._mnist1d import MNIST1DRecipe
from udl.stats import Verdict


def test_cnn_beats_mlp() -> None:
    assert cm.cnn_beats_mlp([90.0, 90.5, 89.8], [69.0, 70.1, 68.2]).verdict is Verdict.HOLDS
    assert cm.cnn_beats_mlp([69.0, 70.1, 68.2], [90.0, 90.5, 89.8]).verdict is Verdict.FAILS  # wrong sign
    assert cm.cnn_beats_mlp([80.0, 80.0], [80.0, 80.0]).verdict is Verdict.FAILS  # no difference
    assert cm.cnn_beats_mlp([80.0, 71.0, 85.0], [79.0, 75.0, 80.0]).verdict is Verdict.NOT_ESTABLISHED
    assert cm.cnn_beats_mlp([90.0], [70.0]).verdict is Verdict.NOT_ESTABLISHED  # one seed: no spread


def test_benchmark_accuracy_verdict() -> None:
    assert cm.benchmark_accuracy_verdict([90.0, 90.4, 89.6]) is Verdict.FAILS  # 4 points off, sd 0.4
    assert cm.benchmark_accuracy_verdict([93.5, 94.2, 94.6]) is Verdict.HOLDS
    assert cm.benchmark_accuracy_verdict([94.0]) is Verdict.NOT_ESTABLISHED


def test_config_uses_the_shared_recipe_with_notebook_10_2s_schedule() -> None:
    cfg = cm.Config()
    assert isinstance(cfg, MNIST1DRecipe)
    assert (cfg.epochs, cfg.step_size, cfg.lr, cfg.momentum, cfg.gamma, cfg.batch_size) == (
        100,
        20,
        0.05,
        0.9,
        0.5,
        100,
    )
    with pytest.raises(ValueError, match="init"):
        cm.Config(init="glorot")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cm.Config(seeds=0)
    for preset in cm.PRESETS.values():
        assert isinstance(preset, cm.Config)
