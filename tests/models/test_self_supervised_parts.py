"""Tests of udl.models.self_supervised: the 1-D CNN encoder, random views and the two pretext modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from udl.data import random_span_mask
from udl.losses import masked_inpainting_loss, nt_xent
from udl.models import ContrastivePretext, InpaintingPretext, SignalCNN, random_signal_view


@pytest.mark.parametrize("length", [40, 41, 37, 8])
def test_signal_cnn_shapes_and_a_float64_reference(length: int) -> None:
    net = SignalCNN(6, length, generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(3, length, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = net(x)
    assert out.shape == (3, net.out_features) and net.out_features == 6 * -(-length // 4)
    # the same three convolutions written out with torch.nn.functional
    h = x.unsqueeze(1)
    for conv, stride, padding in zip(net.convs, (1, 2, 2), (2, 1, 1), strict=True):
        h = torch.relu(nn.functional.conv1d(h, conv.weight, conv.bias, stride=stride, padding=padding))
    torch.testing.assert_close(out, h.flatten(1), rtol=1e-12, atol=1e-12)


def test_signal_cnn_is_seeded_and_leaves_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    a, b = (SignalCNN(4, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert all(not c.bias.detach().any() for c in a.convs)
    with pytest.raises(ValueError, match="channels and length"):
        SignalCNN(0)


def test_random_view_is_a_shift_a_scale_and_noise() -> None:
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(0))
    assert torch.equal(random_signal_view(x, max_shift=0, scale_jitter=0.0, noise_std=0.0), x)
    g = torch.Generator().manual_seed(4)
    view = random_signal_view(x, max_shift=3, scale_jitter=0.0, noise_std=0.0, generator=g)
    shifts = torch.randint(-3, 4, (5, 1), generator=torch.Generator().manual_seed(4)).flatten()
    for i, k in enumerate(shifts.tolist()):
        assert torch.equal(view[i], torch.roll(x[i], k))
    scaled = random_signal_view(x, max_shift=0, scale_jitter=0.2, noise_std=0.0)
    ratio = scaled / x
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio)) and bool(((ratio - 1).abs() <= 0.2).all())
    with pytest.raises(ValueError, match="max_shift"):
        random_signal_view(x, max_shift=-1, scale_jitter=0.0, noise_std=0.0)


def test_contrastive_pretext_embeds_two_different_views() -> None:
    g = torch.Generator().manual_seed(0)
    encoder = SignalCNN(4, 20, generator=g)
    pretext = ContrastivePretext(
        encoder,
        nn.Linear(encoder.out_features, 8),
        lambda x: random_signal_view(x, max_shift=2, scale_jitter=0.1, noise_std=0.1, generator=g),
    )
    z1, z2 = pretext(torch.randn(6, 20, generator=g))
    assert z1.shape == z2.shape == (6, 8) and not torch.equal(z1, z2)
    loss = nt_xent(z1, z2, 0.5)
    loss.backward()
    assert all(p.grad is not None for p in pretext.parameters())


def test_inpainting_pretext_hides_one_span_and_scores_it() -> None:
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    seen: list[torch.Tensor] = []

    class Record(nn.Module):
        def forward(self, h: torch.Tensor) -> torch.Tensor:
            seen.append(h)
            return h

    pretext = InpaintingPretext(Record(), nn.Identity(), 5, torch.Generator().manual_seed(2))
    prediction, signal, mask = pretext(x)
    expected_mask = random_span_mask(4, 16, 5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(mask, expected_mask) and torch.equal(signal, x)
    assert torch.equal(seen[0], x.masked_fill(mask, 0.0))  # the encoder never sees the hidden span
    # an identity "inpainter" predicts 0 on the span: the loss is the mean square of the hidden values
    torch.testing.assert_close(masked_inpainting_loss(prediction, signal, mask), x[mask].pow(2).mean())
