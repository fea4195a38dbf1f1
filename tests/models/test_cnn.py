"""Tests of udl.models.cnn: parameter counts, shapes, forward passes against hand-written convolutions
(float64, values and gradients), and seeded initialization that never touches the global RNG."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64
from reference import gen as _gen
from udl.models import MNIST1DCNN, DigitsCNN, DigitsCNNConfig, MNIST1DCNNConfig
from udl.nn import MLP

# ------------------------------------------------------------------------------------------------ sizes


def test_mnist1d_cnn_has_exactly_2050_parameters_and_60_flat_features():
    net = MNIST1DCNN()
    assert net.config.lengths == (40, 19, 9, 4)
    assert net.config.flat_features == 60
    assert net.config.hidden_units == (285, 135, 60)
    # 15(1*3+1) + 2 * 15(15*3+1) + 10(60+1), counted by hand.
    assert 15 * 4 + 2 * 15 * 46 + 10 * 61 == 2050
    assert net.num_parameters() == sum(p.numel() for p in net.parameters()) == 2050
    assert [tuple(c.weight.shape) for c in net.convs] == [(15, 1, 3), (15, 15, 3), (15, 15, 3)]
    assert tuple(net.linear.weight.shape) == (10, 60)


def test_fully_connected_network_with_the_same_hidden_units_has_59065_parameters():
    hidden = MNIST1DCNNConfig().hidden_units
    assert MLP(40, hidden, 10).num_parameters() == 59065


def test_digits_cnn_parameter_count_and_shapes():
    net = DigitsCNN()
    assert net.config.final_size == 2 and net.config.flat_features == 128
    assert net.num_parameters() == (16 * 9 + 16) + (32 * 16 * 9 + 32) + (128 * 10 + 10) == 6090
    assert net(torch.zeros(7, 1, 8, 8)).shape == (7, 10)
    wide = DigitsCNN(DigitsCNNConfig(image_size=16, channels=(4, 8, 8), num_classes=3))
    assert wide(torch.zeros(2, 1, 16, 16)).shape == (2, 3)


def test_mnist1d_cnn_accepts_with_and_without_channel_axis():
    net = MNIST1DCNN(generator=_gen(0))
    x = torch.randn(6, 40, generator=_gen(1))
    out = net(x)
    assert out.shape == (6, 10)
    assert torch.equal(out, net(x.unsqueeze(1)))


def test_config_validation():
    with pytest.raises(ValueError, match="more than the padded length"):
        MNIST1DCNNConfig(in_length=6, num_layers=3)  # 6 -> 2 -> no room for a kernel of 3
    with pytest.raises(ValueError, match=">= 1"):
        MNIST1DCNNConfig(channels=0)
    with pytest.raises(ValueError, match="odd"):
        DigitsCNNConfig(kernel_size=4)
    with pytest.raises(ValueError, match="to nothing"):
        DigitsCNNConfig(channels=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="unknown init"):
        MNIST1DCNN(init="kaiming")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ forward


def _conv1d_by_hand(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int) -> torch.Tensor:
    """The convolution of UDL section 10.2 with channels and stride:
    h[n, c, i] = b[c] + sum_{c', k} w[c, c', k] x[n, c', s i + k]."""
    n, _, length = x.shape
    c_out, _, k = w.shape
    out_len = (length - k) // stride + 1
    out = torch.empty(n, c_out, out_len, dtype=x.dtype)
    for i in range(out_len):
        window = x[:, :, stride * i : stride * i + k]  # (N, C_in, K)
        out[:, :, i] = b + torch.einsum("nck,dck->nd", window, w)
    return out


def test_mnist1d_cnn_forward_equals_hand_written_convolutions_float64():
    net = MNIST1DCNN(init="torch", generator=_gen(0), dtype=F64)
    x = torch.randn(5, 40, generator=_gen(1), dtype=F64)
    convs = [(c.weight, c.bias) for c in net.convs]

    # 1) the same network written with F.conv1d
    h = x.unsqueeze(1)
    for w, b in convs:
        h = F.relu(F.conv1d(h, w, b, stride=2))
    expected_functional = h.flatten(1) @ net.linear.weight.T + net.linear.bias

    # 2) the convolution sums (UDL section 10.2) written out, position by position
    h = x.unsqueeze(1)
    for w, b in convs:
        h = torch.relu(_conv1d_by_hand(h, w, b, stride=2))
    assert h.shape == (5, 15, 4)
    expected_by_hand = h.reshape(5, 60) @ net.linear.weight.T + net.linear.bias

    out = net(x)
    torch.testing.assert_close(out, expected_functional, rtol=0, atol=1e-12)
    torch.testing.assert_close(out, expected_by_hand, rtol=0, atol=1e-12)


def test_mnist1d_cnn_gradients_equal_hand_written_ones_float64():
    net = MNIST1DCNN(init="torch", generator=_gen(2), dtype=F64)
    x = torch.randn(4, 40, generator=_gen(3), dtype=F64, requires_grad=True)
    y = torch.tensor([0, 3, 9, 5])
    F.cross_entropy(net(x), y).backward()
    got = [x.grad.clone()] + [p.grad.clone() for p in net.parameters()]

    params = [p.detach().clone().requires_grad_() for p in net.parameters()]
    x2 = x.detach().clone().requires_grad_()
    h = x2.unsqueeze(1)
    for i in range(3):
        h = torch.relu(_conv1d_by_hand(h, params[2 * i], params[2 * i + 1], stride=2))
    F.cross_entropy(h.flatten(1) @ params[6].T + params[7], y).backward()
    want = [x2.grad] + [p.grad for p in params]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12)


def test_digits_cnn_forward_equals_hand_written_computation_float64():
    net = DigitsCNN(init="torch", generator=_gen(4), dtype=F64)
    x = torch.rand(3, 1, 8, 8, generator=_gen(5), dtype=F64)
    h = x
    for conv in net.convs:
        h = torch.relu(F.conv2d(h, conv.weight, conv.bias, padding=1))  # "same" 3x3
        n, c, height, width = h.shape
        # 2x2 max pooling as a reshape: (N, C, H/2, 2, W/2, 2) -> max over the two window axes
        h = h.reshape(n, c, height // 2, 2, width // 2, 2).amax(dim=(3, 5))
    expected = h.flatten(1) @ net.linear.weight.T + net.linear.bias
    torch.testing.assert_close(net(x), expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------------ initialization


@pytest.mark.parametrize("model", [MNIST1DCNN, DigitsCNN])
@pytest.mark.parametrize("init", ["he", "notebook", "torch"])
def test_init_is_reproducible_and_leaves_the_global_rng_alone(model, init):
    state = torch.get_rng_state()
    a = model(init=init, generator=_gen(7))
    b = model(init=init, generator=_gen(7))
    c = model(init=init, generator=_gen(8))
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_he_init_bounds_variance_and_zero_biases():
    net = MNIST1DCNN(MNIST1DCNNConfig(channels=64), init="he", generator=_gen(9))
    for layer in [*net.convs, net.linear]:
        fan_in = math.prod(layer.weight.shape[1:])
        assert torch.all(layer.bias == 0)
        assert layer.weight.abs().max() <= math.sqrt(6 / fan_in)
    w = net.convs[1].weight  # 64 x 64 x 3 = 12,288 draws from U(-a, a), variance 2 / fan_in
    assert float(w.detach().var()) == pytest.approx(2 / (64 * 3), rel=0.05)


def test_notebook_init_is_he_for_the_linear_layer_and_torch_default_for_convolutions():
    net = MNIST1DCNN(init="notebook", generator=_gen(10))
    assert torch.all(net.linear.bias == 0)
    assert net.linear.weight.abs().max() <= math.sqrt(6 / 60)
    for conv in net.convs:
        bound = 1 / math.sqrt(math.prod(conv.weight.shape[1:]))
        assert conv.weight.abs().max() <= bound and conv.bias.abs().max() <= bound
        assert torch.any(conv.bias != 0)


def test_torch_init_equals_torch_default_layers():
    """With the global RNG seeded like the generator, torch's own layers get the same parameters."""
    net = MNIST1DCNN(init="torch", generator=_gen(11))
    with torch.random.fork_rng():
        torch.manual_seed(11)
        reference = [
            nn.Conv1d(1, 15, 3, 2),
            nn.Conv1d(15, 15, 3, 2),
            nn.Conv1d(15, 15, 3, 2),
            nn.Linear(60, 10),
        ]
    ours = [*net.convs, net.linear]
    for a, b in zip(ours, reference, strict=True):
        torch.testing.assert_close(a.weight, b.weight, rtol=1e-6, atol=0)
        torch.testing.assert_close(a.bias, b.bias, rtol=1e-6, atol=0)


def test_he_init_equals_torch_kaiming_uniform():
    net = DigitsCNN(init="he", generator=_gen(12))
    g = _gen(12)
    for layer in [*net.convs, net.linear]:
        expected = torch.empty_like(layer.weight)
        nn.init.kaiming_uniform_(expected, nonlinearity="relu", generator=g)
        torch.testing.assert_close(layer.weight, expected, rtol=1e-6, atol=0)
