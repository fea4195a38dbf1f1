"""udl.nn.ResidualMLPBlock and ResidualConvBlock: block = identity (or projection) + branch exactly, the branch
against torch.nn.functional written out in float64, shapes, the residual toggle and generator-driven init."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64
from reference import gen as _gen
from udl.nn import BatchNorm, ResidualConvBlock, ResidualMLPBlock

# ------------------------------------------------------------------------------------------- ResidualMLPBlock


def _reference_branch(block: ResidualMLPBlock, h: torch.Tensor) -> torch.Tensor:
    """([BN] → ReLU → Linear) × layers with torch.nn.functional (BN in training mode: batch statistics)."""
    modules = list(block.branch)
    out = h
    for linear in (m for m in modules if isinstance(m, nn.Linear)):
        if block.batchnorm:
            out = F.batch_norm(out, None, None, training=True, eps=1e-5)  # γ = 1, δ = 0 at initialization
        out = F.linear(torch.relu(out), linear.weight, linear.bias)
    return out


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_mlp_block_is_identity_plus_branch(layers, batchnorm):
    block = ResidualMLPBlock(6, layers, batchnorm=batchnorm, generator=_gen(0), dtype=F64)
    h = torch.randn(9, 6, generator=_gen(1), dtype=F64)
    out = block(h)
    assert out.shape == h.shape
    assert torch.equal(out, h + block.branch(h))  # exactly h + f[h]
    torch.testing.assert_close(block.branch(h), _reference_branch(block, h), rtol=1e-13, atol=1e-13)
    kinds = [type(m).__name__ for m in block.branch]
    step = (["BatchNorm"] if batchnorm else []) + ["Activation", "Linear"]
    assert kinds == step * layers  # ReLU before Linear: fig. 11.5b ordering


def test_residual_toggle_keeps_parameters_and_removes_only_the_skip():
    with_skip = ResidualMLPBlock(5, 2, generator=_gen(2), dtype=F64)
    plain = ResidualMLPBlock(5, 2, residual=False, generator=_gen(2), dtype=F64)
    for a, b in zip(with_skip.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    h = torch.randn(4, 5, generator=_gen(3), dtype=F64)
    assert torch.equal(plain(h), plain.branch(h))
    torch.testing.assert_close(with_skip(h) - plain(h), h, rtol=1e-15, atol=1e-15)


def test_output_scale_rescales_the_sum():
    block = ResidualMLPBlock(4, output_scale=2**-0.5, generator=_gen(4), dtype=F64)
    h = torch.randn(3, 4, generator=_gen(5), dtype=F64)
    torch.testing.assert_close(block(h), (h + block.branch(h)) / math.sqrt(2), rtol=1e-15, atol=1e-15)


def test_jacobian_is_identity_plus_branch_jacobian():
    block = ResidualMLPBlock(4, 2, generator=_gen(6), dtype=F64)
    h = torch.randn(4, generator=_gen(7), dtype=F64).unsqueeze(0)
    jac_block = torch.autograd.functional.jacobian(block, h).reshape(4, 4)
    jac_branch = torch.autograd.functional.jacobian(block.branch, h).reshape(4, 4)
    torch.testing.assert_close(jac_block - jac_branch, torch.eye(4, dtype=F64), rtol=0, atol=1e-15)


def test_mlp_block_init_is_he_from_the_generator_only():
    state = torch.random.get_rng_state()
    a = ResidualMLPBlock(400, 2, generator=_gen(8))
    b = ResidualMLPBlock(400, 2, generator=_gen(8))
    c = ResidualMLPBlock(400, 2, generator=_gen(9))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG was not touched
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.branch[1].weight, c.branch[1].weight)
    for linear in (m for m in a.branch if isinstance(m, nn.Linear)):
        # He: σ² = 2/D; 160k draws put the sample std within ~0.2% of σ
        assert abs(float(linear.weight.detach().std()) / math.sqrt(2 / 400) - 1) < 0.01
        assert bool((linear.bias == 0).all())
    # draw for draw equal to torch's kaiming_normal_ from the same generator state
    ref = torch.empty(400, 400)
    torch.nn.init.kaiming_normal_(ref, nonlinearity="relu", generator=_gen(8))
    assert torch.equal(a.branch[1].weight, ref)


def test_mlp_block_bad_arguments():
    with pytest.raises(ValueError, match="width and layers"):
        ResidualMLPBlock(0)
    with pytest.raises(ValueError, match="width and layers"):
        ResidualMLPBlock(3, 0)
    with pytest.raises(ValueError, match="output_scale"):
        ResidualMLPBlock(3, output_scale=0.0)
    with pytest.raises(ValueError, match="init"):
        ResidualMLPBlock(3, init="glorot")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ResidualMLPBlock(3, activation="nope")


# ------------------------------------------------------------------------------------------ ResidualConvBlock


def _reference_conv_branch(block: ResidualConvBlock, h: torch.Tensor) -> torch.Tensor:
    conv = F.conv1d if block.dims == 1 else F.conv2d
    convs = [m for m in block.branch if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    out = h
    for c in convs:
        if block.batchnorm:
            out = F.batch_norm(out, None, None, training=True, eps=1e-5)
        out = conv(torch.relu(out), c.weight, c.bias, stride=c.stride, padding=c.padding)
    return out


CONV_CASES = [
    # dims, c_in, c_out, stride, input spatial size, expected output spatial size, projection?
    (1, 4, 4, 1, (11,), (11,), False),
    (1, 4, 8, 2, (11,), (6,), True),
    (1, 4, 4, 2, (10,), (5,), True),
    (2, 3, 3, 1, (7, 6), (7, 6), False),
    (2, 3, 5, 2, (7, 6), (4, 3), True),
]


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize(("dims", "c_in", "c_out", "stride", "size", "out_size", "projects"), CONV_CASES)
def test_conv_block_is_shortcut_plus_branch(dims, c_in, c_out, stride, size, out_size, projects, batchnorm):
    block = ResidualConvBlock(
        c_in, c_out, stride=stride, dims=dims, batchnorm=batchnorm, generator=_gen(10), dtype=F64
    )
    h = torch.randn(3, c_in, *size, generator=_gen(11), dtype=F64)
    out = block(h)
    assert out.shape == (3, c_out, *out_size)
    assert isinstance(block.shortcut, nn.Identity) != projects
    assert torch.equal(out, block.shortcut(h) + block.branch(h))
    torch.testing.assert_close(block.branch(h), _reference_conv_branch(block, h), rtol=1e-12, atol=1e-12)
    if projects:  # a 1×1 convolution with the block's stride
        p = block.shortcut
        conv = F.conv1d if dims == 1 else F.conv2d
        expected = conv(h, p.weight, p.bias, stride=stride)
        torch.testing.assert_close(block.shortcut(h), expected, rtol=1e-13, atol=1e-13)
    else:
        torch.testing.assert_close(out - block.branch(h), h, rtol=1e-14, atol=1e-14)  # identity shortcut
    n_bn = sum(isinstance(m, BatchNorm) for m in block.modules())
    assert n_bn == (2 if batchnorm else 0)


def test_conv_block_without_residual_has_no_shortcut():
    block = ResidualConvBlock(4, 8, stride=2, residual=False, generator=_gen(12), dtype=F64)
    h = torch.randn(2, 4, 9, generator=_gen(13), dtype=F64)
    assert isinstance(block.shortcut, nn.Identity)
    assert torch.equal(block(h), block.branch(h))


def test_conv_init_is_he_with_fan_in_times_kernel():
    state = torch.random.get_rng_state()
    block = ResidualConvBlock(6, 6, kernel_size=5, dims=2, generator=_gen(14))
    assert torch.equal(torch.random.get_rng_state(), state)
    first = block.branch[2]
    ref = torch.empty_like(first.weight)
    torch.nn.init.kaiming_normal_(ref, nonlinearity="relu", generator=_gen(14))  # fan_in = 6·5·5
    assert torch.equal(first.weight, ref)
    assert bool((first.bias == 0).all())


def test_conv_block_bad_arguments():
    with pytest.raises(ValueError, match="odd"):
        ResidualConvBlock(2, 2, kernel_size=4)
    with pytest.raises(ValueError, match="dims"):
        ResidualConvBlock(2, 2, dims=3)
    with pytest.raises(ValueError, match=">= 1"):
        ResidualConvBlock(0, 2)
