"""decay_groups: weight decay on the weights only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.optim import AdamW, decay_groups
from udl.train import StackedMLP


def test_default_decays_weights_not_biases_or_norm_scales() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    decayed, rest = decay_groups(model, 0.1)
    assert decayed["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert decayed["params"] == [model[0].weight, model[2].weight]
    assert rest["params"] == [model[0].bias, model[1].weight, model[1].bias, model[2].bias]


def test_stacked_mlp_weights_are_decayed_its_biases_not() -> None:
    model = StackedMLP(4, [(3, 3)] * 2, 2)
    decayed, rest = decay_groups(model, 0.5)
    assert decayed["params"] == list(model.weights)
    assert rest["params"] == list(model.biases)


def test_adamw_with_the_groups_shrinks_only_the_weights() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = AdamW(decay_groups(model, 0.1), lr=0.01)
    (0.0 * model(torch.randn(5, 3)).sum()).backward()  # zero gradient: only the decay moves anything
    opt.step()
    torch.testing.assert_close(model.weight, before[0] * (1 - 0.01 * 0.1))
    torch.testing.assert_close(model.bias, before[1], rtol=0, atol=0)


def test_explicit_decayed_parameters() -> None:
    model = StackedMLP(4, [(3,)] * 2, 2)
    everything = [*model.weights, *model.biases]
    decayed, rest = decay_groups(model, 0.1, everything)
    assert decayed["params"] == everything and rest["params"] == []
    with pytest.raises(ValueError):
        decay_groups(model, 0.1, [nn.Parameter(torch.zeros(2))])
