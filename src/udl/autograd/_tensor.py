r"""A small reverse-mode automatic differentiation engine on numpy arrays (UDL ch. 7, sections 7.2-7.4).

The book computes the gradients of a network in two passes. The **forward pass** evaluates the network and
stores every intermediate quantity (the pre-activations :math:`\mathbf{f}_k` and activations
:math:`\mathbf{h}_k`). The **backward pass** then walks the same computation in reverse and applies the chain
rule once per step (UDL sections 7.3-7.4), e.g. through a linear layer
:math:`\mathbf{f}_{k-1} = \boldsymbol\beta_{k-1} + \boldsymbol\Omega_{k-1}\mathbf{h}_{k-1}`:

.. math:: \frac{\partial \ell}{\partial \mathbf{h}_{k-1}}
          = \frac{\partial \mathbf{f}_{k-1}}{\partial \mathbf{h}_{k-1}}
            \frac{\partial \ell}{\partial \mathbf{f}_{k-1}}
          = \boldsymbol\Omega_{k-1}^T \frac{\partial \ell}{\partial \mathbf{f}_{k-1}}

The book's algorithmic differentiation (section 7.4) generalizes this from a chain of layers to any
computational graph: each node only has to know the local derivative of its output with respect to its inputs,
the gradients flowing into a node from all its uses are **summed**, and the nodes are visited in reverse
topological order so that a node's gradient is complete before it is passed on.

Here every operation on a :class:`Tensor` returns a new ``Tensor`` that remembers its inputs (``_parents``) and a
closure (``_backward``) mapping the gradient of the output to the gradients of the inputs (a vector-Jacobian
product). :meth:`Tensor.backward` sorts the graph topologically without recursion and runs the closures in
reverse order. Broadcasting is supported everywhere: an input that was broadcast receives the gradient summed
over the broadcast axes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

Array: TypeAlias = NDArray[Any]
# Maps the gradient of an operation's output to the gradients of its parents (None where a parent needs none).
BackwardFn: TypeAlias = Callable[[Array], Sequence["Array | None"]]
Operand: TypeAlias = "Tensor | ArrayLike"
Axis: TypeAlias = "int | Sequence[int] | None"


# --------------------------------------------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------------------------------------------


class _GradMode(threading.local):
    enabled: bool = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph (False inside :func:`no_grad`)."""
    return _grad_mode.enabled


@contextmanager
def no_grad() -> Generator[None, None, None]:
    """Context manager (and decorator) under which operations build no graph.

    Results computed inside have ``requires_grad=False``, no parents and no backward closure, so nothing is
    kept alive for a backward pass; use it for evaluation and for parameter updates. The previous mode is
    restored on exit, also when an exception leaves the block, and the context nests. The flag is per thread.

    Example::

        with no_grad():
            y = model(x)  # y.requires_grad is False
    """
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


def _unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast, giving it ``shape``.

    Broadcasting copies an input along new leading axes and along axes of length 1; by the chain rule the
    gradient of every copy flows back to the single original, so those axes are summed out.
    """
    grad = np.asarray(grad)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (all axes for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    normalized = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimension(s)")
        normalized.append(a % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(normalized))


def _expand_reduced(grad: Array, axes: tuple[int, ...], keepdims: bool, shape: tuple[int, ...]) -> Array:
    """Broadcast the gradient of a reduction over ``axes`` back to the input ``shape``."""
    grad = np.asarray(grad)
    if not keepdims and axes:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def _scalar_array(value: float | int | bool | np.number[Any] | np.bool_, like: Tensor) -> Array:
    """A Python number as a 0-d array of ``like``'s floating dtype, so that float32 stays float32."""
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.dtype(np.float64)
    return np.asarray(value, dtype=dtype)


def _as_tensor(value: Operand, like: Tensor) -> Tensor:
    """Wrap the other operand of a binary operation: Tensors pass through, numbers adopt ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, int | float | bool):
        return Tensor(_scalar_array(value, like))
    return Tensor(value)


def _index_data(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (Tensors can hold integer indices or boolean masks)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_index_data(i) for i in index)
    return index


# --------------------------------------------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------------------------------------------


class Tensor:
    r"""An n-dimensional array that records the operations applied to it, for reverse-mode differentiation.

    Args:
        data: array-like contents. numpy arrays and numpy scalars keep their dtype (and arrays are not
            copied); Python numbers and (nested) lists become float64, unless ``dtype`` says otherwise. A
            ``Tensor`` contributes its array (without its graph).
        requires_grad: whether gradients with respect to this tensor are wanted. Only floating-point tensors
            can require gradients.
        dtype: optional dtype to convert ``data`` to.

    Attributes:
        data: the numpy array.
        grad: ``None`` until a backward pass reaches this tensor, then a numpy array of the same shape and
            dtype holding :math:`\partial \ell / \partial \text{self}`; further backward passes **add** to it
            (call :meth:`zero_grad` in between, as with torch).
        requires_grad: whether this tensor is a leaf that wants a gradient, or a result computed (outside
            :func:`no_grad`) from at least one such tensor.

    Gradients are accumulated on **every** tensor with ``requires_grad=True`` that the backward pass reaches,
    intermediate results included (unlike torch, which keeps only the leaves' gradients unless asked with
    ``retain_grad``): after ``loss.backward()``, ``h.grad`` is the book's :math:`\partial \ell/\partial
    \mathbf{h}_k` for every stored activation ``h``.

    The graph is not freed by a backward pass, so ``backward`` may be called again on the same result; the
    gradients then add up.
    """

    __slots__ = ("__weakref__", "_backward", "_op", "_parents", "data", "grad", "requires_grad")
    # numpy defers to Tensor's reflected operators (``array + tensor`` calls ``Tensor.__radd__``).
    __array_ufunc__ = None

    data: Array
    grad: Array | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _backward: BackwardFn | None
    _op: str

    def __init__(self, data: Operand, requires_grad: bool = False, dtype: DTypeLike | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            array = np.asarray(data, dtype=dtype)
        elif isinstance(data, np.ndarray | np.generic):
            array = np.asarray(data)
        else:
            array = np.asarray(data, dtype=np.float64)
        if requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"only floating-point tensors can require gradients, got dtype {array.dtype}")
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""

    @classmethod
    def _make(cls, data: Any, parents: tuple[Tensor, ...], backward: BackwardFn, op: str) -> Tensor:
        """The result of an operation: records ``parents`` and ``backward`` when a gradient will be needed."""
        out = cls.__new__(cls)
        out.data = np.asarray(data)
        out.grad = None
        out.requires_grad = _grad_mode.enabled and any(p.requires_grad for p in parents)
        if out.requires_grad:
            out._parents = parents
            out._backward = backward
            out._op = op
        else:
            out._parents = ()
            out._backward = None
            out._op = ""
        return out

    # ---- array protocol -------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors that were not produced by a recorded operation."""
        return self._backward is None

    def numpy(self) -> Array:
        """The underlying numpy array (not a copy)."""
        return self.data

    def item(self) -> Any:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new tensor sharing this tensor's array but outside the graph (``requires_grad=False``)."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes ``None``)."""
        self.grad = None

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> Array:
        """``np.asarray(tensor)`` gives the data (without the graph)."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __bool__(self) -> bool:
        """Truth value of a one-element tensor; ambiguous (ValueError) for more elements, as in numpy."""
        return bool(self.data)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = ""
        if self.data.dtype != np.float64:
            extras += f", dtype={self.data.dtype}"
        if self._op:
            extras += f", op={self._op!r}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"Tensor({body}{extras})"

    # ---- backward pass --------------------------------------------------------------------------------------

    def _topological_order(self) -> list[Tensor]:
        """Every tensor that ``self`` depends on through recorded operations, each after all of its parents.

        Iterative depth-first search with an explicit stack, so graphs of any depth work.
        """
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in node._parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self, grad: Operand | None = None) -> None:
        r"""Backpropagate from this tensor: accumulate :math:`\partial \ell/\partial t` into ``t.grad`` for
        every tensor ``t`` with ``requires_grad`` that this tensor depends on (itself included).

        With a scalar result :math:`\ell` the pass is seeded with :math:`\partial \ell/\partial \ell = 1`. For a
        non-scalar result ``grad`` must be given; the pass then computes the vector-Jacobian products
        :math:`\sum_j \text{grad}_j\,\partial\,\text{self}_j/\partial t` (the gradient of
        ``(self * grad).sum()``).

        Args:
            grad: the gradient of the final scalar with respect to this tensor; same shape as ``self``.

        Raises:
            RuntimeError: this tensor does not require gradients (nothing to differentiate).
            ValueError: a non-scalar tensor without ``grad``, or ``grad`` of the wrong shape.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require gradients (no input had "
                "requires_grad=True, or it was computed inside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a scalar tensor, got shape {self.shape}; "
                    "pass grad= with the gradient of the final scalar with respect to this tensor"
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"grad must have the tensor's shape {self.shape}, got {seed.shape}")

        # Gradients flowing into each node, summed over all of its uses before being passed on (UDL section 7.4).
        pending: dict[int, Array] = {id(self): seed}
        for node in reversed(self._topological_order()):
            g = pending.pop(id(node), None)
            if g is None:  # no path from self carries a gradient here
                continue
            if node.grad is None:
                node.grad = np.array(g, dtype=node.dtype)  # own, writable copy
            else:
                node.grad = node.grad + g
            if node._backward is None:
                continue
            for parent, parent_grad in zip(node._parents, node._backward(g), strict=True):
                if parent_grad is None or not parent.requires_grad:
                    continue
                parent_grad = np.asarray(parent_grad, dtype=parent.dtype)
                if parent_grad.shape != parent.shape:  # pragma: no cover - a bug in an operation
                    raise AssertionError(
                        f"{node._op}: gradient of shape {parent_grad.shape} for an input of shape {parent.shape}"
                    )
                key = id(parent)
                pending[key] = pending[key] + parent_grad if key in pending else parent_grad

    # ---- elementwise arithmetic (with broadcasting) -----------------------------------------------------------

    def __add__(self, other: Operand) -> Tensor:
        a, b = self, _as_tensor(other, self)

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            return (
                _unbroadcast(g, a.shape) if a.requires_grad else None,
                _unbroadcast(g, b.shape) if b.requires_grad else None,
            )

        return Tensor._make(a.data + b.data, (a, b), backward, "add")

    def __radd__(self, other: Operand) -> Tensor:
        return _as_tensor(other, self) + self

    def __sub__(self, other: Operand) -> Tensor:
        a, b = self, _as_tensor(other, self)

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            return (
                _unbroadcast(g, a.shape) if a.requires_grad else None,
                _unbroadcast(-g, b.shape) if b.requires_grad else None,
            )

        return Tensor._make(a.data - b.data, (a, b), backward, "sub")

    def __rsub__(self, other: Operand) -> Tensor:
        return _as_tensor(other, self) - self

    def __mul__(self, other: Operand) -> Tensor:
        a, b = self, _as_tensor(other, self)

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            return (
                _unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                _unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
            )

        return Tensor._make(a.data * b.data, (a, b), backward, "mul")

    def __rmul__(self, other: Operand) -> Tensor:
        return _as_tensor(other, self) * self

    def __truediv__(self, other: Operand) -> Tensor:
        a, b = self, _as_tensor(other, self)

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            return (
                _unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                _unbroadcast(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None,
            )

        return Tensor._make(a.data / b.data, (a, b), backward, "div")

    def __rtruediv__(self, other: Operand) -> Tensor:
        return _as_tensor(other, self) / self

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Operand) -> Tensor:
        r"""``self ** exponent``, elementwise.

        A number exponent p gives :math:`\partial x^p/\partial x = p\,x^{p-1}` (and 0 for p = 0, also at x = 0).
        A tensor exponent b is also differentiated, :math:`\partial a^b/\partial b = a^b \log a`, which needs
        a > 0: where a = 0 and b >= 0 that gradient is taken as 0 (the limit, as torch does) and for a < 0 it
        is NaN.
        """
        a = self
        if isinstance(exponent, int | float) and not isinstance(exponent, bool):
            p = float(exponent)
            out = a.data**p

            def backward_scalar(g: Array) -> tuple[Array]:
                if p == 0.0:
                    return (np.zeros_like(a.data),)
                return (g * p * a.data ** (p - 1.0),)

            return Tensor._make(out, (a,), backward_scalar, "pow")

        b = _as_tensor(exponent, self)
        out = a.data**b.data

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            grad_a = grad_b = None
            with np.errstate(divide="ignore", invalid="ignore"):
                if a.requires_grad:
                    local = np.where(b.data == 0, 0.0, b.data * a.data ** (b.data - 1))
                    grad_a = _unbroadcast(g * local, a.shape)
                if b.requires_grad:
                    local = np.where((a.data == 0) & (b.data >= 0), 0.0, out * np.log(a.data))
                    grad_b = _unbroadcast(g * local, b.shape)
            return grad_a, grad_b

        return Tensor._make(out, (a, b), backward, "pow")

    def __rpow__(self, base: Operand) -> Tensor:
        return _as_tensor(base, self) ** self

    # ---- matrix product ---------------------------------------------------------------------------------------

    def __matmul__(self, other: Operand) -> Tensor:
        r"""Matrix product with ``np.matmul`` semantics: 1-D operands are promoted to a row (left) or column
        (right) vector and the added axis removed again; leading axes are batch axes and broadcast.

        For :math:`\mathbf{C} = \mathbf{A}\mathbf{B}`: :math:`\partial\ell/\partial\mathbf{A} =
        (\partial\ell/\partial\mathbf{C})\,\mathbf{B}^T` and :math:`\partial\ell/\partial\mathbf{B} =
        \mathbf{A}^T(\partial\ell/\partial\mathbf{C})` (UDL section 7.4), summed over broadcast batch axes.
        """
        a, b = self, _as_tensor(other, self)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul needs operands with at least 1 dimension, got shapes {a.shape} and {b.shape}"
            )
        out = np.matmul(a.data, b.data)

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            a2 = a.data[np.newaxis, :] if a.ndim == 1 else a.data  # (..., n, k)
            b2 = b.data[:, np.newaxis] if b.ndim == 1 else b.data  # (..., k, m)
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
            g2 = np.reshape(g, (*batch, a2.shape[-2], b2.shape[-1]))  # (..., n, m)
            grad_a = grad_b = None
            if a.requires_grad:
                grad_a = _unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
            if b.requires_grad:
                grad_b = _unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
            return grad_a, grad_b

        return Tensor._make(out, (a, b), backward, "matmul")

    def __rmatmul__(self, other: Operand) -> Tensor:
        return _as_tensor(other, self) @ self

    # ---- elementwise functions --------------------------------------------------------------------------------

    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,), "exp")

    def log(self) -> Tensor:
        """Natural logarithm; the gradient is ``1 / x``."""
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,), "log")

    def relu(self) -> Tensor:
        r"""ReLU, :math:`\mathrm{a}[z] = \max(0, z)` (UDL eq. 3.2); its derivative is taken as 0 at z = 0."""
        x = self.data
        return Tensor._make(np.maximum(x, 0), (self,), lambda g: (g * (x > 0),), "relu")

    def sigmoid(self) -> Tensor:
        r"""Logistic sigmoid :math:`1/(1+e^{-z})`, computed without overflow for large :math:`|z|`; its
        derivative is :math:`\sigma(z)(1-\sigma(z))`."""
        x = self.data
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return Tensor._make(out, (self,), lambda g: (g * out * (1.0 - out),), "sigmoid")

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1.0 - out * out),), "tanh")

    # ---- reductions -------------------------------------------------------------------------------------------

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (an int, a tuple of ints, or ``None`` for all axes)."""
        axes = _normalize_axes(axis, self.ndim)
        shape = self.shape
        out = np.sum(self.data, axis=axes, keepdims=keepdims)
        return Tensor._make(out, (self,), lambda g: (_expand_reduced(g, axes, keepdims, shape),), "sum")

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``; the gradient is spread equally, ``1/count`` to every element."""
        axes = _normalize_axes(axis, self.ndim)
        shape = self.shape
        count = int(np.prod([shape[a] for a in axes])) if axes else 1
        out = np.mean(self.data, axis=axes, keepdims=keepdims)
        return Tensor._make(
            out, (self,), lambda g: (_expand_reduced(g, axes, keepdims, shape) / count,), "mean"
        )

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``.

        The gradient goes to the position of the maximum. When several elements tie for the maximum it is
        **split evenly** among them (each gets ``g / number_of_ties``), which is what ``torch.amax`` does (and
        a valid subgradient); ``torch.max(x, dim)`` instead gives it all to one of them.
        """
        axes = _normalize_axes(axis, self.ndim)
        x = self.data
        if x.size == 0:
            raise ValueError(f"max() of an empty tensor (shape {self.shape})")
        out = np.max(x, axis=axes, keepdims=keepdims)

        def backward(g: Array) -> tuple[Array]:
            peak = _expand_reduced(out, axes, keepdims, x.shape)
            is_max = x == peak
            ties = np.sum(is_max, axis=axes, keepdims=True)
            return (np.where(is_max, _expand_reduced(g, axes, keepdims, x.shape) / ties, 0.0),)

        return Tensor._make(out, (self,), backward, "max")

    # ---- shape operations -------------------------------------------------------------------------------------

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Same elements in a new shape; ``reshape(2, 3)`` and ``reshape((2, 3))`` both work (one -1 allowed)."""
        target: Any = shape[0] if len(shape) == 1 and not isinstance(shape[0], int | np.integer) else shape
        original = self.shape
        return Tensor._make(
            self.data.reshape(target), (self,), lambda g: (np.reshape(g, original),), "reshape"
        )

    def transpose(self, axes: Sequence[int] | None = None) -> Tensor:
        """Permute the axes (reverse them for ``None``, as ``np.transpose``)."""
        n = self.ndim
        perm = tuple(range(n))[::-1] if axes is None else tuple(int(a) for a in axes)
        if sorted(a % n for a in perm if -n <= a < n) != list(range(n)):
            raise ValueError(f"axes {axes!r} is not a permutation of the {n} axes")
        perm = tuple(a % n for a in perm)
        inverse = tuple(int(i) for i in np.argsort(perm))
        return Tensor._make(
            np.transpose(self.data, perm), (self,), lambda g: (np.transpose(g, inverse),), "transpose"
        )

    @property
    def T(self) -> Tensor:
        """All axes reversed (``np.ndarray.T``): the matrix transpose for 2-D tensors."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """Numpy indexing: integers, slices, ``None``, ``...``, integer arrays and boolean masks.

        The backward pass scatters the gradient back with ``np.add.at``, so an element selected several times
        (a repeated integer index) receives the **sum** of the gradients of its copies.
        """
        idx = _index_data(index)
        x = self.data

        def backward(g: Array) -> tuple[Array]:
            grad = np.zeros_like(x)
            np.add.at(grad, idx, g)
            return (grad,)

        return Tensor._make(x[idx], (self,), backward, "getitem")

    # ---- composites -------------------------------------------------------------------------------------------

    def log_softmax(self, axis: int = -1) -> Tensor:
        return log_softmax(self, axis)

    def softmax(self, axis: int = -1) -> Tensor:
        return softmax(self, axis)


# --------------------------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------------------------


def _tensor(x: Operand) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x: Operand) -> Tensor:
    """Elementwise :math:`e^x`."""
    return _tensor(x).exp()


def log(x: Operand) -> Tensor:
    """Elementwise natural logarithm."""
    return _tensor(x).log()


def relu(x: Operand) -> Tensor:
    """Elementwise ReLU (UDL eq. 3.2)."""
    return _tensor(x).relu()


def sigmoid(x: Operand) -> Tensor:
    """Elementwise logistic sigmoid, stable for large inputs."""
    return _tensor(x).sigmoid()


def tanh(x: Operand) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return _tensor(x).tanh()


def _log_softmax_array(z: Array, axis: int) -> Array:
    shifted = z - np.max(z, axis=axis, keepdims=True)  # largest entry 0: exp never overflows
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax(x: Operand, axis: int = -1) -> Tensor:
    r"""Log of the softmax function (UDL eq. 5.22) along ``axis``, computed stably:

    .. math:: \log \mathrm{softmax}_k[\mathbf{z}] = z_k - \max_j z_j - \log \sum_{j} \exp[z_j - \max_j z_j]

    Its vector-Jacobian product is :math:`\mathbf{g} - \mathrm{softmax}[\mathbf{z}] \sum_k g_k`.

    Args:
        x: logits.
        axis: the axis holding the classes.

    Returns:
        Tensor of ``x``'s shape.
    """
    t = _tensor(x)
    if t.ndim == 0:
        raise ValueError("log_softmax needs a tensor with at least 1 dimension")
    (ax,) = _normalize_axes(axis, t.ndim)
    out = _log_softmax_array(t.data, ax)

    def backward(g: Array) -> tuple[Array]:
        return (g - np.exp(out) * np.sum(g, axis=ax, keepdims=True),)

    return Tensor._make(out, (t,), backward, "log_softmax")


def softmax(x: Operand, axis: int = -1) -> Tensor:
    r"""Softmax along ``axis`` (UDL eq. 5.22), :math:`\exp[z_k]/\sum_j \exp[z_j]`, computed stably.

    Its vector-Jacobian product is :math:`\mathbf{s} \odot (\mathbf{g} - \sum_k g_k s_k)`.
    """
    t = _tensor(x)
    if t.ndim == 0:
        raise ValueError("softmax needs a tensor with at least 1 dimension")
    (ax,) = _normalize_axes(axis, t.ndim)
    out = np.exp(_log_softmax_array(t.data, ax))

    def backward(g: Array) -> tuple[Array]:
        return (out * (g - np.sum(g * out, axis=ax, keepdims=True)),)

    return Tensor._make(out, (t,), backward, "softmax")


def cross_entropy(logits: Operand, targets: Operand) -> Tensor:
    r"""Multiclass cross-entropy loss (UDL eq. 5.24), averaged over the batch:

    .. math:: L = -\frac{1}{I}\sum_{i=1}^{I} \log \mathrm{softmax}_{y_i}\left[\mathbf{f}[\mathbf{x}_i,
              \boldsymbol\phi]\right],
              \qquad \frac{\partial L}{\partial \mathbf{f}_i} = \frac{1}{I}\left(\mathrm{softmax}[\mathbf{f}_i]
              - \mathbf{e}_{y_i}\right)

    Same value as ``torch.nn.functional.cross_entropy(logits, targets)`` (``reduction="mean"``).

    Args:
        logits: :math:`\mathbf{f}`, shape (I, K): one row of K unnormalized scores per example.
        targets: the classes :math:`y_i \in \{0, \dots, K-1\}`, shape (I,), integers (array, list or Tensor).

    Returns:
        Scalar tensor.

    Raises:
        ValueError: wrong shapes, an empty batch, non-integer targets or a class out of range.
    """
    z = _tensor(logits)
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (I, K), got {z.shape}")
    n, k = z.shape
    if y.shape != (n,):
        raise ValueError(f"targets must have shape ({n},) to match the logits, got {y.shape}")
    if n == 0:
        raise ValueError("cross_entropy of an empty batch is undefined")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"targets must lie in [0, {k - 1}], got values in [{y.min()}, {y.max()}]")
    logp = _log_softmax_array(z.data, 1)  # (I, K)
    rows = np.arange(n)
    loss = -np.mean(logp[rows, y])

    def backward(g: Array) -> tuple[Array]:
        grad = np.exp(logp)
        grad[rows, y] -= 1.0
        return (grad * (g / n),)

    return Tensor._make(loss, (z,), backward, "cross_entropy")
