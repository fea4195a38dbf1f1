"""Tests of udl.nn.NoisyTraining: plain in eval mode, and in training mode exactly x + ε / φ + ε drawn in order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.nn import MLP, NoisyTraining


def _net() -> MLP:
    return MLP(6, (5,), 3, generator=torch.Generator().manual_seed(0)).double()


def test_eval_mode_and_zero_noise_are_the_plain_network() -> None:
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    net = _net()
    noisy = NoisyTraining(net, 0.5, 0.1, torch.Generator().manual_seed(2)).eval()
    assert torch.equal(noisy(x), net(x))
    assert torch.equal(NoisyTraining(net).train()(x), net(x))


def test_training_forward_is_the_perturbed_network_on_perturbed_inputs() -> None:
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    net = _net()
    noisy = NoisyTraining(net, 0.3, 0.05, torch.Generator().manual_seed(7)).train()
    out = noisy(x)
    # the same draws by hand: input noise first, then one draw per parameter in named_parameters() order
    g = torch.Generator().manual_seed(7)
    x_noisy = x + 0.3 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    w1, b1, w2, b2 = (
        p + 0.05 * torch.randn(p.shape, generator=g, dtype=torch.float64) for p in net.parameters()
    )
    expected = nn.functional.linear(torch.relu(nn.functional.linear(x_noisy, w1, b1)), w2, b2)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_gradient_reaches_the_clean_parameters_unchanged() -> None:
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    noisy = NoisyTraining(net, 0.0, 0.1, torch.Generator().manual_seed(3)).train()
    noisy(torch.ones(2, 6, dtype=torch.float64)).sum().backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before, strict=True))
    assert set(noisy.state_dict()) == {f"model.{k}" for k in net.state_dict()}


def test_negative_std_raises() -> None:
    with pytest.raises(ValueError, match="input_std and weight_std"):
        NoisyTraining(_net(), -0.1, 0.0)
