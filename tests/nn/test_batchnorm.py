"""udl.nn.BatchNorm against torch.nn.BatchNorm1d/2d/3d in float64: outputs, gradients and running statistics,
in training and eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reference import F64
from reference import gen as _gen
from udl.nn import BatchNorm

SHAPES = {
    "(N,C)": ((16, 3), nn.BatchNorm1d),
    "(N,C,L)": ((5, 3, 7), nn.BatchNorm1d),
    "(N,C,H,W)": ((4, 3, 5, 6), nn.BatchNorm2d),
    "(N,C,D,H,W)": ((2, 3, 4, 3, 5), nn.BatchNorm3d),
}


def _pair(reference_cls, momentum, affine, track=True, seed=0):
    ours = BatchNorm(3, eps=1e-4, momentum=momentum, affine=affine, track_running_stats=track, dtype=F64)
    ref = reference_cls(3, eps=1e-4, momentum=momentum, affine=affine, track_running_stats=track, dtype=F64)
    if affine:  # non-trivial γ, δ, the same in both
        with torch.no_grad():
            g = _gen(seed)
            ref.weight.copy_(torch.rand(3, generator=g, dtype=F64) + 0.5)
            ref.bias.copy_(torch.randn(3, generator=g, dtype=F64))
            ours.weight.copy_(ref.weight)
            ours.bias.copy_(ref.bias)
    return ours, ref


def _step(ours, ref, shape, seed):
    """One forward/backward of both on the same input (shifted and scaled per channel) and upstream gradient;
    returns ((out, dx, dγ, dδ) ours, same for ref)."""
    g = _gen(seed)
    channel = (1, 3) + (1,) * (len(shape) - 2)
    x = torch.randn(shape, generator=g, dtype=F64) * (torch.rand(channel, generator=g, dtype=F64) * 3 + 0.2)
    x = x + torch.randn(channel, generator=g, dtype=F64) * 2
    upstream = torch.randn(shape, generator=g, dtype=F64)
    results = []
    for module in (ours, ref):
        module.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_(True)
        out = module(xi)
        (out * upstream).sum().backward()
        grads = [xi.grad] + ([module.weight.grad, module.bias.grad] if module.affine else [])
        results.append((out.detach(), *grads))
    return results


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("layout", sorted(SHAPES))
def test_matches_torch_in_training_and_eval(layout, momentum, affine):
    shape, reference_cls = SHAPES[layout]
    ours, ref = _pair(reference_cls, momentum, affine)
    for step in range(4):  # training: batch statistics, running statistics updated every step
        mine, theirs = _step(ours.train(), ref.train(), shape, seed=10 + step)
        for a, b in zip(mine, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ours.running_mean, ref.running_mean, rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(ours.running_var, ref.running_var, rtol=1e-13, atol=1e-14)
        assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == step + 1
    mine, theirs = _step(ours.eval(), ref.eval(), shape, seed=99)  # eval: running statistics only
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert int(ours.num_batches_tracked) == 4  # eval mode leaves the statistics alone


@pytest.mark.parametrize("layout", ["(N,C)", "(N,C,H,W)"])
def test_without_running_stats_uses_the_batch_in_both_modes(layout):
    shape, reference_cls = SHAPES[layout]
    ours, ref = _pair(reference_cls, 0.1, True, track=False)
    assert ours.running_mean is None and ours.running_var is None and ours.num_batches_tracked is None
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(ref, mode)()
        mine, theirs = _step(ours, ref, shape, seed=3)
        for a, b in zip(mine, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_books_equations_in_training_mode():
    """UDL section 11.4 written out for one channel: m_h, s_h² (biased), (h − m_h)/√(s_h² + ε), γ ĥ + δ."""
    gamma, delta = [2.0, 0.5], [-1.0, 3.0]
    bn = BatchNorm(2, eps=1e-3, dtype=F64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma, dtype=F64))
        bn.bias.copy_(torch.tensor(delta, dtype=F64))
    assert bn.gamma is bn.weight and bn.delta is bn.bias
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [4.0, 0.0], [9.0, -6.0]], dtype=F64)
    out = bn(x)
    for c in range(2):
        h = x[:, c].tolist()
        m = sum(h) / len(h)
        s2 = sum((v - m) ** 2 for v in h) / len(h)
        expected = [gamma[c] * (v - m) / (s2 + 1e-3) ** 0.5 + delta[c] for v in h]
        torch.testing.assert_close(out[:, c], torch.tensor(expected, dtype=F64), rtol=1e-14, atol=1e-14)
        n = len(h)  # the running variance uses the unbiased estimate, momentum 0.1 from (0, 1)
        torch.testing.assert_close(bn.running_mean[c], torch.tensor(0.1 * m, dtype=F64))
        torch.testing.assert_close(bn.running_var[c], torch.tensor(0.9 + 0.1 * s2 * n / (n - 1), dtype=F64))


def test_at_initialization_every_unit_has_mean_zero_and_unit_variance():
    x = torch.randn(64, 5, generator=_gen(1), dtype=F64) * 7 + 3
    out = BatchNorm(5, eps=1e-12, dtype=F64)(x)
    torch.testing.assert_close(out.mean(0), torch.zeros(5, dtype=F64), rtol=0, atol=1e-14)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(5, dtype=F64), rtol=1e-12, atol=0)


def test_cumulative_average_equals_the_mean_of_batch_statistics():
    bn = BatchNorm(2, momentum=None, dtype=F64)
    batches = [torch.randn(10, 2, generator=_gen(i), dtype=F64) * (i + 1) + i for i in range(5)]
    for b in batches:
        bn(b)
    torch.testing.assert_close(bn.running_mean, torch.stack([b.mean(0) for b in batches]).mean(0))
    torch.testing.assert_close(bn.running_var, torch.stack([b.var(0) for b in batches]).mean(0))
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and bool((bn.running_var == 1).all())


def test_state_dicts_are_interchangeable_with_torch():
    ref = nn.BatchNorm2d(4, dtype=F64)
    ref.train()(torch.randn(3, 4, 5, 5, generator=_gen(2), dtype=F64))
    ours = BatchNorm(4, dtype=F64)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 4, 5, 5, generator=_gen(3), dtype=F64)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=1e-13, atol=1e-13)


def test_gradcheck_in_training_mode():
    bn = BatchNorm(3, dtype=F64)
    x = torch.randn(6, 3, 4, generator=_gen(4), dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: bn(t), (x,))


def test_eval_mode_accepts_a_single_example():
    bn = BatchNorm(3).eval()
    assert bn(torch.randn(1, 3, generator=_gen(5))).shape == (1, 3)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=0.0)
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match=r"expects input \(N, 3"):
        bn(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"expects input \(N, 3"):
        bn(torch.zeros(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.zeros(1, 3))
