"""Attention against torch (float64): the functional form for every mask kind, MultiheadAttention with a copied
state dict, the KV cache against full recomputation, local + global attention against dense under its mask."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from udl.functional import (
    attention_weights,
    causal_mask,
    local_global_attention,
    local_global_mask,
    scaled_dot_product_attention,
)
from udl.nn import KVCache, LocalGlobalAttention, MultiheadAttention

F64 = torch.float64


def _qkv(seed: int, n=2, h=3, length=5, s=7, e=4):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, h, length, e, generator=g, dtype=F64)
    k = torch.randn(n, h, s, e, generator=g, dtype=F64)
    v = torch.randn(n, h, s, e + 1, generator=g, dtype=F64)
    return q, k, v, g


def _masks(g: torch.Generator, length: int, s: int) -> dict[str, dict]:
    bool_mask = torch.rand(2, 1, length, s, generator=g) > 0.3
    bool_mask[..., 0] = True  # every row keeps a key
    return {
        "none": {},
        "bool": {"attn_mask": bool_mask},
        "bool-2d": {"attn_mask": bool_mask[0, 0]},
        "float": {"attn_mask": torch.randn(length, s, generator=g, dtype=F64)},
        "float-per-head": {"attn_mask": torch.randn(2, 3, length, s, generator=g, dtype=F64)},
        "causal": {"is_causal": True},
        "fully-masked-row": {
            "attn_mask": torch.ones(length, s, dtype=torch.bool).index_fill(0, torch.tensor([1]), 0)
        },
    }


@pytest.mark.parametrize(
    "kind", ["none", "bool", "bool-2d", "float", "float-per-head", "causal", "fully-masked-row"]
)
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_reference_path_equals_torch(kind, scale):
    q, k, v, g = _qkv(0)
    kwargs = _masks(g, 5, 7)[kind]
    expected = F.scaled_dot_product_attention(q, k, v, scale=scale, **kwargs)
    out, w = scaled_dot_product_attention(q, k, v, scale=scale, return_weights=True, **kwargs)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, scale=scale, fused=False, **kwargs), out)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, scale=scale, **kwargs), expected
    )  # fused
    rows = w.sum(-1)
    assert torch.all(
        ((rows - 1).abs() < 1e-12) | (rows == 0)
    )  # each row a distribution (or 0 if fully masked)


def test_sdpa_gradients_equal_torch():
    q, k, v, g = _qkv(1)
    mask = torch.randn(5, 7, generator=g, dtype=F64)
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    ref = [t.clone().requires_grad_() for t in (q, k, v)]
    scaled_dot_product_attention(*ours, attn_mask=mask, fused=False).pow(2).sum().backward()
    F.scaled_dot_product_attention(*ref, attn_mask=mask).pow(2).sum().backward()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-12)


def test_sdpa_dropout_is_seeded_and_unbiased():
    q, k, v, _ = _qkv(2)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=torch.Generator().manual_seed(3))
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the expectation over dropout masks is attention without dropout (inverted dropout)
    g = torch.Generator().manual_seed(4)
    mean = torch.stack(
        [scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=g) for _ in range(3000)]
    ).mean(0)
    torch.testing.assert_close(mean, F.scaled_dot_product_attention(q, k, v), rtol=0, atol=0.08)


def test_sdpa_bad_input():
    q, k, v, _ = _qkv(0)
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    with pytest.raises(TypeError, match="attn_mask"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="not both"):
        attention_weights(q, k, attn_mask=torch.ones(5, 7, dtype=torch.bool), is_causal=True)


def test_causal_mask_is_bottom_right_aligned():
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]
    assert torch.equal(causal_mask(3), torch.ones(3, 3, dtype=torch.bool).tril())


def _pair(seed: int, **kwargs):
    torch.manual_seed(seed)
    ref = torch.nn.MultiheadAttention(**kwargs, dtype=F64)
    ours = MultiheadAttention(**kwargs, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    return ours.eval(), ref.eval()


MHA_CASES = [
    {"embed_dim": 6, "num_heads": 2},
    {"embed_dim": 6, "num_heads": 3, "batch_first": True},
    {"embed_dim": 6, "num_heads": 2, "bias": False},
    {"embed_dim": 6, "num_heads": 2, "kdim": 4, "vdim": 5},
    {"embed_dim": 6, "num_heads": 2, "add_bias_kv": True, "add_zero_attn": True},
]


@pytest.mark.parametrize("case", MHA_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize(
    "mask", ["none", "attn-bool", "attn-float-3d", "padding", "padding-float", "causal+padding"]
)
@pytest.mark.parametrize("average", [True, False])
def test_mha_equals_torch(case, mask, average):
    ours, ref = _pair(0, **case)
    assert set(ours.state_dict()) == set(ref.state_dict())
    g = torch.Generator().manual_seed(1)
    n, length, s = 2, 4, 5
    bf = case.get("batch_first", False)
    shape = (lambda t, d: (n, t, d)) if bf else (lambda t, d: (t, n, d))
    q = torch.randn(*shape(length, 6), generator=g, dtype=F64)
    k = torch.randn(*shape(s, case.get("kdim", 6)), generator=g, dtype=F64)
    v = torch.randn(*shape(s, case.get("vdim", 6)), generator=g, dtype=F64)
    pad = torch.zeros(n, s, dtype=torch.bool)
    pad[1, -2:] = True
    kw: dict = {
        "none": {},
        "attn-bool": {
            "attn_mask": torch.rand(length, s, generator=g).index_fill(1, torch.tensor([0]), 1) < 0.6
        },
        "attn-float-3d": {"attn_mask": torch.randn(n * case["num_heads"], length, s, generator=g, dtype=F64)},
        "padding": {"key_padding_mask": pad},
        "padding-float": {"key_padding_mask": torch.zeros(n, s, dtype=F64).masked_fill(pad, -1e9)},
        "causal+padding": {
            "attn_mask": ~torch.ones(length, s, dtype=torch.bool).tril(1),
            "key_padding_mask": pad,
        },
    }[mask]
    out, w = ours(q, k, v, average_attn_weights=average, **kw)
    out_ref, w_ref = ref(q, k, v, average_attn_weights=average, **kw)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(w, w_ref, rtol=0, atol=1e-12)
    fast, none = ours(q, k, v, need_weights=False, **kw)
    assert none is None
    torch.testing.assert_close(fast, out_ref, rtol=0, atol=1e-12)


def test_mha_unbatched_and_gradients_equal_torch():
    ours, ref = _pair(2, embed_dim=4, num_heads=2)
    x = torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    out, w = ours(x, x, x)
    out_ref, w_ref = ref(x, x, x)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(w, w_ref, rtol=0, atol=1e-12)
    out.pow(2).sum().backward()
    out_ref.pow(2).sum().backward()
    for (name, p), p_ref in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p_ref.grad, rtol=0, atol=1e-12, msg=name)


def test_mha_is_causal_alone_builds_the_mask():
    ours, ref = _pair(3, embed_dim=4, num_heads=2, batch_first=True)
    x = torch.randn(2, 5, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=F64)
    torch.testing.assert_close(
        ours(x, x, x, is_causal=True)[0], ref(x, x, x, attn_mask=mask)[0], rtol=0, atol=1e-12
    )


def test_mha_initialization_matches_torch_statistics():
    m = MultiheadAttention(64, 4, generator=torch.Generator().manual_seed(0))
    bound = (6 / (64 + 3 * 64)) ** 0.5  # Xavier-uniform on the (3E, E) in-projection, as torch
    assert m.in_proj_weight.abs().max() <= bound and m.in_proj_weight.abs().max() > 0.95 * bound
    assert torch.all(m.in_proj_bias == 0) and torch.all(m.out_proj.bias == 0)
    again = MultiheadAttention(64, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.in_proj_weight, m.in_proj_weight)


def test_mha_bad_input():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="dropout"):
        MultiheadAttention(6, 2, dropout=1.5)
    m = MultiheadAttention(4, 2, batch_first=True)
    x = torch.randn(1, 3, 4)
    with pytest.raises(TypeError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=torch.zeros(1, 3, dtype=torch.long))


@pytest.mark.parametrize("chunks", [[1] * 7, [3, 1, 2, 1], [7]])
def test_kv_cache_equals_full_recomputation(chunks):
    m = MultiheadAttention(
        8, 2, batch_first=True, dtype=F64, generator=torch.Generator().manual_seed(0)
    ).eval()
    x = torch.randn(2, sum(chunks), 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    full, _ = m(x, x, x, is_causal=True, need_weights=False)
    cache, outs, start = KVCache(), [], 0
    for c in chunks:
        part = x[:, start : start + c]
        outs.append(m(part, part, part, is_causal=True, kv_cache=cache)[0])
        start += c
    assert cache.length == sum(chunks)
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=0, atol=1e-12)


def test_kv_cache_reorder_and_static():
    cache = KVCache()
    k = torch.arange(2 * 1 * 3 * 2, dtype=F64).view(2, 1, 3, 2)
    cache.update(k, k + 100)
    cache.update(k[..., :1, :], k[..., :1, :])
    cache.reorder(torch.tensor([1, 1, 0]))
    keys, values = cache.keys()
    assert keys.shape == (3, 1, 4, 2)
    torch.testing.assert_close(keys[0], torch.cat([k[1], k[1, :, :1]], 1))
    torch.testing.assert_close(values[2, :, :3], k[0] + 100)
    static = KVCache(static=True)
    static.update(k, k)
    with pytest.raises(RuntimeError, match="static"):
        static.update(k, k)


@pytest.mark.parametrize(
    ("t", "window", "num_global", "causal"),
    [
        (17, 2, 0, False),
        (17, 3, 2, False),
        (9, 20, 1, False),
        (16, 2, 3, True),
        (5, 0, 0, True),
        (12, 1, 12, False),
    ],
)
def test_local_global_equals_dense_under_its_mask(t, window, num_global, causal):
    g = torch.Generator().manual_seed(t + window)
    q, k, v = (torch.randn(2, 3, t, 4, generator=g, dtype=F64) for _ in range(3))
    mask = local_global_mask(t, window, num_global, is_causal=causal)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out = local_global_attention(q, k, v, window, num_global, is_causal=causal)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_local_global_mask_counts():
    m = local_global_mask(10, 1, 2)
    assert m[5].tolist() == [True, True, False, False, True, True, True, False, False, False]
    assert m[0].all() and m[:, 1].all()


def test_local_global_module_equals_mha_with_mask():
    sparse = LocalGlobalAttention(8, 2, window=2, num_global=1, batch_first=True, dtype=F64)
    dense = MultiheadAttention(8, 2, batch_first=True, dtype=F64)
    dense.load_state_dict(sparse.state_dict())
    x = torch.randn(2, 11, 8, dtype=F64, generator=torch.Generator().manual_seed(0))
    out, none = sparse(x, x, x)
    assert none is None
    ref, _ = dense(x, x, x, attn_mask=~local_global_mask(11, 2, 1))
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="attn_mask"):
        sparse(x, x, x, attn_mask=torch.zeros(11, 11))


def test_head_gate_prunes_a_head_like_zeroing_its_output_columns():
    from udl.nn import attention_modules, head_importance, prune_heads

    m = MultiheadAttention(8, 4, batch_first=True, dtype=F64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    full = m(x, x, x)[0]
    prune_heads([m], torch.tensor([[True, False, True, True]]))
    pruned = m(x, x, x)[0]
    ref = MultiheadAttention(8, 4, batch_first=True, dtype=F64)
    ref.load_state_dict(m.state_dict())
    with torch.no_grad():
        ref.out_proj.weight[:, 2:4] = 0  # head 1's slice of the concatenated heads
    torch.testing.assert_close(pruned, ref(x, x, x)[0], rtol=0, atol=1e-12)
    prune_heads([m], torch.ones(1, 4, dtype=torch.bool))
    torch.testing.assert_close(m(x, x, x)[0], full, rtol=0, atol=0)
    # importance |dL/dξ_h| against a finite difference of the loss in the gate
    loss = lambda: m(x, x, x)[0].pow(2).sum()  # noqa: E731
    imp = head_importance(attention_modules(m), loss)
    assert m.head_gate is None and imp.shape == (1, 4)
    eps = 1e-6
    for h in range(4):
        gate = torch.ones(4, dtype=F64)
        gate[h] += eps
        m.head_gate = gate
        up = float(loss())
        gate[h] -= 2 * eps
        down = float(loss())
        assert abs(up - down) / (2 * eps) == pytest.approx(float(imp[0, h]), rel=1e-5)
    m.head_gate = None
    with pytest.raises(ValueError, match="keep"):
        prune_heads([m], torch.ones(1, 3, dtype=torch.bool))
