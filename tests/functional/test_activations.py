"""Tests of udl.functional.activations against torch's own implementations (float64)."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from udl.functional import (
    ACTIVATIONS,
    gelu,
    get_activation,
    heaviside,
    leaky_relu,
    linear,
    relu,
    sigmoid,
    softplus,
    tanh,
)
from udl.functional.activations import check_activation_kwargs

NAMES = ("relu", "leaky_relu", "sigmoid", "tanh", "heaviside", "linear", "softplus", "gelu")


def _inputs(seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Random normals, a spread of moderate values, huge values ±1e3 and exact zeros."""
    g = torch.Generator().manual_seed(seed)
    parts = [
        torch.randn(200, generator=g, dtype=torch.float64),
        10 * torch.randn(100, generator=g, dtype=torch.float64),
        torch.linspace(-40, 40, 81, dtype=torch.float64),
        torch.tensor([-1e3, -500.0, -50.0, -1e-8, 0.0, 1e-8, 50.0, 500.0, 1e3], dtype=torch.float64),
    ]
    return torch.cat(parts).to(dtype)


def _heaviside_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.heaviside(x, torch.zeros((), dtype=x.dtype))


# (our function, torch reference, kwargs)
CASES = [
    pytest.param(relu, torch.relu, {}, id="relu"),
    pytest.param(leaky_relu, F.leaky_relu, {}, id="leaky_relu-default"),
    pytest.param(leaky_relu, F.leaky_relu, {"negative_slope": 0.2}, id="leaky_relu-0.2"),
    pytest.param(leaky_relu, F.leaky_relu, {"negative_slope": -0.5}, id="leaky_relu--0.5"),
    pytest.param(sigmoid, torch.sigmoid, {}, id="sigmoid"),
    pytest.param(tanh, torch.tanh, {}, id="tanh"),
    pytest.param(heaviside, _heaviside_ref, {}, id="heaviside"),
    pytest.param(linear, lambda x: x, {}, id="linear"),
    pytest.param(softplus, F.softplus, {}, id="softplus-default"),
    pytest.param(softplus, F.softplus, {"beta": 2.0}, id="softplus-beta2"),
    pytest.param(softplus, F.softplus, {"beta": 0.5, "threshold": 5.0}, id="softplus-beta0.5-thr5"),
    pytest.param(softplus, F.softplus, {"beta": 3.0, "threshold": 1.0}, id="softplus-beta3-thr1"),
    pytest.param(gelu, F.gelu, {}, id="gelu-none"),
    pytest.param(gelu, F.gelu, {"approximate": "none"}, id="gelu-none-explicit"),
    pytest.param(gelu, F.gelu, {"approximate": "tanh"}, id="gelu-tanh"),
]


@pytest.mark.parametrize(("fn", "ref", "kwargs"), CASES)
def test_values_match_torch_float64(fn, ref, kwargs):
    x = _inputs(0)
    out = fn(x, **kwargs)
    expected = ref(x, **kwargs)
    assert out.dtype == torch.float64
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("fn", "ref", "kwargs"), CASES)
def test_gradients_match_torch_autograd_and_are_finite(fn, ref, kwargs):
    # Includes |z| = 1e3 and exact 0: no nan/inf may leak from an unselected branch of torch.where.
    x = _inputs(1).requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x, **kwargs).sum(), x)
    assert torch.isfinite(g).all()
    if fn is heaviside:
        # torch.heaviside has no derivative; ours is zero everywhere (the derivative almost everywhere).
        assert torch.equal(g, torch.zeros_like(g))
        return
    x_ref = x.detach().clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(ref(x_ref, **kwargs).sum(), x_ref)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("fn", "ref", "kwargs"), CASES)
def test_gradcheck_float64(fn, ref, kwargs):
    # Away from the kinks (|x| > 0.05, and beta * x away from the softplus threshold) every function is smooth
    # (heaviside is locally constant), so the finite-difference Jacobian must equal the analytic one.
    g = torch.Generator().manual_seed(2)
    x = 3 * torch.randn(24, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 0.05, x.sign() * 0.05 + x, x)
    if fn is softplus:
        beta, thr = kwargs.get("beta", 1.0), kwargs.get("threshold", 20.0)
        x = x[(beta * x - thr).abs() > 0.05]
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fn(t, **kwargs), (x,), eps=1e-6, atol=1e-7)


def test_gradcheck_large_inputs():
    # Far in the tails the exp-based functions must still give correct (tiny or unit) derivatives.
    x = torch.tensor([-60.0, -30.0, -15.0, 15.0, 30.0, 60.0], dtype=torch.float64, requires_grad=True)
    for fn in (sigmoid, tanh, softplus, gelu, lambda t: gelu(t, approximate="tanh")):
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (relu, 0.0),  # as torch.relu
        (lambda x: leaky_relu(x, negative_slope=0.3), 0.3),  # as F.leaky_relu
        (sigmoid, 0.25),  # sig'(0) = 1/4, despite |z| inside
        (tanh, 1.0),  # tanh'(0) = 1, despite |z| inside
        (softplus, 0.5),
        (gelu, 0.5),
        (linear, 1.0),
        (heaviside, 0.0),
    ],
)
def test_gradient_at_exactly_zero(fn, expected):
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fn(x).sum(), x)
    torch.testing.assert_close(g, torch.full_like(g, expected), rtol=1e-15, atol=1e-15)


def test_saturation_at_large_inputs():
    x = torch.tensor([-1e3, 1e3], dtype=torch.float64)
    assert sigmoid(x).tolist() == [0.0, 1.0]
    assert tanh(x).tolist() == [-1.0, 1.0]
    assert softplus(x).tolist() == [0.0, 1e3]
    assert gelu(x).tolist() == [0.0, 1e3]  # -1e3 * Phi(-1e3) underflows to -0.0 == 0.0
    assert gelu(x, approximate="tanh").tolist() == [0.0, 1e3]


def test_sigmoid_and_tanh_ranges_and_symmetry():
    x = _inputs(3)
    s, t = sigmoid(x), tanh(x)
    assert ((s >= 0) & (s <= 1)).all()
    assert ((t >= -1) & (t <= 1)).all()
    torch.testing.assert_close(sigmoid(-x), 1 - s, rtol=0, atol=1e-15)
    assert torch.equal(tanh(-x), -t)


def test_tanh_keeps_relative_precision_near_zero():
    x = torch.tensor([1e-300, 1e-20, -1e-10], dtype=torch.float64)
    torch.testing.assert_close(tanh(x), x, rtol=1e-15, atol=0)


def test_heaviside_convention_at_zero():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-300, 3.0], dtype=torch.float64)
    assert heaviside(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_linear_returns_input_itself():
    x = torch.randn(4)
    assert linear(x) is x


def test_gelu_unknown_approximate_raises():
    with pytest.raises(ValueError, match="approximate"):
        gelu(torch.zeros(2), approximate="erf")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_shape_and_dtype_preserved(name, dtype, shape):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(shape, generator=g, dtype=dtype)
    out = get_activation(name)(x)
    assert out.shape == x.shape
    assert out.dtype == dtype
    assert out.device == x.device


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    x64 = _inputs(5)
    fn = get_activation(name)
    torch.testing.assert_close(fn(x64.float()), fn(x64).float(), rtol=2e-6, atol=2e-6)


def test_registry_contents():
    assert set(ACTIVATIONS) == set(NAMES)
    expected = {
        "relu": relu,
        "leaky_relu": leaky_relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "heaviside": heaviside,
        "linear": linear,
        "softplus": softplus,
        "gelu": gelu,
    }
    for name, fn in expected.items():
        assert ACTIVATIONS[name] is fn
        assert get_activation(name) is fn


@pytest.mark.parametrize("bad", ["ReLU", "swish", "", None, ["relu"]])
def test_get_activation_unknown_raises_listing_valid_names(bad):
    with pytest.raises(ValueError, match="unknown activation") as info:
        get_activation(bad)  # type: ignore[arg-type]
    message = str(info.value)
    for name in NAMES:
        assert re.search(rf"\b{name}\b", message), name


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("relu", {}),
        ("leaky_relu", {"negative_slope": 0.1}),
        ("softplus", {"beta": 2.0, "threshold": 10.0}),
        ("softplus", {"beta": 2.0}),
        ("gelu", {"approximate": "tanh"}),
        ("heaviside", {}),
    ],
)
def test_check_activation_kwargs_accepts_valid(name, kwargs):
    check_activation_kwargs(name, kwargs)  # must not raise


@pytest.mark.parametrize(
    ("name", "kwargs", "pattern"),
    [
        ("relu", {"negative_slope": 0.1}, r"negative_slope.*valid: none"),
        ("leaky_relu", {"slope": 0.1}, r"slope.*valid: negative_slope"),
        ("softplus", {"beta": 1.0, "alpha": 2.0}, r"alpha.*valid: beta, threshold"),
        ("gelu", {"approximate": "tanh", "inplace": True}, r"inplace"),
        ("sigmoid", {"x": 1.0}, r"unexpected argument"),  # the input tensor is not a keyword argument
        ("nope", {}, r"unknown activation"),
    ],
)
def test_check_activation_kwargs_rejects_invalid(name, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_activation_kwargs(name, kwargs)
