"""The three transformer models: against torch.nn.TransformerEncoder / torch.nn.Transformer with copied weights
(float64), incremental decoding with the cache equal to recomputation for every position encoding, causality,
weight tying, BERT masking statistics."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from udl.models import (
    POSITIONAL,
    DecoderLM,
    DecoderLMConfig,
    EncoderDecoderTransformer,
    MaskedLanguageModel,
    MaskedLMConfig,
    Seq2SeqConfig,
    mask_tokens,
)

F64 = torch.float64
G = torch.Generator


def _lm(positional: str, **kw) -> DecoderLM:
    cfg = DecoderLMConfig(
        vocab_size=11, context_length=16, d_model=8, num_heads=2, num_layers=2, positional=positional, **kw
    )
    return DecoderLM(cfg, generator=G().manual_seed(0)).double().eval()


def test_decoder_lm_equals_torch_encoder_stack():
    model = _lm("learned")
    layer = torch.nn.TransformerEncoderLayer(8, 2, 32, 0.0, "gelu", batch_first=True, norm_first=True)
    ref = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).double().eval()
    ref.layers.load_state_dict(model.layers.state_dict())
    ids = torch.randint(11, (3, 9), generator=G().manual_seed(1))
    x = model.token_embedding(ids) + model.positions.absolute.weight[:9]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(9, dtype=F64)
    expected = model.norm(ref(x, mask=mask, is_causal=True)) @ model.token_embedding.weight.T
    torch.testing.assert_close(model(ids), expected, rtol=0, atol=1e-12)
    assert model.head.weight is model.token_embedding.weight  # tied


@pytest.mark.parametrize("positional", POSITIONAL)
def test_decoder_lm_cache_equals_recomputation_and_is_causal(positional):
    model = _lm(positional)
    ids = torch.randint(11, (2, 10), generator=G().manual_seed(2))
    full = model(ids)
    cache = model.new_cache()
    steps = [model(ids[:, :4], kv_cache=cache)] + [
        model(ids[:, t : t + 1], kv_cache=cache) for t in range(4, 10)
    ]
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-12)
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 11
    out = model(changed)
    torch.testing.assert_close(out[:, :6], full[:, :6], rtol=0, atol=1e-12)  # the past never sees the future
    assert (out[:, 6:] - full[:, 6:]).abs().max() > 1e-6


def test_absolute_positions_limit_length_relative_do_not():
    with pytest.raises(ValueError, match="max_len"):
        _lm("learned")(torch.zeros(1, 17, dtype=torch.long))
    assert _lm("alibi")(torch.zeros(1, 40, dtype=torch.long)).shape == (1, 40, 11)


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        DecoderLMConfig(vocab_size=5, d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="positional"):
        DecoderLMConfig(vocab_size=5, positional="absolute")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rope"):
        MaskedLMConfig(vocab_size=5, d_model=12, num_heads=4, positional="rope")
    with pytest.raises(ValueError, match="dropout"):
        Seq2SeqConfig(4, 4, dropout=1.0)
    with pytest.raises(ValueError, match="source_vocab_size"):
        Seq2SeqConfig(0, 4)


@pytest.mark.parametrize("positional", ["learned", "relative", "rope"])
def test_masked_lm_is_bidirectional_and_respects_padding(positional):
    cfg = MaskedLMConfig(
        vocab_size=9, max_len=12, d_model=8, num_heads=2, num_layers=2, positional=positional
    )
    model = MaskedLanguageModel(cfg, generator=G().manual_seed(0)).double().eval()
    ids = torch.randint(9, (2, 8), generator=G().manual_seed(1))
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[:, 6:] = True
    out = model(ids, pad)
    assert out.shape == (2, 8, 9) and model.head.weight is model.token_embedding.weight
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 9
    torch.testing.assert_close(
        model(changed, pad)[:, :6], out[:, :6], rtol=0, atol=1e-12
    )  # padding is ignored
    assert (model(changed)[:, 0] - model(ids)[:, 0]).abs().max() > 1e-6  # an early token sees a later one


def test_mask_tokens_proportions():
    ids = torch.randint(3, 50, (400, 250), generator=G().manual_seed(0))
    ids[:, 0] = 1  # a special token, never masked
    inputs, labels = mask_tokens(
        ids, mask_token_id=2, vocab_size=50, special_ids=(1,), generator=G().manual_seed(1)
    )
    chosen = labels != -100
    assert not chosen[:, 0].any() and torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    n = int(chosen.sum())
    assert stats.binomtest(n, ids[:, 1:].numel(), 0.15).pvalue > 1e-3
    masked = int((inputs[chosen] == 2).sum())
    kept = int((inputs[chosen] == ids[chosen]).sum())
    # random replacements land on the original token 1/50 of the time
    expected = [0.8 * n, (0.1 + 0.1 / 50) * n, (0.1 - 0.1 / 50) * n]
    assert stats.chisquare([masked, kept, n - masked - kept], expected).pvalue > 1e-3
    with pytest.raises(ValueError, match="probability"):
        mask_tokens(ids, 2, 50, probability=0.0)


def _seq2seq(norm_first: bool = True, positional: str = "none") -> EncoderDecoderTransformer:
    cfg = Seq2SeqConfig(
        7,
        9,
        max_len=16,
        d_model=8,
        num_heads=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        positional=positional,
        norm_first=norm_first,
    )
    return EncoderDecoderTransformer(cfg, generator=G().manual_seed(0)).double().eval()


def test_encoder_decoder_equals_torch_transformer():
    model = _seq2seq()
    ref = torch.nn.Transformer(8, 2, 2, 2, 16, 0.0, batch_first=True, norm_first=True).double().eval()
    ref.encoder.layers.load_state_dict(model.encoder.state_dict())
    ref.decoder.layers.load_state_dict(model.decoder.state_dict())
    ref.encoder.norm.load_state_dict(model.encoder_norm.state_dict())
    ref.decoder.norm.load_state_dict(model.decoder_norm.state_dict())
    g = G().manual_seed(1)
    src, tgt = torch.randint(7, (3, 6), generator=g), torch.randint(9, (3, 5), generator=g)
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[2, 4:] = True
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=F64)
    hidden = ref(
        model.source_embedding(src),
        model.target_embedding(tgt),
        tgt_mask=mask,
        tgt_is_causal=True,
        src_key_padding_mask=pad,
        memory_key_padding_mask=pad,
    )
    torch.testing.assert_close(model(src, tgt, pad), model.head(hidden), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("norm_first", "positional"), [(True, "sinusoidal"), (False, "alibi"), (True, "rope")]
)
def test_bound_decoder_cache_equals_recomputation(norm_first, positional):
    model = _seq2seq(norm_first, positional)
    g = G().manual_seed(3)
    src, tgt = torch.randint(7, (2, 6), generator=g), torch.randint(9, (2, 5), generator=g)
    lm = model.bind(src)
    torch.testing.assert_close(lm(tgt), model(src, tgt), rtol=0, atol=1e-12)
    cache = lm.new_cache(2)
    steps = [lm(tgt[:, t : t + 1], kv_cache=cache) for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, 1), model(src, tgt), rtol=0, atol=1e-12)
    beams = lm(tgt.repeat_interleave(3, 0))  # three rows per source row
    torch.testing.assert_close(beams[::3], model(src, tgt), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="multiple"):
        lm.new_cache(3)


def test_use_local_global_attention_keeps_weights():
    from udl.models import use_local_global_attention
    from udl.nn import LocalGlobalAttention

    cfg = MaskedLMConfig(vocab_size=9, max_len=12, d_model=8, num_heads=2, num_layers=2)
    model = MaskedLanguageModel(cfg, generator=G().manual_seed(0)).double().eval()
    ids = torch.randint(9, (2, 10), generator=G().manual_seed(1))
    dense = model(ids)
    use_local_global_attention(model, window=9)  # a band covering everything: dense attention
    assert all(isinstance(layer.self_attn, LocalGlobalAttention) for layer in model.layers)
    torch.testing.assert_close(model(ids), dense, rtol=0, atol=1e-12)
    use_local_global_attention(model, window=1)  # already sparse: left alone
    assert model.layers[0].self_attn.window == 9
    narrow = use_local_global_attention(
        MaskedLanguageModel(cfg, generator=G().manual_seed(0)).double().eval(), 1, 1
    )
    assert (narrow(ids) - dense).abs().max() > 1e-6
    alibi = MaskedLanguageModel(MaskedLMConfig(vocab_size=9, d_model=8, num_heads=2, positional="alibi"))
    with pytest.raises(ValueError, match="alibi"):
        use_local_global_attention(alibi, 2)
