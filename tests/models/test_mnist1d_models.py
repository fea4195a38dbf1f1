"""The MNIST-1D benchmark models: shapes, parameter counts, formulas and references in float64."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from udl.models import MNIST1DBiGRU, MNIST1DConvNet, MNIST1DLogistic, MNIST1DResMLP
from udl.nn import StackedEnsemble, count_parameters

MODELS = [MNIST1DLogistic, MNIST1DResMLP, MNIST1DConvNet, MNIST1DBiGRU]
COUNTS = {MNIST1DLogistic: 410, MNIST1DResMLP: 15210, MNIST1DConvNet: 5210, MNIST1DBiGRU: 5134}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("cls", MODELS)
def test_output_shape_and_parameter_count(cls: type[nn.Module]) -> None:
    model = cls(generator=_gen())
    assert model(torch.randn(7, 40, generator=_gen(1))).shape == (7, 10)
    assert count_parameters(model) == COUNTS[cls]


def test_parameter_counts_by_hand() -> None:
    assert 40 * 10 + 10 == 410
    assert (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10) == 15210
    assert 25 * (5 + 1) + 2 * 25 * (25 * 3 + 1) + (125 * 10 + 10) == 5210
    assert 2 * 3 * (6 * 1 + 6 * 6 + 6 + 6) + (40 * 2 * 6 * 10 + 10) == 5134


def test_cnn_flattens_125_features() -> None:
    model = MNIST1DConvNet(generator=_gen())
    assert model.flat_features == 125 and model.linear.in_features == 125
    assert model.features(torch.randn(3, 40)).shape == (3, 125)
    h = torch.randn(3, 1, 40)
    lengths = [model.conv1(h).shape[-1]]
    lengths.append(model.conv2(model.conv1(h)).shape[-1])
    lengths.append(model.conv3(model.conv2(model.conv1(h))).shape[-1])
    assert lengths == [19, 10, 5]


@pytest.mark.parametrize("cls", MODELS)
def test_generator_gives_torch_default_init_under_manual_seed(cls: type[nn.Module]) -> None:
    """Built from a generator seeded s = what torch builds after torch.manual_seed(s) (the benchmark: 42)."""
    before = torch.random.get_rng_state()
    ours = cls(generator=_gen(42))
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator is untouched
    torch.manual_seed(42)
    theirs = cls()  # generator=None: torch's own reset_parameters from the global generator
    for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_torch_default_bounds() -> None:
    model = MNIST1DBiGRU(generator=_gen(3))
    assert model.gru.weight_hh_l0.abs().max() <= 1 / math.sqrt(6)
    assert model.linear.weight.abs().max() <= 1 / math.sqrt(480)


def test_residual_mlp_equals_its_formula() -> None:
    model = MNIST1DResMLP(in_features=2, num_classes=2, hidden_size=2).double()
    with torch.no_grad():
        model.linear1.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        model.linear1.bias.copy_(torch.tensor([0.0, -1.0]))
        model.linear2.weight.copy_(torch.tensor([[1.0, 1.0], [-2.0, 0.0]]))
        model.linear2.bias.copy_(torch.tensor([-0.5, 0.25]))
        model.linear3.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, -1.0]]))
        model.linear3.bias.copy_(torch.tensor([0.0, 3.0]))
    x = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    # h1 = relu([2 - 1, 1 + 2 - 1]) = [1, 2]; W2 h1 + b2 = [2.5, -1.75] -> relu [2.5, 0]; h2 = [3.5, 2]
    # out = [3.5, 3.5 - 2 + 3] = [3.5, 4.5]
    torch.testing.assert_close(model(x), torch.tensor([[3.5, 4.5]], dtype=torch.float64))


def _gru_reference(model: MNIST1DBiGRU, x: torch.Tensor) -> torch.Tensor:
    """Per-time-step bidirectional GRU from two torch.nn.GRUCell's holding the model's weights."""
    g, hs = model.gru, model.hidden_size
    cells = []
    for suffix in ("", "_reverse"):
        cell = nn.GRUCell(1, hs).double()
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(g, f"{name}_l0{suffix}"))
        cells.append(cell)
    n, t_len = x.shape
    forward, backward = [], [None] * t_len
    h = x.new_zeros(n, hs)
    for t in range(t_len):
        h = cells[0](x[:, t : t + 1], h)
        forward.append(h)
    h = x.new_zeros(n, hs)
    for t in reversed(range(t_len)):
        h = cells[1](x[:, t : t + 1], h)
        backward[t] = h
    features = torch.cat([torch.cat([f, b], -1) for f, b in zip(forward, backward, strict=True)], -1)
    return model.linear(features)  # (N, T * 2H), time-major, [forward, reverse] at each step


def test_gru_equals_a_grucell_reference_and_torch_gru_float64() -> None:
    model = MNIST1DBiGRU(generator=_gen(5)).double()
    x = torch.randn(4, 40, generator=_gen(6), dtype=torch.float64, requires_grad=True)
    ours, reference = model(x), _gru_reference(model, x)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    (g_ours,) = torch.autograd.grad(ours.square().sum(), x)
    (g_ref,) = torch.autograd.grad(reference.square().sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)
    # torch.nn.GRU's own forward on the same parameters (the benchmark's GRUBase.forward)
    output, _ = model.gru(x.unsqueeze(-1), torch.zeros(2, 4, 6, dtype=torch.float64))
    torch.testing.assert_close(model.sequence(x), output, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", MODELS)
def test_stacked_forward_and_gradients_equal_each_member_float64(cls: type[nn.Module]) -> None:
    members = [cls(generator=_gen(s)).double() for s in range(3)]
    ensemble = StackedEnsemble(members)
    x = torch.randn(5, 40, generator=_gen(9), dtype=torch.float64)
    out = ensemble(x)
    assert out.shape == (3, 5, 10)
    out.square().sum().backward()
    for m, member in enumerate(members):
        torch.testing.assert_close(out[m], member(x), rtol=1e-12, atol=1e-12)
        member(x).square().sum().backward()
        for name, p in member.named_parameters():
            stacked = getattr(ensemble, name.replace(".", "__")).grad
            torch.testing.assert_close(stacked[m], p.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ensemble.member(1)(x), members[1](x), rtol=0, atol=0)


def test_bad_cnn_length() -> None:
    with pytest.raises(ValueError, match="in_length"):
        MNIST1DConvNet(in_length=2)
