r"""Reverse-mode automatic differentiation on numpy arrays: backpropagation from scratch (UDL ch. 7).

:class:`Tensor` wraps a numpy array and records the operations applied to it (the forward pass stores every
intermediate result, UDL section 7.3); :meth:`Tensor.backward` then applies the chain rule in reverse
topological order, summing the gradients that reach a tensor along different paths (UDL section 7.4).
:mod:`udl.autograd.nn` builds a ReLU network and an SGD optimizer on top of it.

Example::

    import numpy as np
    from udl.autograd import Tensor, cross_entropy
    from udl.autograd.nn import MLP, SGD

    rng = np.random.default_rng(0)
    net = MLP([2, 16, 3], rng)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss = cross_entropy(net(rng.normal(size=(8, 2))), rng.integers(0, 3, size=8))
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

from __future__ import annotations

from udl.autograd import nn
from udl.autograd._tensor import (
    Tensor,
    cross_entropy,
    exp,
    is_grad_enabled,
    log,
    log_softmax,
    no_grad,
    relu,
    sigmoid,
    softmax,
    tanh,
)

__all__ = [
    "Tensor",
    "cross_entropy",
    "exp",
    "is_grad_enabled",
    "log",
    "log_softmax",
    "nn",
    "no_grad",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
