r"""Layers and an optimizer on top of :mod:`udl.autograd`: a fully connected network trained by SGD.

:class:`MLP` is the deep network of UDL eq. 4.15,

.. math::
    \mathbf{h}_1 = \mathrm{ReLU}[\boldsymbol\beta_0 + \boldsymbol\Omega_0 \mathbf{x}], \quad
    \mathbf{h}_k = \mathrm{ReLU}[\boldsymbol\beta_{k-1} + \boldsymbol\Omega_{k-1} \mathbf{h}_{k-1}], \quad
    \mathbf{y} = \boldsymbol\beta_K + \boldsymbol\Omega_K \mathbf{h}_K,

with He initialization (UDL eq. 7.32), whose gradients come from :meth:`udl.autograd.Tensor.backward`, and
:class:`SGD` applies stochastic gradient descent with momentum (UDL eq. 6.11) with the same update rule as
``torch.optim.SGD``, so that a run can be compared number for number with torch.

Weights are stored as torch stores them: ``Linear.weight`` is Ω of shape (out_features, in_features) and
``Linear.bias`` is β of shape (out_features,); a batch of inputs is a matrix with one example per **row**, so a
layer computes ``x @ weight.T + bias``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from udl.autograd._tensor import Array, Operand, Tensor, no_grad

__all__ = ["MLP", "SGD", "Linear"]


def _float_array(value: ArrayLike, name: str) -> Array:
    """A floating-point copy of ``value`` (float64 unless it already is floating point)."""
    array = np.array(value)  # a copy, never a view of the caller's array
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains non-finite values")
    return array


class Linear:
    r"""Affine layer :math:`\mathbf{f} = \boldsymbol\beta + \boldsymbol\Omega\mathbf{h}`, applied to each row.

    He initialization (UDL eq. 7.32): :math:`\Omega_{ij} \sim \mathrm{Norm}[0, 2/D_{in}]`, :math:`\beta = 0`,
    which keeps the variance of the pre-activations constant from layer to layer of a ReLU network.

    Args:
        in_features: :math:`D_{in}` (>= 1).
        out_features: :math:`D_{out}` (>= 1).
        rng: source of the random weights; the same seed gives the same layer.

    Attributes:
        weight: Ω, a float64 Tensor of shape (out_features, in_features) with ``requires_grad=True``.
        bias: β, a float64 Tensor of shape (out_features,) with ``requires_grad=True``.

    Shapes:
        input (..., in_features) -> output (..., out_features).
    """

    weight: Tensor
    bias: Tensor

    def __init__(self, in_features: int, out_features: int, rng: np.random.Generator) -> None:
        if int(in_features) != in_features or int(out_features) != out_features:
            raise ValueError(f"sizes must be integers, got in={in_features}, out={out_features}")
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"sizes must be >= 1, got in_features={in_features}, out_features={out_features}"
            )
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        std = math.sqrt(2.0 / in_features)  # UDL eq. 7.32
        self.weight = Tensor(
            rng.normal(0.0, std, size=(int(out_features), int(in_features))), requires_grad=True
        )
        self.bias = Tensor(np.zeros(int(out_features)), requires_grad=True)

    @classmethod
    def from_arrays(cls, weight: ArrayLike, bias: ArrayLike) -> Linear:
        """A layer with the given Ω (out, in) and β (out,) (copied), e.g. those of a ``torch.nn.Linear``:
        ``Linear.from_arrays(layer.weight.detach().numpy(), layer.bias.detach().numpy())``.

        Arrays that are not floating point are converted to float64; floating-point dtypes are kept.
        """
        layer = cls.__new__(cls)
        layer.load_arrays(weight, bias)
        return layer

    def load_arrays(self, weight: ArrayLike, bias: ArrayLike) -> None:
        """Replace Ω and β by copies of ``weight`` (out, in) and ``bias`` (out,); gradients are reset."""
        w = _float_array(weight, "weight")
        b = _float_array(bias, "bias")
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
            raise ValueError(f"weight must have shape (out_features, in_features), got {w.shape}")
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},) to match weight {w.shape}, got {b.shape}")
        if hasattr(self, "weight") and (w.shape != self.weight.shape or b.shape != self.bias.shape):
            raise ValueError(
                f"expected weight {self.weight.shape} and bias {self.bias.shape}, got {w.shape} and {b.shape}"
            )
        self.weight = Tensor(w, requires_grad=True)
        self.bias = Tensor(b, requires_grad=True)

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def parameters(self) -> list[Tensor]:
        """``[weight, bias]``, the order of ``torch.nn.Linear.parameters()``."""
        return [self.weight, self.bias]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, x: Operand) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"input must have shape (..., {self.in_features}), got {x.shape}")
        return x @ self.weight.T + self.bias

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"


class MLP:
    r"""Fully connected ReLU network (UDL eq. 4.15) with layer widths ``sizes = [D_i, D_1, ..., D_K, D_o]``.

    ``layers[k]`` is the :class:`Linear` layer holding β_k and Ω_k, k = 0, ..., K; ReLU is applied after every
    layer except the last, so ``MLP([D_i, D_o], rng)`` is a single linear layer.

    Args:
        sizes: at least two positive widths.
        rng: source of the He-initialized weights (layer by layer, in order).

    Shapes:
        input (..., D_i) -> output (..., D_o).
    """

    layers: list[Linear]

    def __init__(self, sizes: Sequence[int], rng: np.random.Generator) -> None:
        sizes = tuple(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
        self.layers = [Linear(d_in, d_out, rng) for d_in, d_out in pairwise(sizes)]

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.layers[0].in_features, *(layer.out_features for layer in self.layers))

    def __call__(self, x: Operand) -> Tensor:
        h = x if isinstance(x, Tensor) else Tensor(x)
        for layer in self.layers[:-1]:
            h = layer(h).relu()  # h_k = ReLU[β_{k-1} + Ω_{k-1} h_{k-1}]
        return self.layers[-1](h)  # y = β_K + Ω_K h_K

    def parameters(self) -> list[Tensor]:
        """``[Ω_0, β_0, Ω_1, β_1, ...]``: the order of ``torch.nn.Sequential(Linear, ReLU, ...).parameters()``."""
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def state(self) -> list[tuple[Array, Array]]:
        """Copies of ``(weight, bias)`` for every layer, the format :meth:`load_state` reads."""
        return [(layer.weight.data.copy(), layer.bias.data.copy()) for layer in self.layers]

    def load_state(self, state: Iterable[tuple[ArrayLike, ArrayLike]]) -> None:
        """Copy in ``(weight, bias)`` for every layer, e.g. from a torch ``nn.Sequential``::

            net.load_state([(m.weight.detach().numpy(), m.bias.detach().numpy())
                            for m in seq if isinstance(m, torch.nn.Linear)])

        Raises:
            ValueError: the wrong number of layers or a shape that differs from this network's.
        """
        pairs = list(state)
        if len(pairs) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} (weight, bias) pairs, got {len(pairs)}")
        for k, (layer, (w, b)) in enumerate(zip(self.layers, pairs, strict=True)):
            try:
                layer.load_arrays(w, b)
            except ValueError as err:
                raise ValueError(f"layer {k}: {err}") from None

    @classmethod
    def from_state(cls, state: Iterable[tuple[ArrayLike, ArrayLike]]) -> MLP:
        """A network built from ``(weight, bias)`` pairs alone (the widths are read off the shapes)."""
        layers = [Linear.from_arrays(w, b) for w, b in state]
        if not layers:
            raise ValueError("state must hold at least one (weight, bias) pair")
        for k in range(1, len(layers)):
            if layers[k].in_features != layers[k - 1].out_features:
                raise ValueError(
                    f"layer {k} takes {layers[k].in_features} inputs but layer {k - 1} gives "
                    f"{layers[k - 1].out_features} outputs"
                )
        net = cls.__new__(cls)
        net.layers = layers
        return net

    def __repr__(self) -> str:
        return f"MLP(sizes={list(self.sizes)})"


class SGD:
    r"""Stochastic gradient descent with momentum (UDL eq. 6.11), in ``torch.optim.SGD``'s formulation.

    With learning rate α and momentum β, for each parameter φ with gradient g:

    .. math:: \mathbf{m} \leftarrow \beta\,\mathbf{m} + \mathbf{g}, \qquad
              \boldsymbol\phi \leftarrow \boldsymbol\phi - \alpha\,\mathbf{m}

    with :math:`\mathbf{m} = \mathbf{g}` at a parameter's first step (torch's rule, no dampening). The book
    writes :math:`\mathbf{m} \leftarrow \beta\mathbf{m} + (1-\beta)\mathbf{g}`; that is the same path with the
    learning rate rescaled by :math:`1-\beta` (apart from the first step). ``momentum=0`` is plain SGD,
    :math:`\boldsymbol\phi \leftarrow \boldsymbol\phi - \alpha\,\mathbf{g}` (UDL eq. 6.3).

    Parameters whose ``grad`` is ``None`` are skipped by :meth:`step`, as in torch.

    Args:
        params: the tensors to optimize (each with ``requires_grad=True``).
        lr: learning rate α >= 0.
        momentum: β in [0, 1).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"parameter {i} must be a Tensor with requires_grad=True")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter appears more than once in params")
        if not lr >= 0.0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self._buffers: list[Array | None] = [None] * len(self.params)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place of its ``data`` (no graph is built)."""
        with no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                direction: Any = p.grad
                if self.momentum != 0.0:
                    previous = self._buffers[i]
                    buffer = p.grad.copy() if previous is None else self.momentum * previous + p.grad
                    self._buffers[i] = buffer
                    direction = buffer
                p.data = p.data - self.lr * direction

    def zero_grad(self) -> None:
        """Reset the gradients of all parameters to ``None`` (torch's default ``set_to_none=True``)."""
        for p in self.params:
            p.zero_grad()
