"""The backward pass of udl.autograd: accumulation, graph semantics, no_grad, deep graphs, finite differences."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch

from udl.autograd import Tensor, cross_entropy, is_grad_enabled, log_softmax, no_grad

# ---- the Tensor object ---------------------------------------------------------------------------------------


def test_construction_and_dtypes():
    assert Tensor(1.5).dtype == np.float64 and Tensor(1.5).shape == ()
    assert Tensor(3).dtype == np.float64
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.int64  # numpy arrays keep their dtype
    assert Tensor(np.float32(2.0)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    a = np.ones((2, 3))
    t = Tensor(a)
    assert t.data is a and t.numpy() is a  # no copy
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.grad is None and not t.requires_grad and t.is_leaf
    assert Tensor(t).data is a  # a Tensor contributes its array
    assert np.asarray(t) is a
    assert not Tensor(0.0) and Tensor([2.0])
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(ValueError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)


def test_item_detach_repr_zero_grad():
    t = Tensor([[2.0]], requires_grad=True)
    assert t.item() == 2.0 and isinstance(t.item(), float)
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()
    y = t * 3.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.data is y.data
    assert "requires_grad=True" in repr(t)
    assert "op='mul'" in repr(y)
    assert "float32" in repr(Tensor(np.float32([1.0])))
    y.sum().backward()
    assert t.grad is not None
    t.zero_grad()
    assert t.grad is None


def test_float32_stays_float32():
    t = Tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = (2.0 * t + 1.0).sigmoid() * t.exp() / 3.0 - t.tanh() ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad is not None and t.grad.dtype == np.float32


# ---- accumulation --------------------------------------------------------------------------------------------


def test_tensor_used_several_times_accumulates():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x * x + x + x.exp() * x  # x appears five times
    y.sum().backward()
    expected = 2 * x.data + 1 + np.exp(x.data) * (x.data + 1)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-14)


def test_diamond_graph_sums_both_paths():
    # a -> b, a -> c, (b, c) -> d: the gradient reaching a is the sum over both paths (UDL section 7.4).
    a = Tensor(0.7, requires_grad=True)
    b = a.sigmoid()
    c = a.tanh()
    d = b * c
    d.backward()
    sb, tc = b.item(), c.item()
    assert a.grad == pytest.approx(sb * (1 - sb) * tc + sb * (1 - tc**2), rel=1e-14)


def test_intermediate_tensors_receive_their_gradients():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    f = x @ w  # pre-activation
    h = f.relu()
    loss = (h * h).sum()
    loss.backward()
    assert loss.grad is not None and loss.grad == 1.0
    np.testing.assert_allclose(h.grad, 2 * h.data)
    np.testing.assert_allclose(f.grad, 2 * h.data * (f.data > 0))
    np.testing.assert_allclose(w.grad, x.data.T @ f.grad)
    np.testing.assert_allclose(x.grad, f.grad @ w.data.T)
    # The same as torch's retained gradients.
    xt = torch.tensor(x.data, requires_grad=True)
    wt = torch.tensor(w.data, requires_grad=True)
    ft = xt @ wt
    ft.retain_grad()
    (torch.relu(ft) ** 2).sum().backward()
    np.testing.assert_allclose(f.grad, ft.grad.numpy(), rtol=1e-14)


def test_backward_twice_accumulates_like_torch():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x**3).sum()
    y.backward()
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    x.zero_grad()
    y.backward()
    np.testing.assert_allclose(x.grad, first)


def test_gradient_only_flows_to_tensors_that_require_it():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]))  # a constant
    c = a * b
    d = b * 2.0  # built only from constants: not part of the graph
    assert c.requires_grad and not d.requires_grad and d.is_leaf
    (c + d).sum().backward()
    np.testing.assert_array_equal(a.grad, b.data)
    assert b.grad is None and d.grad is None


def test_unrelated_branch_gets_no_gradient():
    a = Tensor(1.0, requires_grad=True)
    b = Tensor(2.0, requires_grad=True)
    unused = a * b  # part of a's uses but not of the loss
    loss = a * 3.0
    loss.backward()
    assert a.grad == 3.0 and b.grad is None and unused.grad is None


# ---- backward's arguments ------------------------------------------------------------------------------------


def test_non_scalar_backward_needs_grad():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * x
    with pytest.raises(ValueError, match="scalar"):
        y.backward()
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        y.backward(np.ones(2))
    v = np.array([1.0, -1.0, 0.5])
    y.backward(v)  # vector-Jacobian product
    np.testing.assert_allclose(x.grad, 2 * x.data * v)
    x.zero_grad()
    y.backward(Tensor(v))
    np.testing.assert_allclose(x.grad, 2 * x.data * v)


def test_one_element_tensor_backward_without_grad():
    x = Tensor(np.array([[2.0]]), requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[4.0]])


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require gradients"):
        Tensor(1.0).backward()
    x = Tensor(1.0, requires_grad=True)
    with no_grad():
        y = x * 2.0
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


# ---- no_grad -------------------------------------------------------------------------------------------------


def test_no_grad_builds_no_graph():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
        z = log_softmax(x)
        w = cross_entropy(x.reshape(1, 2), [1])
        with no_grad():  # nests
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    for t in (y, z, w):
        assert not t.requires_grad and t._parents == () and t._backward is None
    np.testing.assert_allclose(y.data, np.exp(2 * x.data).sum())
    # Outside again, graphs are recorded.
    assert (x * 2.0).requires_grad


def test_no_grad_restores_on_exception_and_works_as_decorator():
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()

    @no_grad()
    def evaluate(t: Tensor) -> Tensor:
        return t * t

    assert not evaluate(Tensor(1.0, requires_grad=True)).requires_grad
    assert is_grad_enabled()


# ---- deep graphs ---------------------------------------------------------------------------------------------


def test_deep_chain_of_adds_does_not_hit_the_recursion_limit():
    n = 5000
    assert n > sys.getrecursionlimit()  # a recursive topological sort would fail here
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(n):
        y = y + 1.0
    y.backward()
    assert y.item() == pytest.approx(n + 0.5)
    assert x.grad == 1.0
    del y  # freeing a long chain must not overflow the C stack either


def test_deep_chain_of_multiplications_and_shared_nodes():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + x * 1e-6  # x reused at every step
    y.backward()
    # y_n = r y_{n-1} + e x with r = 1.0001, e = 1e-6: dy_n/dx = r^n + e (r^n - 1)/(r - 1)
    r, e, n = 1.0001, 1e-6, 10_000
    assert x.grad == pytest.approx(r**n + e * (r**n - 1) / (r - 1), rel=1e-10)


def test_wide_graph():
    xs = [Tensor(float(i), requires_grad=True) for i in range(3000)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * x
    total.backward()
    assert xs[0].grad == 1.0
    assert all(x.grad == 2.0 * i for i, x in enumerate(xs) if i > 0)


# ---- finite differences --------------------------------------------------------------------------------------


def _numerical_gradient(f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], eps: float = 1e-6):
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][i] += eps
            minus[k][i] -= eps
            g[i] = (f(plus) - f(minus)) / (2 * eps)
        grads.append(g)
    return grads


def _mlp_loss(x, w1, b1, w2, b2):
    h = (x @ w1 + b1).relu()
    return cross_entropy(h @ w2 + b2, np.array([0, 2, 1, 2, 0]))


def _mixed(a, b, c):
    z = (a * b.sigmoid() + c.T).tanh()  # (3, 4)
    m = z.max(axis=0, keepdims=True) - z.mean(axis=1, keepdims=True) / (b * b + 1.0)
    return (log_softmax(m, axis=0)[np.array([0, 2, 2])] ** 2).sum() + ((a * a + 0.5) ** c[:, 0].sum()).mean()


def _vector_ops(p, q):
    r = (p.exp() + q.log()) / (1.0 + p * p)
    return (r[r.data > 0.5] * 2.0).sum() - (r.reshape(2, 3) @ q.reshape(3, 2)).transpose().sum(axis=1).max()


COMPOSITES = {
    "mlp cross-entropy": (_mlp_loss, [(5, 3), (3, 6), (6,), (6, 3), (3,)]),
    "mixed reductions": (_mixed, [(3, 4), (3, 1), (4, 3)]),
    "vector ops": (_vector_ops, [(6,), (6,)]),
}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_backward_agrees_with_central_differences(name):
    fn, shapes = COMPOSITES[name]
    rng = np.random.default_rng(42)
    arrays = [rng.uniform(0.2, 1.5, size=s) if name == "vector ops" else rng.normal(size=s) for s in shapes]
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward()
    numerical = _numerical_gradient(lambda arrs: fn(*[Tensor(a) for a in arrs]).item(), arrays)
    for t, g in zip(tensors, numerical, strict=True):
        np.testing.assert_allclose(t.grad, g, rtol=1e-6, atol=1e-8)
