"""The conv-arithmetic experiment's helpers (border mask, brute-force field, random settings) and its smoke run."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import udl.experiments.ch10.conv_arithmetic as ca
from reference import F64, gen
from udl.experiments._registry import Experiment
from udl.functional import ConvSpec, receptive_field, translate
from udl.report import runner


@pytest.mark.parametrize("length", [16, 17, 30])
def test_interior_mask_is_where_a_zero_padded_conv_stays_equivariant(length: int) -> None:
    # a linear conv with reach 3 (kernel 7, padding 3) and generic weights: equivariance fails exactly off the mask
    w = torch.randn(1, 1, 7, dtype=F64, generator=gen(length))
    x = torch.randn(1, 1, length, dtype=F64, generator=gen(length + 1))
    for shift in range(-2, length + 1):
        error = (F.conv1d(translate(x, shift), w, padding=3) - translate(F.conv1d(x, w, padding=3), shift))[
            0, 0
        ]
        broken = error.abs() > 1e-12
        assert torch.equal(broken, ~ca.interior_mask(length, shift, 3)), shift
    assert bool(ca.interior_mask(length, length, 3).all())  # a full turn is no shift
    # 3 outputs at each edge and 6 around the seam (positions t − 3 .. t + 2)
    assert ca.interior_mask(30, 12, 3).nonzero().flatten().tolist() == [*range(3, 9), *range(15, 27)]


def test_interior_mask_2d_is_the_product_of_the_axes() -> None:
    w = torch.randn(1, 1, 7, 7, dtype=F64, generator=gen(0))
    x = torch.randn(1, 1, 16, 18, dtype=F64, generator=gen(1))
    for shift in [(3, 5), (0, 4), (15, 1)]:
        error = F.conv2d(translate(x, shift), w, padding=3) - translate(F.conv2d(x, w, padding=3), shift)
        keep = ca.interior_mask(16, shift[0], 3)[:, None] & ca.interior_mask(18, shift[1], 3)[None, :]
        assert torch.equal(error[0, 0].abs() > 1e-12, ~keep), shift


def test_brute_force_field_of_the_three_stacks() -> None:
    device = torch.device("cpu")
    for depth in (1, 3, 5):
        for name, stack in ca.STACKS.items():
            span, count, start = ca.brute_force_field(stack(depth), device)
            assert span == count == ca.EXPECTED_SIZE[name](depth)
            assert start == receptive_field(stack(depth))[-1].start
    # a lone dilated kernel: span 9 but only 3 inputs
    assert ca.brute_force_field([ConvSpec(3, dilation=4)], device) == (9, 3, 0)


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
def test_random_settings_are_valid_and_match_torch(mode: str) -> None:
    g = gen(3)
    for trial in range(20):
        setting = ca.random_setting(1 + trial % 2, 8, mode, g)
        assert setting["mode"] == mode
        forward, transpose = ca.matrix_errors(setting, g, torch.device("cpu"))
        assert forward < ca.TOLERANCE
        assert (transpose is None) == (mode != "zeros")
        assert transpose is None or transpose < ca.TOLERANCE


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        ca.Config(max_depth=1)
    with pytest.raises(ValueError, match="trials"):
        ca.Config(trials=1)
    with pytest.raises(ValueError, match="max_length"):
        ca.Config(max_length=3)
    with pytest.raises(ValueError, match="signal_length"):
        ca.Config(image_size=12)
    for cfg in ca.PRESETS.values():
        assert isinstance(cfg, ca.Config)


def test_smoke_preset_runs(tmp_path) -> None:
    exp = Experiment.from_module("conv-arithmetic", ca)
    out = tmp_path / "run"
    runner.execute(exp, ca.PRESETS["smoke"], "smoke", final=out, device="cpu")
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    assert {c["id"]: c["holds"] for c in result["claims"]} == {
        "receptive-field-linear": True,
        "receptive-field-dilated": True,
        "receptive-field-strided": True,
        "conv-is-a-matrix": True,
        "transposed-conv-is-the-transpose": True,
        "circular-conv-equivariant": True,
        "zero-padding-border-effect": True,
        "global-pooling-invariant": True,
    }
    assert result["figures"] == [
        "figures/receptive-field.png",
        "figures/conv-matrices.png",
        "figures/equivariance.png",
        "figures/upsampling.png",
    ]
