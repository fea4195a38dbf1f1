"""stacked_cross_entropy: the sum of the members' own mean cross-entropies, values and gradients (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.losses import stacked_cross_entropy


def test_equals_a_loop_over_members_with_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (6,), generator=g)
    ours = stacked_cross_entropy(logits, target)
    ref = sum(nn.functional.cross_entropy(logits[m], target) for m in range(4))
    torch.testing.assert_close(ours, ref)
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g_ours, g_ref)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        stacked_cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        stacked_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))
