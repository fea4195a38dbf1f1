"""Transformer layers equal torch.nn.TransformerEncoderLayer / TransformerDecoderLayer with the same weights
(float64, pre- and post-LN), and the decoder layer's KV cache equals full recomputation."""

from __future__ import annotations

import pytest
import torch

from udl.nn import KVCache, TransformerDecoderLayer, TransformerEncoderLayer

F64 = torch.float64
KW = {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.1, "batch_first": True}


def _copy(ours: torch.nn.Module, ref: torch.nn.Module) -> None:
    missing = ours.load_state_dict(ref.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    ours.double().eval()
    ref.double().eval()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "causal", "padding"])
def test_encoder_layer_equals_torch(norm_first, activation, masks):
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(**KW, norm_first=norm_first, activation=activation)
    ours = TransformerEncoderLayer(**KW, norm_first=norm_first, activation=activation)
    _copy(ours, ref)
    x = torch.randn(2, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    kw = {
        "none": {},
        "causal": {
            "src_mask": torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=F64),
            "is_causal": True,
        },
        "padding": {"src_key_padding_mask": pad},
    }[masks]
    out, expected = ours(x, **kw), ref(x, **kw)
    if masks == "padding":  # torch's fast path zeroes padded positions; compare the real tokens
        out, expected = out[~pad], expected[~pad]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradients_equal_torch(norm_first):
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(**KW, norm_first=norm_first)
    ours = TransformerEncoderLayer(**KW, norm_first=norm_first)
    _copy(ours, ref)
    x = torch.randn(2, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    ours(x).pow(2).sum().backward()
    ref(x).pow(2).sum().backward()
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, rtol=0, atol=1e-11, msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch(norm_first):
    torch.manual_seed(0)
    ref = torch.nn.TransformerDecoderLayer(**KW, norm_first=norm_first)
    ours = TransformerDecoderLayer(**KW, norm_first=norm_first)
    _copy(ours, ref)
    g = torch.Generator().manual_seed(1)
    tgt, memory = torch.randn(2, 4, 8, dtype=F64, generator=g), torch.randn(2, 6, 8, dtype=F64, generator=g)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=F64)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    out = ours(tgt, memory, tgt_mask=mask, memory_key_padding_mask=pad, tgt_is_causal=True)
    expected = ref(tgt, memory, tgt_mask=mask, memory_key_padding_mask=pad, tgt_is_causal=True)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_cache_equals_recomputation(norm_first):
    layer = TransformerDecoderLayer(**KW, norm_first=norm_first, generator=torch.Generator().manual_seed(0))
    layer.double().eval()
    g = torch.Generator().manual_seed(2)
    tgt, memory = torch.randn(2, 6, 8, dtype=F64, generator=g), torch.randn(2, 3, 8, dtype=F64, generator=g)
    full = layer(tgt, memory, tgt_is_causal=True)
    cache = (KVCache(), KVCache(static=True))
    steps = [layer(tgt[:, t : t + 1], memory, tgt_is_causal=True, kv_cache=cache) for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-12)


def test_layers_are_seeded_and_reject_bad_activation():
    a = TransformerEncoderLayer(8, 2, 16, generator=torch.Generator().manual_seed(3))
    b = TransformerEncoderLayer(8, 2, 16, generator=torch.Generator().manual_seed(3))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderLayer(8, 2, activation="swish")
