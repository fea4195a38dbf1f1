"""The conv-arithmetic experiment: its random settings, its protocol helpers and its smoke run (checks only)."""

from __future__ import annotations

import json

import pytest
import torch

import udl.experiments.ch10.conv_arithmetic as ca
from reference import gen
from udl.experiments import Experiment
from udl.functional import brute_force_receptive_field, receptive_field
from udl.report import runner


def test_closed_forms_match_the_recurrence_of_the_three_stacks() -> None:
    for depth in (1, 3, 5):
        for name, stack in ca.STACKS.items():
            span, count, start = brute_force_receptive_field(stack(depth))
            assert span == count == ca.LAWS[name][0](depth) == receptive_field(stack(depth))[-1].size
            assert start == receptive_field(stack(depth))[-1].start


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
def test_matrix_errors_of_random_settings_are_rounding(mode: str) -> None:
    g = gen(3)
    for trial in range(10):
        forward, transpose = ca.matrix_errors(
            ca.random_conv_setting(1 + trial % 2, 8, mode, g), g, torch.device("cpu")
        )
        assert forward < ca.TOLERANCE
        assert (transpose is None) == (mode != "zeros")
        assert transpose is None or transpose < ca.TOLERANCE


def test_worst_equivariance_separates_circular_and_zero_padding() -> None:
    worst = ca.worst_equivariance(ca.PRESETS["smoke"], 1, gen(0), torch.device("cpu"))
    assert worst["circular"] < ca.TOLERANCE and worst["zeros_interior"] < ca.TOLERANCE
    assert worst["zeros_border"] > 1e-3  # generic weights: the border breaks
    assert worst["border_outputs"] + worst["interior_outputs"] == 2 * ca.PRESETS["smoke"].signal_length


def test_config_validation() -> None:
    for field, bad in [
        ("max_depth", 1),
        ("trials", 1),
        ("max_length", 3),
        ("image_size", 12),
        ("channels", 0),
    ]:
        with pytest.raises(ValueError, match=field):
            ca.Config(**{field: bad})
    for cfg in ca.PRESETS.values():
        assert isinstance(cfg, ca.Config)


def test_smoke_preset_runs_and_every_check_holds(tmp_path) -> None:
    exp = Experiment.from_module("conv-arithmetic", ca)
    out = tmp_path / "run"
    runner.execute(exp, ca.PRESETS["smoke"], "smoke", final=out, device="cpu")
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    assert result["claims"] == []  # every statement here is exact: checks, not claims
    assert {c["id"]: c["holds"] for c in result["checks"]} == {
        "receptive-field-linear": True,
        "receptive-field-dilated": True,
        "receptive-field-strided": True,
        "conv-is-a-matrix": True,
        "transposed-conv-is-the-transpose": True,
        "circular-conv-equivariant": True,
        "global-pooling-invariant": True,
        "zero-padding-equivariant-inside": True,
        "zero-padding-breaks-at-border": True,
    }
    assert result["figures"] == [
        "figures/receptive-field.png",
        "figures/conv-matrices.png",
        "figures/equivariance.png",
    ]
