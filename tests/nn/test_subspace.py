"""RandomSubspace vs the model it wraps, and its gradient vs Pᵀ∇L in float64."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from udl.nn import MLP, RandomSubspace


def test_subspace_starts_at_the_model_and_moves_along_p() -> None:
    net = MLP(4, [6], 3, activation="tanh", generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sub = RandomSubspace(net, 5, generator=torch.Generator().manual_seed(1))
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = torch.randint(0, 3, (9,), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(sub(x), net(x), atol=0, rtol=0)
    assert [p.shape for p in sub.parameters()] == [torch.Size([5])]
    # gradient wrt z is Pᵀ ∇_φ L at φ₀
    nn.functional.cross_entropy(sub(x), y).backward()
    nn.functional.cross_entropy(net(x), y).backward()
    full = parameters_to_vector([p.grad for p in net.parameters()])
    torch.testing.assert_close(sub.z.grad, sub.basis.T @ full, atol=1e-12, rtol=1e-10)
    # a moved z equals the model with φ₀ + P z loaded
    with torch.no_grad():
        sub.z.copy_(torch.randn(5, generator=torch.Generator().manual_seed(4), dtype=torch.float64))
        moved = MLP(4, [6], 3, activation="tanh", dtype=torch.float64)
        vector_to_parameters(sub.theta0 + sub.basis @ sub.z, moved.parameters())
        torch.testing.assert_close(sub(x), moved(x), atol=1e-12, rtol=1e-12)


def test_bad_dimension() -> None:
    with pytest.raises(ValueError, match="d <= n"):
        RandomSubspace(MLP(2, [2], 1), 100)
