"""udl.models.ResidualMLP and ResNet: the plain network is udl.nn.MLP, the residual toggle changes only the skip
connections, hidden states follow h_k = h_{k-1} + f_k[h_{k-1}], shapes, and the small ResNet trains."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64
from reference import gen as _gen
from udl.models import ResidualMLP, ResidualMLPConfig, ResNet, ResNetConfig
from udl.nn import MLP, BatchNorm, ResidualConvBlock, count_parameters

# ------------------------------------------------------------------------------------------------ ResidualMLP


@pytest.mark.parametrize("depth", [0, 1, 5])
def test_plain_residual_mlp_is_the_books_mlp(depth):
    """residual=False, batchnorm=False, one layer per block: exactly udl.nn.MLP with depth + 1 hidden layers,
    parameters drawn in the same order from the same generator."""
    cfg = ResidualMLPConfig(3, 2, width=7, depth=depth, residual=False)
    plain = ResidualMLP(cfg, generator=_gen(0), dtype=F64)
    mlp = MLP(3, (7,) * (depth + 1), 2, generator=_gen(0), dtype=F64)
    assert cfg.hidden_layers == mlp.depth == depth + 1
    assert count_parameters(plain) == count_parameters(mlp)
    for p, q in zip(plain.parameters(), mlp.parameters(), strict=True):
        assert torch.equal(p, q)
    x = torch.randn(11, 3, generator=_gen(1), dtype=F64)
    assert torch.equal(plain(x), mlp(x))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_residual_toggle_changes_only_the_skip_connections(batchnorm):
    kwargs = {"width": 6, "depth": 4, "layers_per_block": 2, "batchnorm": batchnorm}
    res = ResidualMLP(ResidualMLPConfig(3, 2, residual=True, **kwargs), generator=_gen(2), dtype=F64)
    plain = ResidualMLP(ResidualMLPConfig(3, 2, residual=False, **kwargs), generator=_gen(2), dtype=F64)
    assert res.state_dict().keys() == plain.state_dict().keys()
    for a, b in zip(res.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x = torch.randn(8, 3, generator=_gen(3), dtype=F64)
    assert not torch.allclose(res(x), plain(x))
    h_res, h_plain = res.hidden_states(x), plain.hidden_states(x)
    for k, block in enumerate(res.blocks, start=1):
        torch.testing.assert_close(h_res[k], h_res[k - 1] + block.branch(h_res[k - 1]), rtol=0, atol=0)
    for k, block in enumerate(plain.blocks, start=1):
        assert torch.equal(h_plain[k], block.branch(h_plain[k - 1]))


def test_hidden_states_and_forward_agree():
    net = ResidualMLP(ResidualMLPConfig(4, 3, width=5, depth=3, batchnorm=True), generator=_gen(4), dtype=F64)
    x = torch.randn(10, 4, generator=_gen(5), dtype=F64)
    states = net.hidden_states(x)
    assert len(states) == 4 and all(s.shape == (10, 5) for s in states)
    torch.testing.assert_close(net(x), net.head(states[-1]), rtol=0, atol=0)
    kinds = [type(m).__name__ for m in net.head]
    assert kinds == ["BatchNorm", "Activation", "Linear"]


def test_rescale_divides_every_block_by_root_two():
    net = ResidualMLP(ResidualMLPConfig(2, 1, width=4, depth=2, rescale=True), generator=_gen(6), dtype=F64)
    x = torch.randn(5, 2, generator=_gen(7), dtype=F64)
    states = net.hidden_states(x)
    for k, block in enumerate(net.blocks, start=1):
        expected = (states[k - 1] + block.branch(states[k - 1])) / math.sqrt(2)
        torch.testing.assert_close(states[k], expected, rtol=1e-15, atol=1e-15)


def test_batchnorm_variant_uses_running_stats_in_eval():
    net = ResidualMLP(ResidualMLPConfig(3, 2, width=4, depth=2, batchnorm=True), generator=_gen(8))
    n_bn = sum(isinstance(m, BatchNorm) for m in net.modules())
    assert n_bn == 2 + 1  # one per block (one layer each) and one before the output layer
    x = torch.randn(16, 3, generator=_gen(9))
    net.train()(x)
    net.eval()
    single = net(x[:1])
    assert single.shape == (1, 2)
    torch.testing.assert_close(single, net(x)[:1])  # eval output of an example does not depend on the batch


def test_residual_mlp_init_never_touches_the_global_rng():
    state = torch.random.get_rng_state()
    a = ResidualMLP(ResidualMLPConfig(5, 3, depth=3, batchnorm=True), generator=_gen(10))
    b = ResidualMLP(ResidualMLPConfig(5, 3, depth=3, batchnorm=True), generator=_gen(10))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_residual_mlp_config_validation():
    with pytest.raises(ValueError, match="depth >= 0"):
        ResidualMLPConfig(3, 2, depth=-1)
    with pytest.raises(ValueError, match="width"):
        ResidualMLPConfig(3, 2, width=0)
    with pytest.raises(ValueError, match="activation"):
        ResidualMLPConfig(3, 2, activation="nope")
    with pytest.raises(ValueError, match="init"):
        ResidualMLPConfig(3, 2, init="glorot")  # type: ignore[arg-type]
    assert ResidualMLPConfig(3, 2, depth=4, layers_per_block=2).hidden_layers == 9


# ------------------------------------------------------------------------------------------------------ ResNet


def test_resnet_1d_on_mnist1d_shaped_input():
    net = ResNet(ResNetConfig(channels=(8, 16, 32), blocks=(1, 2, 1)), generator=_gen(11), dtype=F64)
    x = torch.randn(6, 40, generator=_gen(12), dtype=F64)  # MNIST-1D: (N, 40) read as (N, 1, 40)
    out = net(x)
    assert out.shape == (6, 10)
    torch.testing.assert_close(out, net(x.unsqueeze(1)), rtol=0, atol=0)
    assert net.features(x).shape == (6, 32, 10)  # 40 → 20 → 10 with two stride-2 stages
    blocks = [m for m in net.modules() if isinstance(m, ResidualConvBlock)]
    assert len(blocks) == 4
    assert [not isinstance(b.shortcut, nn.Identity) for b in blocks] == [False, True, False, True]
    # head: global average pooling of the features, then the linear layer
    torch.testing.assert_close(out, F.linear(net.features(x).mean(-1), net.fc.weight, net.fc.bias))


def test_resnet_2d_images():
    net = ResNet(
        ResNetConfig(in_channels=3, num_classes=4, channels=(4, 8), blocks=(1, 1), dims=2), generator=_gen(13)
    )
    x = torch.randn(2, 3, 9, 8, generator=_gen(14))
    assert net(x).shape == (2, 4)
    assert net.features(x).shape == (2, 8, 5, 4)


def test_resnet_residual_toggle():
    cfg = ResNetConfig(channels=(4, 8), blocks=(2, 1))
    plain = ResNet(ResNetConfig(channels=(4, 8), blocks=(2, 1), residual=False), generator=_gen(15))
    res = ResNet(cfg, generator=_gen(15))
    assert not any(isinstance(m, nn.Conv1d) and m.kernel_size == (1,) for m in plain.modules())
    assert sum(isinstance(m, nn.Conv1d) and m.kernel_size == (1,) for m in res.modules()) == 1
    assert torch.equal(plain.stem.weight, res.stem.weight)
    assert ResNet().config == ResNetConfig()


def test_resnet_trains_on_a_small_problem():
    g = _gen(16)
    x = torch.randn(64, 1, 24, generator=g)
    y = (x[:, 0, :12].sum(-1) > x[:, 0, 12:].sum(-1)).long()  # which half of the signal is larger
    net = ResNet(ResNetConfig(num_classes=2, channels=(8, 16), blocks=(1, 1)), generator=_gen(17))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        loss = F.cross_entropy(net(x), y)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_resnet_bad_input():
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNetConfig(channels=(4, 8), blocks=(1,))
    with pytest.raises(ValueError, match="dims"):
        ResNetConfig(dims=3)
    with pytest.raises(ValueError, match="odd"):
        ResNetConfig(kernel_size=2)
    net = ResNet(ResNetConfig(in_channels=2, channels=(4,), blocks=(1,)), generator=_gen(18))
    with pytest.raises(ValueError, match="expects 3-D input"):
        net(torch.zeros(2, 3, 10))
