"""Randomly generated computational graphs, evaluated step for step in udl.autograd and in torch.

Each graph starts from a few input tensors whose shapes broadcast to (3, 4) and applies 10-30 randomly chosen
operations, each to randomly chosen earlier results, so nodes are shared, broadcast and reduced in many ways.
Every value, every input gradient and every intermediate gradient must agree with torch in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from udl.autograd import Tensor, log_softmax

FULL = (3, 4)
INPUT_SHAPES = [(3, 4), (4,), (3, 1), (1, 4), (), (3, 4)]
RTOL, ATOL = 1e-10, 1e-12


class _Udl:
    """The operations in the vocabulary of udl.autograd."""

    @staticmethod
    def const(a: np.ndarray) -> Any:
        return Tensor(a)

    exp = staticmethod(lambda x: x.exp())
    log = staticmethod(lambda x: x.log())
    relu = staticmethod(lambda x: x.relu())
    sigmoid = staticmethod(lambda x: x.sigmoid())
    tanh = staticmethod(lambda x: x.tanh())
    sum = staticmethod(lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims))
    mean = staticmethod(lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims))
    max = staticmethod(lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims))
    log_softmax = staticmethod(lambda x, axis: log_softmax(x, axis))
    reshape_t = staticmethod(lambda x: x.reshape(4, 3).T)
    transpose = staticmethod(lambda x: x.T)
    index = staticmethod(lambda x, idx: x[idx])


class _Torch:
    """The same operations in torch's vocabulary (``amax`` splits ties evenly, as udl's ``max`` does)."""

    @staticmethod
    def const(a: np.ndarray) -> Any:
        return torch.from_numpy(a)

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    relu = staticmethod(torch.relu)
    sigmoid = staticmethod(torch.sigmoid)
    tanh = staticmethod(torch.tanh)

    @staticmethod
    def sum(x, axis, keepdims):
        return x.sum() if axis is None and not keepdims else x.sum(dim=_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def mean(x, axis, keepdims):
        return x.mean() if axis is None and not keepdims else x.mean(dim=_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def max(x, axis, keepdims):
        return torch.amax(x, dim=_dims(x, axis), keepdim=keepdims)

    log_softmax = staticmethod(lambda x, axis: F.log_softmax(x, dim=axis))
    reshape_t = staticmethod(lambda x: x.reshape(4, 3).T)
    transpose = staticmethod(lambda x: x.T)

    @staticmethod
    def index(x, idx):
        if isinstance(idx, tuple):
            return x[tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in idx)]
        return x[torch.from_numpy(idx) if isinstance(idx, np.ndarray) else idx]


def _dims(x: torch.Tensor, axis: Any) -> tuple[int, ...]:
    return tuple(range(x.dim())) if axis is None else axis


# An operation: (number of operands, function(lib, rng-chosen parameters, *operands) producing a result).
# The parameters are drawn once per step (from the graph's generator) and used by both libraries.
Op = Callable[..., Any]


def _broadcastable(shape: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, FULL) == FULL
    except ValueError:
        return False


def _full(lib: Any, x: Any) -> Any:
    """``x`` broadcast to (3, 4) by adding a constant zero array (exercises broadcasting in the backward pass)."""
    return x + lib.const(np.zeros(FULL))


def _choose_op(rng: np.random.Generator, shapes: list[tuple[int, ...]]) -> tuple[str, int, list[int], Op]:
    """Pick an operation and its operands (indices into the pool) whose result broadcasts to (3, 4)."""
    names = [
        "add", "sub", "mul", "div", "pow_scalar", "pow_tensor", "rsub", "rdiv", "exp", "log", "relu",
        "sigmoid", "tanh", "neg", "reduce", "max", "log_softmax", "reshape_t", "matmul", "index_int",
        "index_mask", "scalar_mix",
    ]  # fmt: skip
    name = str(rng.choice(names))
    pick = [int(i) for i in rng.integers(0, len(shapes), size=3)]
    c = float(rng.uniform(0.5, 2.0))

    if name == "add":
        return name, 2, pick[:2], lambda lib, a, b: a + b
    if name == "sub":
        return name, 2, pick[:2], lambda lib, a, b: a - b
    if name == "mul":
        return name, 2, pick[:2], lambda lib, a, b: a * b
    if name == "div":
        return name, 2, pick[:2], lambda lib, a, b: a / (b * b + 1.0)
    if name == "pow_scalar":
        p = float(rng.choice([2.0, 3.0, 0.5, 1.5, -1.0]))
        return name, 1, pick[:1], lambda lib, a: (a * a + 0.5) ** p
    if name == "pow_tensor":  # tensor base > 0, tensor exponent in (-1, 1)
        return name, 2, pick[:2], lambda lib, a, b: (lib.sigmoid(a) + 0.5) ** lib.tanh(b)
    if name == "rsub":
        return name, 1, pick[:1], lambda lib, a: c - a
    if name == "rdiv":
        return name, 1, pick[:1], lambda lib, a: c / (1.0 + a * a)
    if name == "exp":
        return name, 1, pick[:1], lambda lib, a: lib.exp(lib.tanh(a))
    if name == "log":
        return name, 1, pick[:1], lambda lib, a: lib.log(a * a + 1.0)
    if name in ("relu", "sigmoid", "tanh"):
        return name, 1, pick[:1], lambda lib, a: getattr(lib, name)(a)
    if name == "neg":
        return name, 1, pick[:1], lambda lib, a: -a
    if name in ("reduce", "max"):
        shape = shapes[pick[0]]
        ndim = len(shape)
        options: list[tuple[Any, bool]] = [(None, False), (None, True)]
        options += [(ax, kd) for ax in range(ndim) for kd in (False, True)]
        options += [(ax - ndim, True) for ax in range(ndim)]
        if ndim == 2:
            options.append(((0, 1), True))
        valid = [o for o in options if _broadcastable(_reduced_shape(shape, *o))]
        axis, keepdims = valid[int(rng.integers(len(valid)))]
        if name == "max":
            return f"max{axis, keepdims}", 1, pick[:1], lambda lib, a: lib.max(a, axis, keepdims)
        which = str(rng.choice(["sum", "mean"]))
        return f"{which}{axis, keepdims}", 1, pick[:1], lambda lib, a: getattr(lib, which)(a, axis, keepdims)
    if name == "log_softmax":
        axis = int(rng.integers(0, 2))
        return name, 1, pick[:1], lambda lib, a: lib.log_softmax(_full(lib, a), axis)
    if name == "reshape_t":  # (3, 4) -> (4, 3) -> transposed back to (3, 4), elements permuted
        return name, 1, pick[:1], lambda lib, a: lib.reshape_t(_full(lib, a))
    if name == "matmul":  # (3, 4) @ ((4, 3) @ (3, 4)) / 12 = (3, 4)
        return (
            name,
            3,
            pick,
            lambda lib, a, b, d: _full(lib, a) @ (lib.transpose(_full(lib, b)) @ _full(lib, d)) / 12.0,
        )
    if name == "index_int":
        rows = rng.integers(0, 3, size=3)  # repeated rows are likely: gradients accumulate
        cols = rng.integers(0, 4, size=4)
        return (
            name,
            1,
            pick[:1],
            lambda lib, a: lib.index(lib.index(_full(lib, a), rows), (slice(None), cols)),
        )
    if name == "index_mask":  # a 1-D selection, reduced back to a scalar
        mask = rng.uniform(size=FULL) > 0.5
        return name, 1, pick[:1], lambda lib, a: lib.sum(lib.index(_full(lib, a), mask), None, False) * 0.3
    # scalar_mix: reflected scalar operations in one step
    return name, 1, pick[:1], lambda lib, a: 2.0 * a - a / c + 0.25


def _reduced_shape(shape: tuple[int, ...], axis: Any, keepdims: bool) -> tuple[int, ...]:
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
    return tuple(1 if i in axes else n for i, n in enumerate(shape) if keepdims or i not in axes)


def _build_and_compare(seed: int) -> int:
    rng = np.random.default_rng(seed)
    n_inputs = int(rng.integers(2, 5))
    shapes = [INPUT_SHAPES[int(i)] for i in rng.choice(len(INPUT_SHAPES), size=n_inputs, replace=False)]
    arrays = [rng.normal(size=s) for s in shapes]
    ours: list[Tensor] = [Tensor(a, requires_grad=True) for a in arrays]
    theirs: list[torch.Tensor] = [torch.tensor(a, requires_grad=True) for a in arrays]
    pool_shapes = list(shapes)
    steps = int(rng.integers(10, 31))
    log: list[str] = []
    for _ in range(steps):
        name, arity, operands, fn = _choose_op(rng, pool_shapes)
        out = fn(_Udl, *[ours[i] for i in operands[:arity]])
        ref = fn(_Torch, *[theirs[i] for i in operands[:arity]])
        log.append(f"{name}{operands[:arity]} -> {out.shape}")
        assert out.shape == tuple(ref.shape), log
        assert _broadcastable(out.shape), log
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=str(log))
        ref.retain_grad()
        ours.append(out)
        theirs.append(ref)
        pool_shapes.append(out.shape)

    # Loss: a random weighting of every node after the inputs, so all intermediate results carry gradient.
    loss_ours: Any = 0.0
    loss_theirs: Any = 0.0
    for o, r in zip(ours[n_inputs:], theirs[n_inputs:], strict=True):
        w = rng.normal(size=o.shape)
        loss_ours = loss_ours + (o * w).sum()
        loss_theirs = loss_theirs + (r * torch.from_numpy(w)).sum()
    np.testing.assert_allclose(loss_ours.item(), loss_theirs.item(), rtol=RTOL)
    loss_ours.backward()
    loss_theirs.backward()
    for k, (o, r) in enumerate(zip(ours, theirs, strict=True)):
        expected = r.grad
        if expected is None:  # torch gives no gradient to inputs that did not reach the loss
            assert o.grad is None or not np.any(o.grad), (k, log)
            continue
        assert o.grad is not None, (k, log)
        np.testing.assert_allclose(o.grad, expected.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"node {k}: {log}")
    return steps


@pytest.mark.parametrize("seed", range(50))
def test_random_graph_matches_torch(seed):
    steps = _build_and_compare(seed)
    assert 10 <= steps <= 30
