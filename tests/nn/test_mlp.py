"""Tests of udl.nn.MLP, count_parameters, sawtooth_mlp and the activation modules."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64, REFERENCE_ACTIVATIONS
from reference import gen as _gen
from udl.functional import count_regions_1d
from udl.nn import MLP, Activation, Heaviside, activation_module, count_parameters, sawtooth_mlp


def _manual_forward(net: MLP, x: torch.Tensor, act) -> torch.Tensor:
    """UDL eq. 4.15 written out: h_1 = a[β_0 + Ω_0 x], h_k = a[β_{k-1} + Ω_{k-1} h_{k-1}], y = β_K + Ω_K h_K,
    one sample at a time, as column vectors."""
    outs = []
    for sample in x.reshape(-1, x.shape[-1]):
        h = sample.unsqueeze(1)  # (D_i, 1)
        betas, omegas = net.betas, net.omegas
        for k in range(net.depth):
            h = act(betas[k].unsqueeze(1) + omegas[k] @ h)
        outs.append((betas[-1].unsqueeze(1) + omegas[-1] @ h).squeeze(1))
    return torch.stack(outs).reshape(*x.shape[:-1], net.out_features)


# ------------------------------------------------------------------------------------------------ forward


@pytest.mark.parametrize("activation", sorted(REFERENCE_ACTIVATIONS))
@pytest.mark.parametrize("hidden", [(), (5,), (4, 7, 3)])
def test_forward_matches_eq_4_15(activation, hidden):
    net = MLP(3, hidden, 2, activation=activation, init="torch", generator=_gen(0), dtype=F64)
    x = torch.randn(2, 5, 3, generator=_gen(1), dtype=F64)  # extra leading dims are batch dims
    with torch.no_grad():
        out = net(x)
        expected = _manual_forward(net, x, REFERENCE_ACTIVATIONS[activation])
    assert out.shape == (2, 5, 2)
    assert out.dtype == F64
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_structure_and_properties():
    net = MLP(3, [4, 5], 2, generator=_gen(2))
    assert net.widths == (3, 4, 5, 2)
    assert (net.in_features, net.out_features, net.hidden_widths, net.depth) == (3, 2, (4, 5), 2)
    assert len(net.layers) == 3
    assert [tuple(o.shape) for o in net.omegas] == [(4, 3), (5, 4), (2, 5)]
    assert [tuple(b.shape) for b in net.betas] == [(4,), (5,), (2,)]
    for layer, beta, omega in zip(net.layers, net.betas, net.omegas, strict=True):
        assert beta is layer.bias and omega is layer.weight
    assert "hidden_widths=(4, 5)" in repr(net) and "'relu'" in repr(net)


def test_no_hidden_layers_is_affine():
    net = MLP(4, (), 3, generator=_gen(3), dtype=F64)
    assert net.depth == 0 and len(net.layers) == 1
    x = torch.randn(6, 4, generator=_gen(4), dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x @ net.omegas[0].T + net.betas[0], rtol=1e-13, atol=1e-13)
        assert net.pre_activations(x) == []
        pattern = net.activation_pattern(x)
    assert pattern.shape == (6, 0) and pattern.dtype == torch.bool
    assert net.num_parameters() == 5 * 3


def test_float64_parameters_and_gradients():
    net = MLP(2, (8, 8), 1, dtype=F64, generator=_gen(5))
    assert all(p.dtype == F64 for p in net.parameters())
    x = torch.randn(10, 2, generator=_gen(6), dtype=F64)
    net(x).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == F64 for p in net.parameters())
    # float64 gradients agree with finite differences
    small = MLP(2, (3,), 1, activation="tanh", dtype=F64, generator=_gen(7))
    w = small.layers[0].weight
    w0 = w.detach().clone().requires_grad_(True)

    def f(weight: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(small, {"layers.0.weight": weight}, (x,))

    assert torch.autograd.gradcheck(f, (w0,))


def test_relu_network_is_piecewise_linear_with_pattern_fixing_the_function():
    # Within a run of samples sharing one activation pattern the output is linear (zero second difference).
    net = MLP(1, (6, 6), 1, init="torch", generator=_gen(8), dtype=F64)
    x = torch.linspace(-3, 3, 4001, dtype=F64).unsqueeze(1)
    with torch.no_grad():
        y = net(x).squeeze(1)
        p = net.activation_pattern(x)
    same = (p[2:] == p[1:-1]).all(1) & (p[1:-1] == p[:-2]).all(1)
    second = y[2:] - 2 * y[1:-1] + y[:-2]
    assert same.sum() > 3_500
    assert float(second[same].abs().max()) < 1e-12
    assert float(second[~same].abs().max()) > 1e-6  # kinks exist where the pattern changes
    assert count_regions_1d(net, -3.0, 3.0, num=4001) > 4


def test_zero_bias_relu_network_is_positively_homogeneous():
    # With all β_k = 0 (He init), f(αx) = α f(x) for α > 0: regions are cones, so a line through the origin
    # meets exactly two of them.
    net = MLP(1, (6, 5, 4), 1, init="he", generator=_gen(21), dtype=F64)
    x = torch.linspace(-3, 3, 101, dtype=F64).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(net(2.5 * x), 2.5 * net(x), rtol=1e-12, atol=1e-12)
    assert count_regions_1d(net, -3.0, 3.0, num=2_000) == 2


# ------------------------------------------------------------------------------ pre-activations / pattern


def test_pre_activations_and_pattern():
    net = MLP(3, (4, 5, 2), 1, activation="leaky_relu", generator=_gen(9), dtype=F64)
    x = torch.randn(7, 3, generator=_gen(10), dtype=F64)
    with torch.no_grad():
        pre = net.pre_activations(x)
        assert [tuple(f.shape) for f in pre] == [(7, 4), (7, 5), (7, 2)]
        # recompute layer by layer
        h = x
        for k, f in enumerate(pre):
            f_k = h @ net.omegas[k].T + net.betas[k]
            torch.testing.assert_close(f, f_k, rtol=1e-13, atol=1e-13)
            h = F.leaky_relu(f_k)
        pattern = net.activation_pattern(x)
    assert pattern.dtype == torch.bool
    assert pattern.shape == (7, 11)
    assert torch.equal(pattern, torch.cat([f > 0 for f in pre], dim=1))
    assert pattern.any() and not pattern.all()


def test_pattern_counts_zero_pre_activation_as_inactive():
    # He init has zero biases, so at x = 0 every first-layer pre-activation is exactly 0: all units "off".
    net = MLP(3, (5, 4), 1, init="he", generator=_gen(19), dtype=F64)
    with torch.no_grad():
        pattern = net.activation_pattern(torch.zeros(2, 3, dtype=F64))
    assert not pattern.any()
    shallow_pattern = MLP(2, (6,), 1, init="he", generator=_gen(20)).activation_pattern(torch.zeros(1, 2))
    assert not shallow_pattern.any()


# ---------------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("d_in", "hidden", "d_out"),
    [(1, (10,) * 5, 1), (10, (50,) * 5, 1), (3, (), 2), (2, (7,), 4), (5, (3, 9, 1), 6)],
)
def test_parameter_count_formula(d_in, hidden, d_out):
    net = MLP(d_in, hidden, d_out, generator=_gen(11))
    widths = (d_in, *hidden, d_out)
    expected = sum((widths[k] + 1) * widths[k + 1] for k in range(len(widths) - 1))
    assert net.num_parameters() == expected == count_parameters(net)
    assert expected == sum(p.numel() for p in net.parameters())


def test_book_parameter_counts():
    # UDL fig. 4.7: K = 5 layers of D = 10 units on 1 input has 471 parameters; D_i = 10, D = 50 has 10,801.
    assert MLP(1, (10,) * 5, 1, generator=_gen(12)).num_parameters() == 471
    assert MLP(10, (50,) * 5, 1, generator=_gen(12)).num_parameters() == 10_801


def test_count_parameters_shared_counted_once():
    lin = nn.Linear(3, 4)
    assert count_parameters(nn.Sequential(lin, nn.ReLU(), lin)) == 16
    assert count_parameters(nn.ReLU()) == 0


# -------------------------------------------------------------------------------------------- initialization


def test_he_init_statistics():
    net = MLP(1000, (400,), 1, init="he", generator=_gen(13))
    w = net.layers[0].weight.detach()
    target = math.sqrt(2.0 / 1000)
    assert float(w.std()) == pytest.approx(target, rel=0.02)
    assert abs(float(w.mean())) < 0.01 * target
    # second layer: fan-in 400, only 400 samples -> looser tolerance
    assert float(net.layers[1].weight.detach().std()) == pytest.approx(math.sqrt(2.0 / 400), rel=0.15)
    for b in net.betas:
        assert torch.equal(b.detach(), torch.zeros_like(b))


def test_xavier_init_statistics():
    net = MLP(600, (300, 500), 1, init="xavier", bias_init=0.25, generator=_gen(14))
    for layer in net.layers[:2]:
        target = math.sqrt(2.0 / (layer.in_features + layer.out_features))
        assert float(layer.weight.detach().std()) == pytest.approx(target, rel=0.03)
    for b in net.betas:
        assert torch.equal(b.detach(), torch.full_like(b, 0.25))


def test_torch_init_bounds():
    net = MLP(400, (300,), 50, init="torch", bias_init=123.0, generator=_gen(15))
    for layer in net.layers:
        bound = 1.0 / math.sqrt(layer.in_features)
        w, b = layer.weight.detach(), layer.bias.detach()
        assert float(w.abs().max()) <= bound
        assert float(w.abs().max()) > 0.99 * bound  # fills the interval
        assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.03)  # uniform
        assert float(b.abs().max()) <= bound  # biases drawn, bias_init ignored
        assert b.unique().numel() == b.numel()


@pytest.mark.parametrize("init", ["he", "xavier", "torch"])
def test_same_seed_same_weights_and_global_rng_untouched(init):
    state = torch.get_rng_state()
    a = MLP(5, (6, 7), 3, init=init, generator=_gen(16))
    b = MLP(5, (6, 7), 3, init=init, generator=_gen(16))
    c = MLP(5, (6, 7), 3, init=init, generator=_gen(17))
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb)
        if init == "torch" or pa.dim() == 2:  # he/xavier biases are constant
            assert not torch.equal(pa, pc)


def test_without_generator_uses_global_rng():
    with torch.random.fork_rng():
        torch.manual_seed(123)
        a = MLP(4, (5,), 2)
        torch.manual_seed(123)
        b = MLP(4, (5,), 2)
        state = torch.get_rng_state()
        MLP(4, (5,), 2)
        assert not torch.equal(torch.get_rng_state(), state)  # consumed the global generator
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_parameters_not_on_meta_device():
    net = MLP(2, (3,), 1, generator=_gen(18))
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert torch.isfinite(net(torch.zeros(1, 2))).all()


# ---------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, (3,), 1), {}, "positive integers"),
        ((2, (3, 0), 1), {}, "positive integers"),
        ((2, (-1,), 1), {}, "positive integers"),
        ((2, (2.5,), 1), {}, "positive integers"),
        ((2, (3,), 0), {}, "positive integers"),
        ((2, (3,), 1), {"init": "kaiming"}, "unknown init"),
        ((2, (3,), 1), {"activation": "swish"}, "unknown activation"),
    ],
)
def test_invalid_arguments_raise(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(*args, **kwargs)


# -------------------------------------------------------------------------------------------------- sawtooth


def test_sawtooth_weights_and_function():
    net = sawtooth_mlp(3, 2, dtype=F64)
    assert net.widths == (1, 3, 3, 1)
    assert net.activation_name == "relu"
    c = torch.tensor([3.0, -6.0, 6.0], dtype=F64)
    offsets = torch.tensor([0.0, -1 / 3, -2 / 3], dtype=F64)
    torch.testing.assert_close(net.omegas[0].detach(), torch.ones(3, 1, dtype=F64))
    torch.testing.assert_close(net.betas[0].detach(), offsets)
    torch.testing.assert_close(net.omegas[1].detach(), c.expand(3, 3))
    torch.testing.assert_close(net.omegas[2].detach(), c.unsqueeze(0))
    assert float(net.betas[2].detach()) == 0.0

    def g(x: torch.Tensor) -> torch.Tensor:  # the zigzag of the docstring
        return sum(c[j] * torch.relu(x - j / 3) for j in range(3))

    x = torch.linspace(0, 1, 301, dtype=F64)
    with torch.no_grad():
        y = net(x.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(y, g(g(x)), rtol=0, atol=1e-12)
    assert float(y.min()) >= -1e-12 and float(y.max()) <= 1 + 1e-12


def test_sawtooth_width_one_is_identity():
    net = sawtooth_mlp(1, 4, dtype=F64)
    x = torch.linspace(0, 1, 11, dtype=F64).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-15)
    assert count_regions_1d(net, 1e-9, 1 - 1e-9, num=1_000) == 1


def test_sawtooth_default_dtype_and_invalid():
    assert sawtooth_mlp(2, 2).layers[0].weight.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError):
        sawtooth_mlp(0, 2)
    with pytest.raises(ValueError):
        sawtooth_mlp(2, 0)


# --------------------------------------------------------------------------------------- activation modules


def test_activation_module_applies_function_with_kwargs():
    x = torch.tensor([-1.0, 0.0, 2.0])
    act = Activation("leaky_relu", negative_slope=0.1)
    torch.testing.assert_close(act(x), torch.tensor([-0.1, 0.0, 2.0]))
    assert "negative_slope=0.1" in repr(act)
    soft = activation_module("softplus", beta=2.0)
    torch.testing.assert_close(soft(x), F.softplus(x, beta=2.0))
    assert list(act.parameters()) == []


def test_activation_module_heaviside():
    mod = activation_module("heaviside")
    assert isinstance(mod, Heaviside)
    x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    y = mod(x)
    assert y.tolist() == [0.0, 0.0, 1.0]
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros(3))


def test_activation_module_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        activation_module("nope")
    with pytest.raises(ValueError, match="unexpected argument"):
        activation_module("relu", negative_slope=0.1)
    with pytest.raises(ValueError, match="unexpected argument"):
        activation_module("heaviside", value=0.5)
    with pytest.raises(ValueError, match="unexpected argument"):
        Activation("gelu", approximation="tanh")
