"""seeded_linear and seeded_conv: He initialization from an explicit generator, never the global RNG."""

from __future__ import annotations

import pytest
import torch

from udl.nn import MLP, seeded_conv, seeded_linear


def test_seeded_linear_is_mlps_layer_and_ignores_the_global_rng() -> None:
    torch.manual_seed(0)
    layer = seeded_linear(40, 30, "he", torch.Generator().manual_seed(3))
    torch.manual_seed(1)
    again = seeded_linear(40, 30, "he", torch.Generator().manual_seed(3))
    mlp = MLP(40, (), 30, init="he", generator=torch.Generator().manual_seed(3))
    assert torch.equal(layer.weight, again.weight) and torch.equal(layer.weight, mlp.linears[0].weight)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("dims", [1, 2])
def test_seeded_conv_has_he_variance_zero_bias_and_same_padding(dims: int) -> None:
    conv = seeded_conv(dims, 16, 64, 3, 1, torch.Generator().manual_seed(0), dtype=torch.float64)
    fan_in = 16 * 3**dims
    assert abs(float(conv.weight.var()) * fan_in / 2 - 1) < 0.1  # σ² = 2 / fan_in (UDL eq. 7.32)
    assert torch.count_nonzero(conv.bias) == 0
    x = torch.zeros(1, 16, *(9,) * dims, dtype=torch.float64)
    assert conv(x).shape[2:] == x.shape[2:]
