"""Trunks and heads (UDL 9.3.7): the trunk is the MLP's hidden layers, replace_head keeps every trunk weight,
freeze stops gradients, TrunkWithHeads computes each head on one shared representation."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from reference import F64, gen
from udl.nn import MLP, MLPTrunk, TrunkWithHeads, freeze, mlp_trunk, replace_head, unfreeze


def _mlp(seed: int = 0) -> MLP:
    return MLP(7, (11, 9), 4, generator=gen(seed), dtype=F64)


def _hidden_by_hand(net: MLP, x: torch.Tensor) -> torch.Tensor:
    h = x
    for w, b in zip(net.omegas[:-1], net.betas[:-1], strict=True):
        h = torch.relu(h @ w.T + b)
    return h


def test_trunk_is_the_hidden_layers_and_shares_them():
    net = _mlp()
    x = torch.randn(5, 7, dtype=F64, generator=gen(1))
    trunk = mlp_trunk(net)
    assert isinstance(trunk, MLPTrunk) and trunk.out_features == 9
    torch.testing.assert_close(trunk(x), _hidden_by_hand(net, x), rtol=0, atol=0)
    assert torch.equal(net.layers[-1](trunk(x)), net(x))
    assert trunk.layers[0].weight is net.layers[0].weight  # shared, not copied
    with pytest.raises(ValueError, match="no trunk"):
        mlp_trunk(MLP(3, (), 2))


def test_replace_head_keeps_trunk_weights_identical():
    net = _mlp()
    before = copy.deepcopy(net)
    head = nn.Linear(9, 3, dtype=F64)
    assert replace_head(net, head) is net
    assert net.layers[-1] is head and net.widths == (7, 11, 9, 3) and net.out_features == 3
    for k in range(2):
        assert torch.equal(net.layers[k].weight, before.layers[k].weight)
        assert torch.equal(net.layers[k].bias, before.layers[k].bias)
    x = torch.randn(4, 7, dtype=F64, generator=gen(2))
    torch.testing.assert_close(net(x), head(mlp_trunk(before)(x)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="in_features=9"):
        replace_head(net, nn.Linear(8, 3))
    with pytest.raises(ValueError, match="name is only used"):
        replace_head(net, head, name="x")
    with pytest.raises(TypeError, match="supports"):
        replace_head(nn.Linear(2, 2), nn.Linear(2, 2))


def test_replace_head_on_sequential_and_trunk_with_heads():
    seq = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    first = seq[0].weight.clone()
    new = nn.Linear(5, 7)
    replace_head(seq, new)
    assert seq[2] is new and torch.equal(seq[0].weight, first) and seq(torch.zeros(1, 3)).shape == (1, 7)

    model = TrunkWithHeads(nn.Linear(3, 5), {"a": nn.Linear(5, 2), "b": nn.Linear(5, 1)})
    replace_head(model, nn.Linear(5, 6), name="b")
    assert model(torch.zeros(2, 3))["b"].shape == (2, 6)
    with pytest.raises(ValueError, match="one of the heads"):
        replace_head(model, nn.Linear(5, 6))


def test_freeze_stops_gradients_and_updates_but_not_backprop_through_it():
    net = _mlp()
    trunk = freeze(mlp_trunk(net))
    frozen = [p.clone() for p in trunk.parameters()]
    assert all(not p.requires_grad for p in trunk.parameters())
    assert all(p.requires_grad for p in net.layers[-1].parameters())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    head_before = net.layers[-1].weight.clone()
    x, y = torch.randn(16, 7, dtype=F64, generator=gen(3)), torch.randint(0, 4, (16,), generator=gen(4))
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        assert all(p.grad is None for p in trunk.parameters())
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(frozen, trunk.parameters(), strict=True))
    assert not torch.equal(net.layers[-1].weight, head_before)

    # gradients still flow through a frozen module to what comes before it
    x_leaf = x.clone().requires_grad_(True)
    net(x_leaf).sum().backward()
    assert x_leaf.grad is not None and x_leaf.grad.abs().sum() > 0

    unfreeze(trunk)
    assert all(p.requires_grad for p in net.parameters())


def test_trunk_with_heads_shares_one_representation():
    net = _mlp()
    heads = {"digit": nn.Linear(9, 10, dtype=F64), "shift": nn.Linear(9, 1, dtype=F64)}
    model = TrunkWithHeads(mlp_trunk(net), heads)
    x = torch.randn(6, 7, dtype=F64, generator=gen(5))
    out = model(x)
    assert list(out) == ["digit", "shift"]
    h = _hidden_by_hand(net, x)
    torch.testing.assert_close(out["digit"], heads["digit"](h), rtol=0, atol=0)
    torch.testing.assert_close(out["shift"], heads["shift"](h), rtol=0, atol=0)
    torch.testing.assert_close(model.features(x), h, rtol=0, atol=0)
    # both heads' losses reach the trunk; a head only gets its own loss's gradient
    loss = out["digit"].sum() + 0.0 * out["shift"].sum()
    loss.backward()
    assert net.layers[0].weight.grad is not None
    assert heads["shift"].weight.grad is not None and (heads["shift"].weight.grad == 0).all()
    with pytest.raises(ValueError, match="at least one head"):
        TrunkWithHeads(nn.Identity(), {})
