"""Tests of udl.nn.ShallowNetwork (UDL ch. 3)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from reference import F64, REFERENCE_ACTIVATIONS
from reference import gen as _gen
from udl.functional import ACTIVATIONS, count_regions_1d
from udl.nn import ShallowNetwork

# UDL fig. 3.3-style parameters: joints at 0.3, 0.5 and 0.5 / 0.65 ~ 0.769 inside [0, 1].
FIG_3_3_THETA = torch.tensor([[0.3, -1.0], [-1.0, 2.0], [-0.5, 0.65]], dtype=F64)
FIG_3_3_PHI = torch.tensor([-0.3, 2.0, -1.0, 7.0], dtype=F64)


def test_reference_table_covers_every_activation():
    assert set(REFERENCE_ACTIVATIONS) == set(ACTIVATIONS)


# --------------------------------------------------------------------------------------------- parameters


def test_from_parameters_round_trip():
    g = _gen(0)
    theta = torch.randn(5, 4, generator=g, dtype=F64)  # D = 5 units, D_i = 3
    phi = torch.randn(2, 6, generator=g, dtype=F64)  # D_o = 2
    net = ShallowNetwork.from_parameters(theta, phi, activation="tanh")
    assert (net.in_features, net.hidden_features, net.out_features) == (3, 5, 2)
    assert net.activation_name == "tanh"
    assert net.hidden.bias.dtype == F64
    assert torch.equal(net.theta.detach(), theta)
    assert torch.equal(net.phi.detach(), phi)
    # book layout <-> nn.Linear storage
    assert torch.equal(net.hidden.bias.detach(), theta[:, 0])
    assert torch.equal(net.hidden.weight.detach(), theta[:, 1:])
    assert torch.equal(net.output.bias.detach(), phi[:, 0])
    assert torch.equal(net.output.weight.detach(), phi[:, 1:])
    # and back again
    again = ShallowNetwork.from_parameters(net.theta.detach(), net.phi.detach(), activation="tanh")
    x = torch.randn(4, 3, generator=g, dtype=F64)
    with torch.no_grad():
        assert torch.equal(again(x), net(x))


def test_from_parameters_one_dimensional_phi_is_one_output():
    net = ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI)
    assert net.out_features == 1
    assert torch.equal(net.phi.detach(), FIG_3_3_PHI.unsqueeze(0))
    assert torch.equal(net.theta.detach(), FIG_3_3_THETA)


def test_from_parameters_does_not_alias_inputs():
    theta, phi = FIG_3_3_THETA.clone(), FIG_3_3_PHI.clone()
    net = ShallowNetwork.from_parameters(theta, phi)
    theta.zero_()
    phi.zero_()
    assert torch.equal(net.theta.detach(), FIG_3_3_THETA)


@pytest.mark.parametrize(
    ("theta_shape", "phi_shape"),
    [((3, 2), (5,)), ((3, 2), (1, 3)), ((3,), (4,)), ((3, 2), (1, 1, 4))],
)
def test_from_parameters_shape_errors(theta_shape, phi_shape):
    with pytest.raises(ValueError, match="theta must be"):
        ShallowNetwork.from_parameters(torch.zeros(theta_shape), torch.zeros(phi_shape))


def test_from_parameters_leaves_global_rng_untouched():
    state = torch.get_rng_state()
    ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI)
    assert torch.equal(torch.get_rng_state(), state)


def test_parameter_count():
    net = ShallowNetwork(3, 7, 2, generator=_gen(1))
    assert sum(p.numel() for p in net.parameters()) == 7 * (3 + 1) + 2 * (7 + 1)


# ------------------------------------------------------------------------------------------------ forward


def test_forward_eq_3_1_by_hand():
    # y = φ0 + Σ_d φ_d a[θ_d0 + θ_d1 x], evaluated one scalar at a time
    net = ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI)
    xs = torch.linspace(-1, 2, 31, dtype=F64)
    with torch.no_grad():
        out = net(xs.unsqueeze(1)).squeeze(1)
    th, ph = FIG_3_3_THETA.tolist(), FIG_3_3_PHI.tolist()
    for x, y in zip(xs.tolist(), out.tolist(), strict=True):
        expected = ph[0] + sum(ph[d + 1] * max(0.0, th[d][0] + th[d][1] * x) for d in range(3))
        assert y == pytest.approx(expected, rel=1e-13, abs=1e-13)


@pytest.mark.parametrize("activation", sorted(REFERENCE_ACTIVATIONS))
def test_forward_eq_3_12_multidimensional(activation):
    # y_j = φ_j0 + Σ_d φ_jd a[θ_d0 + Σ_i θ_di x_i], with explicit loops
    net = ShallowNetwork(3, 4, 2, activation=activation, generator=_gen(2), dtype=F64)
    act = REFERENCE_ACTIVATIONS[activation]
    theta, phi = net.theta.detach(), net.phi.detach()
    x = 2 * torch.randn(6, 3, generator=_gen(3), dtype=F64)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (6, 2) and out.dtype == F64
    for n in range(6):
        pre = torch.stack([theta[d, 0] + sum(theta[d, i + 1] * x[n, i] for i in range(3)) for d in range(4)])
        h = act(pre)
        for j in range(2):
            expected = phi[j, 0] + sum(phi[j, d + 1] * h[d] for d in range(4))
            assert float(out[n, j]) == pytest.approx(float(expected), rel=1e-12, abs=1e-12)


def test_forward_batch_dims_and_hidden_units():
    net = ShallowNetwork(2, 5, 3, generator=_gen(4), dtype=F64)
    x = torch.randn(4, 7, 2, generator=_gen(5), dtype=F64)
    with torch.no_grad():
        out = net(x)
        pre = net.pre_activations(x)
        h = net.hidden_units(x)
    assert out.shape == (4, 7, 3)
    assert pre.shape == h.shape == (4, 7, 5)
    torch.testing.assert_close(pre, x @ net.theta.detach()[:, 1:].T + net.theta.detach()[:, 0])
    torch.testing.assert_close(h, torch.relu(pre))
    torch.testing.assert_close(out, h @ net.phi.detach()[:, 1:].T + net.phi.detach()[:, 0])


def test_activation_pattern():
    net = ShallowNetwork(2, 6, generator=_gen(6), dtype=F64)
    x = torch.randn(50, 2, generator=_gen(7), dtype=F64)
    with torch.no_grad():
        p = net.activation_pattern(x)
        assert p.dtype == torch.bool and p.shape == (50, 6)
        assert torch.equal(p, net.pre_activations(x) > 0)
    assert p.any() and not p.all()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    net = ShallowNetwork(1, 4, activation=activation, generator=_gen(8))
    assert net.activation_name == activation
    assert f"activation={activation!r}" in repr(net)
    x = torch.linspace(-3, 3, 9).unsqueeze(1)
    y = net(x)
    assert y.shape == (9, 1) and torch.isfinite(y).all()
    y.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_heaviside_network_is_piecewise_constant():
    net = ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI, activation="heaviside")
    xs = torch.tensor([0.0, 0.4, 0.6, 0.9], dtype=F64).unsqueeze(1)
    with torch.no_grad():
        y = net(xs).squeeze(1)
    # active units: x=0 -> {1}; 0.4 -> {}; 0.6 -> {2}; 0.9 -> {2, 3}
    expected = [-0.3 + 2.0, -0.3, -0.3 - 1.0, -0.3 - 1.0 + 7.0]
    torch.testing.assert_close(y, torch.tensor(expected, dtype=F64))


def test_linear_activation_collapses_to_linear_function():
    net = ShallowNetwork(2, 6, 1, activation="linear", generator=_gen(9), dtype=F64)
    theta, phi = net.theta.detach(), net.phi.detach()
    slope = phi[0, 1:] @ theta[:, 1:]  # (2,)
    offset = phi[0, 0] + phi[0, 1:] @ theta[:, 0]
    x = torch.randn(20, 2, generator=_gen(10), dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(net(x).squeeze(1), x @ slope + offset)


# -------------------------------------------------------------------------------------------- initialization


@pytest.mark.parametrize("init", ["torch", "he", "xavier"])
def test_generator_determinism_and_global_rng_untouched(init):
    state = torch.get_rng_state()
    a = ShallowNetwork(3, 8, 2, init=init, generator=_gen(11))
    b = ShallowNetwork(3, 8, 2, init=init, generator=_gen(11))
    c = ShallowNetwork(3, 8, 2, init=init, generator=_gen(12))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.theta, b.theta) and torch.equal(a.phi, b.phi)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)


def test_default_init_is_torch_uniform():
    net = ShallowNetwork(300, 200, 1, generator=_gen(13))
    bound = 1 / math.sqrt(300)
    w, b = net.hidden.weight.detach(), net.hidden.bias.detach()
    assert float(w.abs().max()) <= bound and float(b.abs().max()) <= bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert b.unique().numel() == 200  # drawn, not constant


def test_he_init_has_zero_biases():
    net = ShallowNetwork(500, 300, 2, init="he", generator=_gen(14))
    assert torch.equal(net.hidden.bias.detach(), torch.zeros(300))
    assert torch.equal(net.output.bias.detach(), torch.zeros(2))
    assert float(net.hidden.weight.detach().std()) == pytest.approx(math.sqrt(2 / 500), rel=0.03)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((0, 3), {}), ((1, 0), {}), ((1, 3, 0), {}), ((1, 3), {"activation": "swish"})],
)
def test_invalid_arguments_raise(args, kwargs):
    with pytest.raises(ValueError):
        ShallowNetwork(*args, **kwargs)


def test_float64_dtype():
    net = ShallowNetwork(2, 3, dtype=F64, generator=_gen(15))
    assert all(p.dtype == F64 for p in net.parameters())


# ---------------------------------------------------------------------------------------------------- joints


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "heaviside"])
def test_joints_are_where_pre_activations_vanish(activation):
    net = ShallowNetwork(1, 7, activation=activation, generator=_gen(16), dtype=F64)
    joints = net.joints().detach()
    assert joints.shape == (7,)
    assert torch.isfinite(joints).all()
    with torch.no_grad():
        pre = net.pre_activations(joints.unsqueeze(1))  # (7 points, 7 units)
    torch.testing.assert_close(pre.diagonal(), torch.zeros(7, dtype=F64), rtol=0, atol=1e-12)
    # unit order is kept: the joint of unit d is -θ_d0 / θ_d1
    theta = net.theta.detach()
    torch.testing.assert_close(joints, -theta[:, 0] / theta[:, 1], rtol=1e-15, atol=0)


def test_joints_fig_3_3_and_slope_changes():
    net = ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI)
    joints = net.joints().detach()
    torch.testing.assert_close(joints, torch.tensor([0.3, 0.5, 0.5 / 0.65], dtype=F64))
    # the output is linear between sorted joints and its slope changes at each one
    edges = [0.0, *sorted(joints.tolist()), 1.0]
    slopes = []
    with torch.no_grad():
        for lo, hi in itertools.pairwise(edges):
            x = torch.linspace(lo + 1e-6, hi - 1e-6, 5, dtype=F64).unsqueeze(1)
            y = net(x).squeeze(1)
            s = (y[1:] - y[:-1]) / (x[1:, 0] - x[:-1, 0])
            torch.testing.assert_close(s, s[:1].expand(4), rtol=1e-9, atol=1e-9)
            slopes.append(float(s[0]))
    # slope on each piece is Σ over active units φ_d θ_d1 (here: {1}, {}, {2}, {2, 3})
    expected = [2.0 * -1.0, 0.0, -1.0 * 2.0, -1.0 * 2.0 + 7.0 * 0.65]
    assert slopes == pytest.approx(expected, abs=1e-8)


def test_fig_3_3_has_four_regions_on_a_line_containing_all_joints():
    net = ShallowNetwork.from_parameters(FIG_3_3_THETA, FIG_3_3_PHI)
    assert count_regions_1d(net, -1.0, 2.0, num=10_000) == 4
    assert count_regions_1d(net, 0.35, 0.45, num=1_000) == 1  # between joints: one region
    assert count_regions_1d(net, 0.35, 0.6, num=1_000) == 2


def test_joints_nan_for_flat_unit():
    theta = torch.tensor([[0.5, 2.0], [1.0, 0.0], [-1.0, 0.0]], dtype=F64)
    net = ShallowNetwork.from_parameters(theta, torch.ones(4, dtype=F64))
    joints = net.joints().detach()
    assert float(joints[0]) == -0.25
    assert torch.isnan(joints[1:]).all()


def test_joints_errors():
    with pytest.raises(ValueError, match="1-D input"):
        ShallowNetwork(2, 3, generator=_gen(17)).joints()
    for activation in ("sigmoid", "tanh", "softplus", "gelu", "linear"):
        with pytest.raises(ValueError, match="piecewise-linear"):
            ShallowNetwork(1, 3, activation=activation, generator=_gen(17)).joints()
