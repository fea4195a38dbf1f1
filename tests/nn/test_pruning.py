"""Magnitude pruning masks vs torch.nn.utils.prune.l1_unstructured applied repeatedly; rewind and sparsity."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from udl.nn import MLP, magnitude_masks, mask_sparsity, rewind


def test_iterative_masks_match_torch_prune() -> None:
    g = torch.Generator().manual_seed(0)
    weights = [
        torch.randn(6, 9, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    ]
    layers = [nn.Linear(9, 6, dtype=torch.float64), nn.Linear(6, 4, dtype=torch.float64)]
    for layer, w in zip(layers, weights, strict=True):
        layer.weight.data.copy_(w)
    masks = None
    for _ in range(3):  # three rounds of 30% of what remains, on the same (fixed) magnitudes
        masks = magnitude_masks(weights, 0.3, masks)
        for layer in layers:
            prune.l1_unstructured(layer, "weight", amount=0.3)
        for m, layer in zip(masks, layers, strict=True):
            assert torch.equal(m, layer.weight_mask.bool())
    assert mask_sparsity(masks) == pytest.approx(1 - (54 - 16 - 11 - 8 + 24 - 7 - 5 - 4) / 78)


def test_masks_keep_the_largest_magnitudes() -> None:
    w = torch.tensor([[3.0, -0.1, 0.2], [-5.0, 0.05, 1.0]])
    (m,) = magnitude_masks([w], 0.5)
    assert m.tolist() == [[True, False, False], [True, False, True]]
    assert magnitude_masks([w], 0.0)[0].all() and not magnitude_masks([w], 1.0)[0].any()


def test_rewind_restores_the_initial_weights_and_training_keeps_the_mask() -> None:
    model = MLP(4, [8], 3, generator=torch.Generator().manual_seed(1))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for layer in model.linears:
            layer.weight.add_(torch.randn(layer.weight.shape, generator=torch.Generator().manual_seed(2)))
    masks = magnitude_masks([layer.weight for layer in model.linears], 0.5)
    for _ in range(2):  # a second rewind of a pruned model unprunes it first
        rewind(model, initial, model.linears, masks)
        for layer, m, key in zip(model.linears, masks, ["layers.0.weight", "layers.1.weight"], strict=True):
            assert torch.equal(layer.weight, initial[key] * m)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(3))
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    for layer, m in zip(model.linears, masks, strict=True):
        assert torch.all(layer.weight[~m] == 0) and torch.all(layer.weight[m] != 0)
    assert mask_sparsity(masks) == pytest.approx(0.5)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="amount"):
        magnitude_masks([torch.ones(2)], 1.5)
    with pytest.raises(ValueError, match="masks must match"):
        magnitude_masks([torch.ones(2)], 0.5, [torch.ones(3, dtype=torch.bool)])
    with pytest.raises(ValueError, match="one mask per layer"):
        rewind(nn.Linear(2, 2), {}, [nn.Linear(2, 2)], [])
    with pytest.raises(ValueError, match="at least one"):
        mask_sparsity([])
