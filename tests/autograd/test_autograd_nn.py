"""udl.autograd.nn: Linear, MLP and SGD against torch.nn and torch.optim.SGD in float64."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from udl.autograd import Tensor, cross_entropy, no_grad
from udl.autograd.nn import MLP, SGD, Linear

SIZES = [5, 16, 12, 4]


def _torch_mlp(sizes: list[int], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k, (d_in, d_out) in enumerate(pairwise(sizes)):
        if k:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(d_in, d_out, dtype=torch.float64))
    return nn.Sequential(*layers)


def _state_of(seq: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in seq if isinstance(m, nn.Linear)]


def _data(seed: int, n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and learnable labels (the class is the largest of a fixed projection of the input)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, SIZES[0]))
    projection = np.random.default_rng(99).normal(size=(SIZES[0], SIZES[-1]))
    return x, (x @ projection).argmax(axis=1)


# ---- Linear --------------------------------------------------------------------------------------------------


def test_linear_he_initialization():
    layer = Linear(400, 300, np.random.default_rng(0))
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert layer.weight.dtype == np.float64
    np.testing.assert_array_equal(layer.bias.data, 0.0)
    # UDL eq. 7.32: variance 2 / D_in; 120,000 samples pin the standard deviation to well within 1%.
    assert layer.weight.data.std() == pytest.approx(math.sqrt(2.0 / 400), rel=0.01)
    assert abs(layer.weight.data.mean()) < 0.003
    again = Linear(400, 300, np.random.default_rng(0))
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)
    other = Linear(400, 300, np.random.default_rng(1))
    assert not np.array_equal(other.weight.data, layer.weight.data)


def test_he_init_keeps_relu_activations_from_vanishing_or_exploding():
    # With He init the second moment of the pre-activations stays roughly constant with depth (UDL fig. 7.7).
    rng = np.random.default_rng(3)
    net = MLP([100] * 21, rng)
    h = Tensor(rng.normal(size=(500, 100)))
    moments = []
    with no_grad():
        for layer in net.layers:
            f = layer(h)
            moments.append(float((f.data**2).mean()))
            h = f.relu()
    assert 0.2 < moments[-1] / moments[0] < 5.0


def test_linear_matches_torch_and_validates():
    rng = np.random.default_rng(1)
    ref = nn.Linear(3, 2, dtype=torch.float64)
    w, b = ref.weight.detach().numpy(), ref.bias.detach().numpy()
    layer = Linear.from_arrays(w, b)
    assert (layer.in_features, layer.out_features) == (3, 2)
    x = rng.normal(size=(4, 6, 3))  # extra leading axes
    np.testing.assert_allclose(layer(x).data, ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-14)
    # The arrays are copied: changing the source does not change the layer.
    w_before = w.copy()
    with torch.no_grad():
        ref.weight.add_(1.0)
    np.testing.assert_array_equal(layer.weight.data, w_before)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        layer(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bias must have shape"):
        Linear.from_arrays(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="weight must have shape"):
        Linear.from_arrays(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=">= 1"):
        Linear(0, 2, rng)
    with pytest.raises(ValueError, match="Generator"):
        Linear(2, 2, 0)  # type: ignore[arg-type]
    assert Linear.from_arrays([[1, 2]], [0]).weight.dtype == np.float64  # integers become float64


# ---- MLP against torch ---------------------------------------------------------------------------------------


def test_mlp_structure():
    net = MLP(SIZES, np.random.default_rng(0))
    assert net.sizes == tuple(SIZES) and len(net.layers) == 3
    assert [p.shape for p in net.parameters()] == [(16, 5), (16,), (12, 16), (12,), (4, 12), (4,)]
    assert repr(net) == "MLP(sizes=[5, 16, 12, 4])"
    with pytest.raises(ValueError, match="at least"):
        MLP([3], np.random.default_rng(0))


def test_mlp_matches_torch_outputs_loss_and_gradients():
    seq = _torch_mlp(SIZES, seed=0)
    net = MLP(SIZES, np.random.default_rng(123))
    net.load_state(_state_of(seq))
    x, y = _data(1)

    logits = net(x)
    ref_logits = seq(torch.from_numpy(x))
    np.testing.assert_allclose(logits.data, ref_logits.detach().numpy(), rtol=1e-13, atol=1e-14)

    loss = cross_entropy(logits, y)
    ref_loss = F.cross_entropy(ref_logits, torch.from_numpy(y))
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-13)

    loss.backward()
    ref_loss.backward()
    for p, q in zip(net.parameters(), seq.parameters(), strict=True):
        assert q.grad is not None
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_mlp_state_round_trip_and_validation():
    net = MLP(SIZES, np.random.default_rng(0))
    state = net.state()
    clone = MLP.from_state(state)
    assert clone.sizes == net.sizes
    x, _ = _data(2)
    np.testing.assert_array_equal(clone(x).data, net(x).data)
    state[0][0][:] = 0.0  # state() returns copies
    assert np.any(net.layers[0].weight.data != 0.0)
    with pytest.raises(ValueError, match="expected 3"):
        net.load_state(state[:2])
    bad = [(np.zeros((16, 5)), np.zeros(16)), (np.zeros((12, 15)), np.zeros(12)), state[2]]
    with pytest.raises(ValueError, match="layer 1"):
        net.load_state(bad)
    with pytest.raises(ValueError, match="takes 15 inputs"):
        MLP.from_state(bad)


# ---- SGD against torch.optim.SGD -----------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_over_20_steps(momentum):
    seq = _torch_mlp(SIZES, seed=1)
    net = MLP.from_state(_state_of(seq))
    opt = SGD(net.parameters(), lr=0.1, momentum=momentum)
    ref_opt = torch.optim.SGD(seq.parameters(), lr=0.1, momentum=momentum)
    x, y = _data(3, n=80)
    order = np.random.default_rng(4).permutation(80)
    with no_grad():
        initial = cross_entropy(net(x), y).item()
    for step in range(20):
        batch = order[(step * 16) % 80 : (step * 16) % 80 + 16]  # the same minibatches in the same order
        opt.zero_grad()
        loss = cross_entropy(net(x[batch]), y[batch])
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        ref_loss = F.cross_entropy(seq(torch.from_numpy(x[batch])), torch.from_numpy(y[batch]))
        ref_loss.backward()
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-11)
    for p, q in zip(net.parameters(), seq.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-11, atol=1e-13)
    with no_grad():
        assert cross_entropy(net(x), y).item() < 0.9 * initial  # and it actually learned something


def test_sgd_rule_by_hand_and_skips_missing_gradients():
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    q = Tensor(np.array([3.0]), requires_grad=True)
    opt = SGD([p, q], lr=0.1, momentum=0.5)
    g1, g2 = np.array([1.0, 2.0]), np.array([-4.0, 0.5])
    p.grad = g1.copy()
    opt.step()  # m = g1
    np.testing.assert_allclose(p.data, [1.0 - 0.1, -2.0 - 0.2])
    p.grad = g2.copy()
    opt.step()  # m = 0.5 g1 + g2
    np.testing.assert_allclose(p.data, np.array([0.9, -2.2]) - 0.1 * (0.5 * g1 + g2))
    np.testing.assert_array_equal(q.data, [3.0])  # no gradient: untouched
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_sgd_validates_arguments():
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="requires_grad"):
        SGD([Tensor(np.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([p], lr=0.1, momentum=1.0)


def test_training_fits_a_small_problem():
    # Two well-separated Gaussian blobs: full-batch SGD with momentum reaches near-zero training loss.
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(-2.0, 0.5, size=(30, 2)), rng.normal(2.0, 0.5, size=(30, 2))])
    y = np.repeat([0, 1], 30)
    net = MLP([2, 8, 2], rng)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(100):
        opt.zero_grad()
        loss = cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    with no_grad():
        accuracy = float((net(x).data.argmax(axis=1) == y).mean())
    assert loss.item() < 0.05 and accuracy == 1.0
