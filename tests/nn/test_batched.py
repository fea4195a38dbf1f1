"""BatchedShallowNetwork: each member is exactly a stand-alone ShallowNetwork, in values, gradients and training."""

from __future__ import annotations

import pytest
import torch

from udl.nn import BatchedShallowNetwork, ShallowNetwork

F64 = torch.float64


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "gelu"])
def test_members_match_stand_alone_networks(activation: str) -> None:
    widths = [1, 3, 7, 2]
    nets = BatchedShallowNetwork(
        2, widths, 3, activation, generator=torch.Generator().manual_seed(0), dtype=F64
    )
    x = torch.randn(11, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    out = nets(x)
    assert out.shape == (4, 11, 3)
    for b in range(len(widths)):
        torch.testing.assert_close(out[b], nets.member(b)(x), rtol=0, atol=1e-14)
    # a per-member input batch gives each member its own rows
    xs = torch.randn(4, 5, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    out = nets(xs)
    for b in range(len(widths)):
        torch.testing.assert_close(out[b], nets.member(b)(xs[b]), rtol=0, atol=1e-14)


def test_initialization_equals_separately_built_networks() -> None:
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    nets = BatchedShallowNetwork(1, [2, 4], 1, generator=g1, dtype=F64)
    for b, w in enumerate([2, 4]):
        alone = ShallowNetwork(1, w, 1, generator=g2, dtype=F64)
        torch.testing.assert_close(nets.member(b).theta, alone.theta, rtol=0, atol=0)
        torch.testing.assert_close(nets.member(b).phi, alone.phi, rtol=0, atol=0)


def test_padding_gets_no_gradient_and_training_matches_separate_training() -> None:
    widths = [2, 5]
    x = torch.linspace(-1, 1, 40, dtype=F64).unsqueeze(1)
    y = torch.sin(3 * x)
    nets = BatchedShallowNetwork(1, widths, 1, generator=torch.Generator().manual_seed(0), dtype=F64)
    alone = [nets.member(b) for b in range(len(widths))]
    opt = torch.optim.Adam(nets.parameters(), lr=0.05)
    opts = [torch.optim.Adam(n.parameters(), lr=0.05) for n in alone]
    for _ in range(30):
        loss = (nets(x) - y).pow(2).mean(dim=(1, 2)).sum()
        opt.zero_grad()
        loss.backward()
        assert nets.theta.grad is not None
        assert torch.all(nets.theta.grad[0, :, 2:] == 0) and torch.all(nets.phi.grad[0, 2:] == 0)
        opt.step()
        for net, o in zip(alone, opts, strict=False):
            o.zero_grad()
            (net(x) - y).pow(2).mean().backward()
            o.step()
    assert torch.all(nets.theta[0, :, 2:] == 0)  # padding never moved
    for b, net in enumerate(alone):
        torch.testing.assert_close(nets.member(b)(x), net(x).detach(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("widths", [[], [0, 2]])
def test_bad_widths(widths: list[int]) -> None:
    with pytest.raises(ValueError, match="widths"):
        BatchedShallowNetwork(1, widths)


def test_bad_input_shape() -> None:
    nets = BatchedShallowNetwork(2, [1, 2])
    with pytest.raises(ValueError, match="x must be"):
        nets(torch.zeros(3, 5, 2))


def test_uniform_joints_moves_the_joints_and_keeps_the_slopes() -> None:
    nets = BatchedShallowNetwork(
        1, [3, 5], 1, init="he", generator=torch.Generator().manual_seed(0), dtype=F64
    )
    slopes = nets.theta.detach().clone()
    expected = torch.rand(nets.theta0.shape, generator=torch.Generator().manual_seed(1))
    assert nets.uniform_joints(generator=torch.Generator().manual_seed(1)) is nets
    assert torch.equal(nets.theta, slopes)
    assert torch.equal(nets.theta0, -slopes * expected.to(F64))  # the draw of torch.rand(theta0.shape)
    for b, w in enumerate(nets.widths):
        joints = nets.member(b).joints()
        assert torch.allclose(joints, expected[b, 0, :w].to(F64)) and ((joints >= 0) & (joints <= 1)).all()
    nets.uniform_joints(-2.0, 3.0, generator=torch.Generator().manual_seed(2))
    joints = torch.cat([nets.member(b).joints() for b in range(2)])
    assert ((joints >= -2) & (joints <= 3)).all() and (joints < 0).any()
    with pytest.raises(ValueError):
        BatchedShallowNetwork(2, [3], 1).uniform_joints()
    with pytest.raises(ValueError):
        nets.uniform_joints(1.0, 0.0)
