"""StackedEnsemble: M copies of a module evaluated with one vmap, equal to each copy alone (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.nn import StackedEnsemble


def _member(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def test_forward_gradients_and_member_equal_the_copies() -> None:
    members = [_member(s) for s in range(4)]
    ensemble = StackedEnsemble(members)
    assert len(ensemble) == 4
    assert sorted(n for n, _ in ensemble.named_parameters()) == [
        "0__bias",
        "0__weight",
        "2__bias",
        "2__weight",
    ]
    x = torch.randn(6, 4, dtype=torch.float64)
    out = ensemble(x)
    assert out.shape == (4, 6, 3)
    out.sum().backward()
    for m, member in enumerate(members):
        torch.testing.assert_close(out[m], member(x), rtol=1e-13, atol=1e-13)
        member(x).sum().backward()
        torch.testing.assert_close(ensemble.get_parameter("0__weight").grad[m], member[0].weight.grad)
        torch.testing.assert_close(ensemble.member(m)(x), member(x), rtol=0, atol=0)


def test_copies_are_independent_of_the_members() -> None:
    members = [_member(0), _member(1)]
    ensemble = StackedEnsemble(members)
    with torch.no_grad():
        members[0][0].weight.zero_()
    assert ensemble.get_parameter("0__weight")[0].abs().sum() > 0


def test_needs_a_member() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        StackedEnsemble([])
