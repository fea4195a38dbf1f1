r"""Training in a random subspace of parameter space: the intrinsic dimension (Li et al., 2018; UDL section 20.4.4).

The parameters of a network are restricted to a d-dimensional affine subspace through its initialization,

.. math:: \boldsymbol\phi = \boldsymbol\phi_0 + \mathbf P\mathbf z,

with a fixed random P (n × d, orthonormal columns, ``udl.functional.random_subspace``); only z (initially 0) is
trained. The *intrinsic dimension* of a task is the smallest d at which such training reaches 90% of the
accuracy of training all n parameters.

Example:
    >>> import torch
    >>> from udl.nn import MLP
    >>> net = MLP(4, [8], 3, generator=torch.Generator().manual_seed(0))
    >>> sub = RandomSubspace(net, 5, generator=torch.Generator().manual_seed(1))
    >>> [p.shape for p in sub.parameters()]
    [torch.Size([5])]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector

from udl.functional import random_subspace

__all__ = ["RandomSubspace"]


class RandomSubspace(nn.Module):
    """``model`` with its parameters φ = φ₀ + P z: only ``z`` (d,) is a parameter; φ₀ (the model's parameters at
    construction) and P (n, d) are buffers.

    Args:
        model: the network (kept as a template; its own parameters are not trained or changed).
        dim: d, the subspace dimension, 1 <= d <= n.
        generator: draws P.
    """

    def __init__(self, model: nn.Module, dim: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        params = dict(model.named_parameters())
        theta0 = parameters_to_vector(params.values()).detach().clone()
        self._names = list(params)
        self._shapes = [p.shape for p in params.values()]
        self._sizes = [p.numel() for p in params.values()]
        self.model = [model]  # a list: not a submodule, so its parameters are not ours
        self.register_buffer("theta0", theta0)
        basis = random_subspace(theta0.numel(), dim, generator=generator, dtype=theta0.dtype)
        self.register_buffer("basis", basis.to(theta0.device))
        self.theta0: Tensor
        self.basis: Tensor
        self.z = nn.Parameter(torch.zeros(dim, dtype=theta0.dtype, device=theta0.device))

    def flat_parameters(self) -> Tensor:
        """φ₀ + P z, (n,)."""
        return self.theta0 + self.basis @ self.z

    def forward(self, x: Tensor) -> Tensor:
        parts = torch.split(self.flat_parameters(), self._sizes)
        params = {n: p.view(s) for n, p, s in zip(self._names, parts, self._shapes, strict=True)}
        return functional_call(self.model[0], params, (x,))
