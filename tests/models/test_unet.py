"""Tests of udl.models.UNet: shapes, parameter count against a hand formula, the skip connections (seen through
forward hooks), generator-driven He initialization, validation, and a short training sanity check."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reference import gen
from udl.models import UNet, UNetConfig


@pytest.mark.parametrize("widths", [(4,), (4, 8), (4, 8, 16), (3, 5, 7, 9)])
@pytest.mark.parametrize("skip", [True, False])
def test_output_shape(widths, skip):
    net = UNet(UNetConfig(in_channels=3, num_classes=5, widths=widths, skip=skip), generator=gen(0))
    x = torch.randn(2, 3, 16, 24, generator=gen(1))
    assert net(x).shape == (2, 5, 16, 24)


def expected_parameters(c_in: int, k: int, widths: tuple[int, ...], skip: bool) -> int:
    """3x3 convs without bias (batch norm follows, 2 parameters per channel), 1x1 head with bias."""
    total, previous = 0, c_in
    for d in widths:  # encoder: two conv-BN per level
        total += 9 * previous * d + 2 * d + 9 * d * d + 2 * d
        previous = d
    for level in range(len(widths) - 1):
        d, below = widths[level], widths[level + 1]
        total += 9 * below * d + 2 * d  # up-convolution
        total += 9 * (2 if skip else 1) * d * d + 2 * d + 9 * d * d + 2 * d  # decoder convs
    return total + widths[0] * k + k


@pytest.mark.parametrize("skip", [True, False])
def test_parameter_count_matches_the_hand_formula(skip):
    widths = (8, 16, 32)
    net = UNet(UNetConfig(in_channels=1, num_classes=4, widths=widths, skip=skip))
    assert sum(p.numel() for p in net.parameters()) == expected_parameters(1, 4, widths, skip)
    # the only difference: the first decoder conv at each level sees D_l instead of 2 D_l channels
    with_skip = expected_parameters(1, 4, widths, True)
    assert with_skip - expected_parameters(1, 4, widths, False) == sum(9 * d * d for d in widths[:-1])


@pytest.mark.parametrize("skip", [True, False])
def test_decoder_input_is_the_concatenated_encoder_output_exactly_when_skip(skip):
    net = UNet(UNetConfig(widths=(4, 8, 16), skip=skip), generator=gen(2)).eval()
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str, inputs: bool):
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            seen[name] = args[0] if inputs else out

        return hook

    for level in range(3):
        net.down[level].register_forward_hook(keep(f"enc{level}", False))
    for level in range(2):
        net.up[level].register_forward_hook(keep(f"up{level}", False))
        net.decode[level].register_forward_hook(keep(f"dec_in{level}", True))
    net(torch.randn(2, 1, 16, 16, generator=gen(3)))
    for level, d in enumerate((4, 8)):
        size = 16 // 2**level
        assert seen[f"up{level}"].shape == (2, d, size, size)
        if skip:
            assert torch.equal(
                seen[f"dec_in{level}"], torch.cat([seen[f"enc{level}"], seen[f"up{level}"]], 1)
            )
        else:
            assert torch.equal(seen[f"dec_in{level}"], seen[f"up{level}"])


@pytest.mark.parametrize("skip", [True, False])
def test_without_skips_everything_passes_through_the_bottleneck(skip):
    """Cut the path up from the coarser levels (zero the up-convolution into the finest level): the plain
    encoder-decoder's output no longer depends on the input at all; the U-Net's still does, via its skip."""
    net = UNet(UNetConfig(widths=(4, 8, 16), skip=skip, batch_norm=False), generator=gen(4)).eval()
    with torch.no_grad():
        for p in net.up[0].parameters():
            p.zero_()
        a = net(torch.randn(2, 1, 16, 16, generator=gen(5)))
        b = net(torch.randn(2, 1, 16, 16, generator=gen(6)))
    assert torch.equal(a, b) != skip


def test_same_generator_gives_identical_nets_and_identical_encoders_across_skip():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a = UNet(UNetConfig(widths=(4, 8, 16)), generator=gen(9))
    b = UNet(UNetConfig(widths=(4, 8, 16)), generator=gen(9))
    c = UNet(UNetConfig(widths=(4, 8, 16), skip=False), generator=gen(9))
    assert torch.equal(torch.get_rng_state(), before)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    # the encoder and up-convolutions are drawn first, so equally seeded U-Net and plain net share them
    for p, q in zip(a.down.parameters(), c.down.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(a.up.parameters(), c.up.parameters(), strict=True):
        assert torch.equal(p, q)


def test_convolutions_are_he_initialized():
    net = UNet(UNetConfig(widths=(64, 64)), generator=gen(11))
    conv = net.down[1][1][0]  # 64 -> 64, 3x3: fan_in 576
    assert isinstance(conv, nn.Conv2d) and conv.bias is None
    std = float(conv.weight.detach().double().std())
    assert std == pytest.approx(math.sqrt(2 / 576), rel=0.03)
    assert float(conv.weight.detach().double().mean()) == pytest.approx(0.0, abs=0.003)
    assert net.head.bias is not None and bool((net.head.bias == 0).all())


def test_without_batch_norm_convolutions_have_biases():
    net = UNet(UNetConfig(widths=(4, 8), batch_norm=False), generator=gen(0))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))


def test_bad_input_and_config_raise():
    net = UNet(UNetConfig(widths=(4, 8, 16)))
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 1, 18, 16))
    with pytest.raises(ValueError):
        UNetConfig(widths=())
    with pytest.raises(ValueError):
        UNetConfig(widths=(4, 0))
    with pytest.raises(ValueError):
        UNetConfig(num_classes=0)


def test_training_reduces_the_loss():
    x = torch.randn(8, 1, 16, 16, generator=gen(12))
    y = (x[:, 0] > 0.5).long() + (x[:, 0] > 1.5).long()  # a per-pixel 3-class target
    net = UNet(UNetConfig(num_classes=3, widths=(8, 16)), generator=gen(13))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = nn.functional.cross_entropy(net(x), y)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.3 * first
