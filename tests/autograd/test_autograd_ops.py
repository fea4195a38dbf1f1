"""Every udl.autograd operation against torch.autograd in float64: values and gradients on random inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from udl.autograd import Tensor, cross_entropy, exp, log, log_softmax, relu, sigmoid, softmax, tanh

RTOL, ATOL = 1e-12, 1e-12


def _rand(
    rng: np.random.Generator, shape: tuple[int, ...], low: float = -2.0, high: float = 2.0
) -> np.ndarray:
    return rng.uniform(low, high, size=shape)


def _check_against_torch(
    fn_udl: Callable[..., Any],
    fn_torch: Callable[..., Any],
    arrays: list[np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Values of ``fn(*inputs)`` and the gradients of ``(fn(*inputs) * W).sum()`` for a random W agree."""
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn_udl(*ours)
    ref = fn_torch(*theirs)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    weights = rng.normal(size=out.shape)
    (out * weights).sum().backward()
    (ref * torch.from_numpy(weights)).sum().backward()
    for t, r in zip(ours, theirs, strict=True):
        assert r.grad is not None and t.grad is not None
        assert t.grad.shape == t.shape and t.grad.dtype == np.float64
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=RTOL, atol=ATOL)


# ---- elementwise binary operations with broadcasting ---------------------------------------------------------

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((5,), (2, 5)),
    ((2, 5), (5,)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((2, 3, 4), (4,)),
    ((4, 1, 3), (2, 1)),
    ((1,), (2, 3)),
]

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcasting_matches_torch(op, shapes):
    rng = np.random.default_rng(0)
    a = _rand(rng, shapes[0])
    b = _rand(rng, shapes[1])
    if op == "div":
        b = np.sign(b) * (np.abs(b) + 0.5)  # away from 0
    if op == "pow":
        a = np.abs(a) + 0.1  # base > 0 for the gradient with respect to the exponent
    _check_against_torch(BINARY[op], BINARY[op], [a, b], rng)


SCALAR_OPS: dict[str, Callable[[Any], Any]] = {
    "t+c": lambda t: t + 2.5,
    "c+t": lambda t: 2.5 + t,
    "t-c": lambda t: t - 1.5,
    "c-t": lambda t: 1.5 - t,
    "t*c": lambda t: t * -3.0,
    "c*t": lambda t: -3.0 * t,
    "t/c": lambda t: t / 4.0,
    "c/t": lambda t: 4.0 / t,
    "t**3": lambda t: t**3,
    "t**2.5": lambda t: t**2.5,
    "t**-1.5": lambda t: t**-1.5,
    "t**0": lambda t: t**0,
    "c**t": lambda t: 1.7**t,
    "int+t": lambda t: 2 + t,
    "neg": lambda t: -t,
    "pos": lambda t: +t,
}


@pytest.mark.parametrize("op", list(SCALAR_OPS))
def test_scalar_and_reflected_ops_match_torch(op):
    rng = np.random.default_rng(1)
    a = _rand(rng, (3, 4), 0.2, 2.0)  # positive: fractional powers and c / t are defined
    _check_against_torch(SCALAR_OPS[op], SCALAR_OPS[op], [a], rng)


def test_numpy_array_on_the_left_gives_tensor():
    rng = np.random.default_rng(2)
    a, c = _rand(rng, (3, 4)), _rand(rng, (4,))
    m = _rand(rng, (2, 3))
    t = Tensor(a, requires_grad=True)
    for result in (c + t, c - t, c * t, c / (t * t + 1.0), m @ t):
        assert isinstance(result, Tensor)
    ref = torch.tensor(a, requires_grad=True)
    cr, mr = torch.from_numpy(c), torch.from_numpy(m)
    ours = (c + t) * (c - t) + (c / (t * t + 1.0)) + (m @ t).sum()
    theirs = (cr + ref) * (cr - ref) + (cr / (ref * ref + 1.0)) + (mr @ ref).sum()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=RTOL)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(t.grad, ref.grad.numpy(), rtol=RTOL)


def test_pow_tensor_exponent_at_zero_base_matches_torch():
    base = np.array([0.0, 0.0, 1.5, 2.0])
    expo = np.array([2.0, 0.0, -1.0, 0.5])
    rng = np.random.default_rng(3)
    _check_against_torch(lambda a, b: a**b, lambda a, b: a**b, [base, expo], rng)


# ---- elementwise functions ---------------------------------------------------------------------------------

UNARY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], tuple[float, float]]] = {
    "exp": (lambda t: t.exp(), torch.exp, (-3.0, 3.0)),
    "exp_fn": (exp, torch.exp, (-3.0, 3.0)),
    "log": (lambda t: t.log(), torch.log, (0.1, 5.0)),
    "log_fn": (log, torch.log, (0.1, 5.0)),
    "relu": (lambda t: t.relu(), torch.relu, (-2.0, 2.0)),
    "relu_fn": (relu, torch.relu, (-2.0, 2.0)),
    "sigmoid": (lambda t: t.sigmoid(), torch.sigmoid, (-6.0, 6.0)),
    "sigmoid_fn": (sigmoid, torch.sigmoid, (-6.0, 6.0)),
    "tanh": (lambda t: t.tanh(), torch.tanh, (-3.0, 3.0)),
    "tanh_fn": (tanh, torch.tanh, (-3.0, 3.0)),
}


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_matches_torch(op):
    ours, theirs, (low, high) = UNARY[op]
    rng = np.random.default_rng(4)
    _check_against_torch(ours, theirs, [_rand(rng, (4, 5), low, high)], rng)


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        t = Tensor(x, requires_grad=True)
        s = t.sigmoid()
        s.sum().backward()
    ref = torch.tensor(x, requires_grad=True)
    torch.sigmoid(ref).sum().backward()
    # atol: ours keeps the subnormal sigmoid(-745) = 5e-324 where torch flushes to 0
    np.testing.assert_allclose(s.data, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(t.grad, ref.grad.numpy(), rtol=RTOL, atol=1e-300)
    assert np.all(np.isfinite(s.data)) and s.data[0] >= 0.0 and s.data[-1] == 1.0


def test_relu_gradient_is_zero_at_zero():
    t = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    t.relu().sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 0.0, 1.0])


# ---- reductions ----------------------------------------------------------------------------------------------

REDUCTION_ARGS = [
    (None, False),
    (None, True),
    (0, False),
    (1, True),
    (-1, False),
    ((0, 2), False),
    ((0, 2), True),
    ((2, 0, 1), False),
]


@pytest.mark.parametrize("axis,keepdims", REDUCTION_ARGS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reductions_match_torch(name, axis, keepdims):
    rng = np.random.default_rng(5)
    a = _rand(rng, (2, 3, 4))  # continuous values: no ties

    def theirs(t):
        dims = tuple(range(t.dim())) if axis is None else axis
        if name == "max":
            if isinstance(dims, int):
                return torch.max(t, dim=dims, keepdim=keepdims).values  # gives the gradient to one index
            return torch.amax(t, dim=dims, keepdim=keepdims)
        return getattr(torch, name)(t, dim=dims, keepdim=keepdims)

    _check_against_torch(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), theirs, [a], rng)


def test_reductions_of_a_scalar_and_1d():
    rng = np.random.default_rng(6)
    for name in ("sum", "mean", "max"):
        _check_against_torch(
            lambda t, n=name: getattr(t, n)(), lambda t, n=name: getattr(torch, n)(t), [_rand(rng, ())], rng
        )
        _check_against_torch(
            lambda t, n=name: getattr(t, n)(), lambda t, n=name: getattr(torch, n)(t), [_rand(rng, (7,))], rng
        )


def test_max_splits_the_gradient_evenly_among_ties():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 4.0, 5.0]])
    t = Tensor(x, requires_grad=True)
    t.max(axis=1).backward(np.array([1.0, 2.0, 6.0]))
    expected = np.array([[0.0, 0.5, 0.5, 0.0], [0.5, 0.5, 0.5, 0.5], [3.0, 0.0, 0.0, 3.0]])
    np.testing.assert_allclose(t.grad, expected)
    # The whole gradient is conserved, and torch.amax follows the same convention.
    assert t.grad.sum() == pytest.approx(9.0)
    ref = torch.tensor(x, requires_grad=True)
    torch.amax(ref, dim=1).backward(torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64))
    np.testing.assert_allclose(t.grad, ref.grad.numpy())

    full = Tensor(x, requires_grad=True)
    full.max().backward()  # global maximum 5.0 appears twice
    np.testing.assert_allclose(full.grad, np.where(x == 5.0, 0.5, 0.0))


def test_reduction_rejects_bad_axes():
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        t.sum(axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        t.mean(axis=(1, -1))
    with pytest.raises(ValueError, match="empty"):
        Tensor(np.zeros((0, 3))).max()


# ---- shape operations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda t: t.reshape(6, 4), lambda t: t.reshape(6, 4)),
        (lambda t: t.reshape((4, -1)), lambda t: t.reshape(4, -1)),
        (lambda t: t.reshape(-1), lambda t: t.reshape(-1)),
        (lambda t: t.transpose(), lambda t: t.permute(2, 1, 0)),
        (lambda t: t.transpose((1, 2, 0)), lambda t: t.permute(1, 2, 0)),
        (lambda t: t.transpose((0, -1, 1)), lambda t: t.permute(0, 2, 1)),
        (lambda t: t.T, lambda t: t.permute(2, 1, 0)),
        (lambda t: t.reshape(6, 4).T, lambda t: t.reshape(6, 4).T),
    ],
)
def test_shape_ops_match_torch(ours, theirs):
    rng = np.random.default_rng(7)
    _check_against_torch(ours, theirs, [_rand(rng, (2, 3, 4))], rng)


def test_transpose_rejects_non_permutations():
    with pytest.raises(ValueError, match="permutation"):
        Tensor(np.zeros((2, 3))).transpose((0, 0))
    with pytest.raises(ValueError, match="permutation"):
        Tensor(np.zeros((2, 3))).transpose((0, 2))


# ---- indexing ------------------------------------------------------------------------------------------------

_MASK = np.random.default_rng(8).uniform(size=(4, 5)) > 0.4
INDICES: dict[str, Any] = {
    "int": 2,
    "negative int": -1,
    "slice": slice(1, 3),
    "step slice": (slice(None, None, 2), slice(1, 5, 3)),
    "int and slice": (1, slice(None)),
    "ellipsis and none": (Ellipsis, None, 3),
    "repeated rows": np.array([0, 2, 2, 3, 0, 0]),
    "repeated pairs": (np.array([1, 1, 3, 1]), np.array([0, 0, 4, 0])),
    "2-d int array": np.array([[0, 1], [1, 1]]),
    "slice and repeated": (slice(None), np.array([4, 4, 1])),
    "bool mask": _MASK,
    "bool rows": np.array([True, False, True, True]),
    "list": [3, 3, 0],
}


@pytest.mark.parametrize("name", list(INDICES))
def test_indexing_matches_torch(name):
    index = INDICES[name]
    rng = np.random.default_rng(9)

    def theirs(t):
        if isinstance(index, tuple):
            return t[tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)]
        return t[torch.from_numpy(index) if isinstance(index, np.ndarray) else index]

    _check_against_torch(lambda t: t[index], theirs, [_rand(rng, (4, 5))], rng)


def test_negative_step_slice_matches_torch_flip():
    rng = np.random.default_rng(15)
    _check_against_torch(
        lambda t: t[::-1, 4:0:-2], lambda t: t.flip(0, 1)[:, 0:4:2], [_rand(rng, (4, 5))], rng
    )


def test_repeated_indices_accumulate():
    t = Tensor(np.arange(4.0), requires_grad=True)
    t[np.array([1, 1, 1, 3])].sum().backward()
    np.testing.assert_array_equal(t.grad, [0.0, 3.0, 0.0, 1.0])


def test_tensor_valued_indices():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mask = Tensor(np.array([[True, False, True], [False, False, True]]))
    rows = Tensor(np.array([1, 1]))
    (t[mask].sum() + t[rows].sum()).backward()
    np.testing.assert_array_equal(t.grad, [[1.0, 0.0, 1.0], [2.0, 2.0, 3.0]])


# ---- matrix product ------------------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_torch(shapes):
    rng = np.random.default_rng(10)
    arrays = [_rand(rng, shapes[0]), _rand(rng, shapes[1])]
    _check_against_torch(lambda a, b: a @ b, lambda a, b: a @ b, arrays, rng)


def test_matmul_with_constant_operand_and_errors():
    rng = np.random.default_rng(11)
    w = _rand(rng, (4, 2))
    x = Tensor(_rand(rng, (3, 4)), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((3, 2)) @ w.T)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        x @ Tensor(2.0)
    with pytest.raises(ValueError):
        x @ Tensor(np.ones((3, 3)))


# ---- softmax and cross-entropy -------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax_and_softmax_match_torch(axis):
    rng = np.random.default_rng(12)
    a = _rand(rng, (3, 5, 2), -4.0, 4.0)
    _check_against_torch(lambda t: log_softmax(t, axis), lambda t: F.log_softmax(t, dim=axis), [a], rng)
    _check_against_torch(lambda t: t.log_softmax(axis), lambda t: F.log_softmax(t, dim=axis), [a], rng)
    _check_against_torch(lambda t: softmax(t, axis), lambda t: F.softmax(t, dim=axis), [a], rng)
    _check_against_torch(lambda t: t.softmax(axis), lambda t: F.softmax(t, dim=axis), [a], rng)


def test_log_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-800.0, -800.0, -800.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        t = Tensor(x, requires_grad=True)
        out = log_softmax(t)
        out[:, 0].sum().backward()
    ref = torch.tensor(x, requires_grad=True)
    ref_out = F.log_softmax(ref, dim=-1)
    ref_out[:, 0].sum().backward()
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=RTOL)
    np.testing.assert_allclose(t.grad, ref.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("as_type", [np.asarray, list, Tensor])
def test_cross_entropy_matches_torch(as_type):
    rng = np.random.default_rng(13)
    logits = _rand(rng, (7, 4), -3.0, 3.0)
    targets = rng.integers(0, 4, size=7)
    t = Tensor(logits, requires_grad=True)
    loss = cross_entropy(t, as_type(targets))
    assert loss.shape == ()
    ref = torch.tensor(logits, requires_grad=True)
    ref_loss = F.cross_entropy(ref, torch.from_numpy(targets))
    assert loss.item() == pytest.approx(ref_loss.item(), rel=RTOL)
    loss.backward()
    ref_loss.backward()
    np.testing.assert_allclose(t.grad, ref.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_cross_entropy_equals_its_composite_definition():
    rng = np.random.default_rng(14)
    logits = _rand(rng, (6, 3))
    targets = rng.integers(0, 3, size=6)
    fused, composite = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    loss = cross_entropy(fused, targets)
    ref = -log_softmax(composite)[np.arange(6), targets].mean()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-14)
    loss.backward()
    ref.backward()
    np.testing.assert_allclose(fused.grad, composite.grad, rtol=1e-13, atol=1e-15)


def test_cross_entropy_validates_inputs():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"shape \(I, K\)"):
        cross_entropy(np.zeros(4), [0])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match="integer"):
        cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        cross_entropy(logits, [0, 1, 4])
    with pytest.raises(ValueError, match="empty"):
        cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int))
