"""The verification helpers of udl.functional.conv: brute-force receptive field, shift masks, convolve with any
padding mode, conv_matrix_errors, equivariance_errors and random_conv_setting (float64, against torch)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64, gen
from udl.functional import (
    ConvSpec,
    brute_force_receptive_field,
    conv_matrix_errors,
    convolve,
    equivariance_errors,
    random_conv_setting,
    receptive_field,
    shift_equivariant_mask,
    translate,
)


def test_brute_force_receptive_field_matches_the_recurrence() -> None:
    for specs in (
        [ConvSpec(3)] * 4,
        [ConvSpec(3, stride=2, padding=1)] * 3,
        [ConvSpec(5, 2, 1, 2), ConvSpec(3)],
    ):
        span, count, start = brute_force_receptive_field(specs)
        last = receptive_field(specs)[-1]
        assert span == count == last.size and start == last.start
    assert brute_force_receptive_field([ConvSpec(3, dilation=4)]) == (
        9,
        3,
        0,
    )  # a lone dilated kernel has holes


@pytest.mark.parametrize("length", [16, 17, 30])
def test_shift_equivariant_mask_is_where_a_zero_padded_conv_commutes(length: int) -> None:
    # a linear conv with reach 3 (kernel 7, padding 3) and generic weights: equivariance fails exactly off the mask
    w = torch.randn(1, 1, 7, dtype=F64, generator=gen(length))
    x = torch.randn(1, 1, length, dtype=F64, generator=gen(length + 1))
    for shift in range(-2, length + 1):
        error = F.conv1d(translate(x, shift), w, padding=3) - translate(F.conv1d(x, w, padding=3), shift)
        assert torch.equal(error[0, 0].abs() > 1e-12, ~shift_equivariant_mask(length, shift, 3)), shift
    assert bool(shift_equivariant_mask(length, length, 3).all())  # a full turn is no shift
    assert shift_equivariant_mask(30, 12, 3).nonzero().flatten().tolist() == [*range(3, 9), *range(15, 27)]
    with pytest.raises(ValueError, match="length"):
        shift_equivariant_mask(0, 1, 3)


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
@pytest.mark.parametrize("dims", [1, 2])
def test_convolve_is_nn_conv_with_its_padding_mode(mode: str, dims: int) -> None:
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    conv = cls(3, 4, 3, stride=2, padding=2, dilation=1, groups=1, bias=False, padding_mode=mode).to(F64)
    x = torch.randn(2, 3, *(9,) * dims, dtype=F64, generator=gen(dims))
    torch.testing.assert_close(convolve(x, conv.weight, 2, 2, 1, 1, mode), conv(x), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="padding_mode"):
        convolve(x, conv.weight, padding_mode="mirror")  # type: ignore[arg-type]


def test_conv_matrix_errors_are_rounding_and_detect_a_wrong_matrix() -> None:
    g = gen(7)
    w = torch.randn(4, 2, 3, dtype=F64, generator=g)
    x = torch.randn(1, 2, 11, dtype=F64, generator=g)
    v = torch.randn(1, 4, 6, dtype=F64, generator=g)  # (11 + 2 − 3) // 2 + 1 = 6 outputs
    forward, transpose = conv_matrix_errors(w, x, v, stride=2, padding=1)
    assert forward < 1e-12 and transpose is not None and transpose < 1e-12
    with pytest.raises(ValueError, match="zero padding"):
        conv_matrix_errors(w, x, v, padding=1, padding_mode="circular")
    with pytest.raises(ValueError, match="output shape"):
        conv_matrix_errors(w, x, v[..., :4], stride=2, padding=1)


def test_equivariance_errors_of_circular_and_zero_padded_convolutions() -> None:
    w = torch.randn(2, 1, 7, dtype=F64, generator=gen(1))
    x = torch.randn(3, 1, 20, dtype=F64, generator=gen(2))
    circular = equivariance_errors(lambda t: convolve(t, w, padding=3, padding_mode="circular"), x, 5)
    assert max(circular.values()) < 1e-12 and set(circular) == {"equivariance", "pool_mean", "pool_max"}
    zeros = equivariance_errors(lambda t: F.conv1d(t, w, padding=3), x, 5, reach=3)
    assert zeros["interior"] < 1e-12 and zeros["border"] > 1e-3 and zeros["equivariance"] > 1e-3
    assert zeros["interior_outputs"] + zeros["border_outputs"] == 20
    # edges 0..2 and 17..19, the seam's window 2..7: 11 border outputs, all broken by generic weights
    assert zeros["broken_border_outputs"] == zeros["border_outputs"] == 11
    # 2-D: the mask is the outer product of the axes' masks
    w2 = torch.randn(1, 1, 7, 7, dtype=F64, generator=gen(3))
    x2 = torch.randn(1, 1, 16, 18, dtype=F64, generator=gen(4))
    e2 = equivariance_errors(lambda t: F.conv2d(t, w2, padding=3), x2, (3, 5), reach=3)
    keep = shift_equivariant_mask(16, 3, 3)[:, None] & shift_equivariant_mask(18, 5, 3)[None, :]
    assert e2["interior_outputs"] == int(keep.sum()) and e2["interior"] < 1e-12
    with pytest.raises(ValueError, match="zero"):
        equivariance_errors(lambda t: 0 * t, x, 1)


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect", "replicate"])
def test_random_conv_settings_are_valid_for_torch(mode: str) -> None:
    g = gen(5)
    for trial in range(30):
        s = random_conv_setting(1 + trial % 2, 8, mode, g)
        assert s["mode"] == mode and s["c_in"] % s["groups"] == 0 == s["c_out"] % s["groups"]
        w = torch.randn(s["c_out"], s["c_in"] // s["groups"], *s["kernel"], dtype=F64, generator=g)
        x = torch.randn(1, s["c_in"], *s["size"], dtype=F64, generator=g)
        geometry = {k: s[k] for k in ("stride", "padding", "dilation", "groups")}
        forward, _ = conv_matrix_errors(w, x, padding_mode=mode, **geometry)
        assert forward < 1e-12
    with pytest.raises(ValueError, match="dims"):
        random_conv_setting(3, 8)
