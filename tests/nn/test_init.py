"""udl.nn.init: equal to torch.nn.init draw for draw, the right variances, and He's promise through depth."""

from __future__ import annotations

import math

import pytest
import torch

from udl.nn import MLP, init
from udl.nn.init import fans, he_normal_, he_uniform_, init_std, xavier_normal_, xavier_uniform_


def _pair(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty(shape, dtype=torch.float64), torch.empty(shape, dtype=torch.float64)


@pytest.mark.parametrize("shape", [(30, 20), (8, 4, 3, 3)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_he_equals_torch_draw_for_draw(shape: tuple[int, ...], mode: str) -> None:
    ours, theirs = _pair(shape)
    he_normal_(ours, mode=mode, generator=torch.Generator().manual_seed(0))  # type: ignore[arg-type]
    torch.nn.init.kaiming_normal_(
        theirs, mode=mode, nonlinearity="relu", generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=1e-15)  # std: √2/√fan vs √(2/fan)
    he_uniform_(ours, mode=mode, generator=torch.Generator().manual_seed(1))  # type: ignore[arg-type]
    torch.nn.init.kaiming_uniform_(
        theirs, mode=mode, nonlinearity="relu", generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
def test_xavier_equals_torch_draw_for_draw(gain: float) -> None:
    ours, theirs = _pair((16, 9, 5))
    xavier_normal_(ours, gain=gain, generator=torch.Generator().manual_seed(2))
    torch.nn.init.xavier_normal_(theirs, gain=gain, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=1e-15)
    xavier_uniform_(ours, gain=gain, generator=torch.Generator().manual_seed(3))
    torch.nn.init.xavier_uniform_(theirs, gain=gain, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=1e-15)


def test_fans_and_stds() -> None:
    w = torch.empty(6, 4, 3, 3)
    assert fans(w) == (36, 54)
    assert init_std(w, "he") == pytest.approx(math.sqrt(2 / 36))
    assert init_std(w, "he", "fan_out") == pytest.approx(math.sqrt(2 / 54))
    assert init_std(w, "xavier", gain=math.sqrt(2)) == pytest.approx(
        math.sqrt(4 / 90)
    )  # the book's compromise
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fans(torch.empty(5))
    with pytest.raises(ValueError, match="valid: 'he', 'xavier'"):
        init_std(w, "lecun")  # type: ignore[arg-type]


@pytest.mark.parametrize("fill", [he_normal_, he_uniform_])
def test_sample_variance_is_two_over_fan_in(fill) -> None:  # type: ignore[no-untyped-def]
    w = torch.empty(400, 1000, dtype=torch.float64)
    fill(w, generator=torch.Generator().manual_seed(4))
    assert float(w.var()) == pytest.approx(2 / 1000, rel=0.01)  # 400k draws: ~0.3% standard error
    assert abs(float(w.mean())) < 1e-4


def test_he_keeps_the_pre_activation_variance_through_depth() -> None:
    """UDL eq. 7.31: with σ² = 2/D the pre-activations' variance is constant layer after layer; with half of it,
    it halves at every layer."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2000, 256, generator=g, dtype=torch.float64)
    for scale, low, high in ((1.0, 0.5, 2.0), (0.5, 0.0, 1e-4)):
        net = MLP(256, (256,) * 20, 1, init="he", generator=g, dtype=torch.float64)
        with torch.no_grad():
            for w in net.omegas:
                w.mul_(math.sqrt(scale))
            pre = net.pre_activations(x)
        ratio = float(pre[-1].var()) / float(pre[0].var())
        assert low < ratio < high, (scale, ratio)


def test_module_is_exported() -> None:
    assert init.he_normal_ is he_normal_
