"""Position encodings: each against its paper's formula written out independently, and the property it exists
for (RoPE scores depend only on the offset, ALiBi/T5 biases are Toeplitz, sinusoidal offsets are rotations)."""

from __future__ import annotations

import math

import pytest
import torch

from udl.nn import (
    ALiBi,
    LearnedPositionalEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_encoding,
)

F64 = torch.float64


def test_sinusoidal_formula_and_offset_is_a_rotation():
    pe = sinusoidal_encoding(50, 8)
    for t, i in [(0, 0), (3, 1), (49, 3)]:
        w = 1 / 10000 ** (2 * i / 8)
        assert pe[t, 2 * i].item() == pytest.approx(math.sin(t * w), abs=1e-14)
        assert pe[t, 2 * i + 1].item() == pytest.approx(math.cos(t * w), abs=1e-14)
    # Π[t + k] is a fixed linear (rotation) map of Π[t], the same for every t (Vaswani et al.'s motivation)
    k = 5
    a = torch.linalg.lstsq(pe[:40], pe[k : 40 + k]).solution
    torch.testing.assert_close(pe[:40] @ a, pe[k : 40 + k], rtol=0, atol=1e-9)
    torch.testing.assert_close(a.T @ a, torch.eye(8, dtype=F64), rtol=0, atol=1e-9)
    x = torch.zeros(2, 4, 8)
    torch.testing.assert_close(SinusoidalPositionalEncoding(8, 16)(x, offset=3)[0], pe[3:7].float())


def test_absolute_encodings_reject_long_inputs_and_learned_is_seeded():
    with pytest.raises(ValueError, match="max_len"):
        SinusoidalPositionalEncoding(4, 8)(torch.zeros(1, 9, 4))
    emb = LearnedPositionalEmbedding(8, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="max_len"):
        emb(torch.zeros(1, 5, 4), offset=4)
    again = LearnedPositionalEmbedding(8, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(emb.weight, again.weight)
    torch.testing.assert_close(emb(torch.zeros(1, 3, 4), offset=2)[0], emb.weight[2:5].detach())


def _t5_bucket(r: int, bidirectional: bool, num_buckets: int, max_distance: int) -> int:
    """T5's mesh-tensorflow _relative_position_bucket, one scalar at a time."""
    ret, n = 0, -r
    if bidirectional:
        num_buckets //= 2
        ret += num_buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    val = max_exact + int(
        math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    )
    return ret + min(val, num_buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_bucket_equals_t5(bidirectional):
    r = torch.arange(-300, 301)
    ours = relative_position_bucket(r, bidirectional, 32, 128)
    expected = [_t5_bucket(int(x), bidirectional, 32, 128) for x in r]
    assert ours.tolist() == expected
    assert ours.max() < 32 and ours.min() >= 0


def test_relative_bias_is_toeplitz_and_offset_consistent():
    rel = RelativePositionBias(3, num_buckets=8, max_distance=16, generator=torch.Generator().manual_seed(0))
    b = rel(6, 9)  # (1, H, L, S)
    assert b.shape == (1, 3, 6, 9)
    for d in range(-5, 8):  # constant along each diagonal j − i = d
        diag = torch.diagonal(b[0], offset=d, dim1=-2, dim2=-1)
        assert torch.all(diag == diag[..., :1])
    torch.testing.assert_close(rel(2, 9, offset=4), b[:, :, 4:6])  # a cached query sees the same bias


def test_alibi_slopes_as_in_the_paper():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0**-k for k in range(1, 9)], dtype=F64))
    # 6 heads: the 4-head sequence (2^-2, 2^-4, 2^-6, 2^-8), then every other slope of the 8-head one
    torch.testing.assert_close(
        alibi_slopes(6), torch.tensor([2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3], dtype=F64)
    )
    with pytest.raises(ValueError, match="num_heads"):
        alibi_slopes(0)


def test_alibi_bias_is_linear_in_distance():
    b = ALiBi(4)(3, 5, offset=2)[0]  # queries at positions 2..4
    slopes = alibi_slopes(4).float()
    for h in range(4):
        for i in range(3):
            for j in range(5):
                assert b[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i + 2 - j))


def test_rope_scores_depend_only_on_the_offset():
    rope = RotaryEmbedding(8)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8, generator=g, dtype=F64), torch.randn(1, 1, 1, 8, generator=g, dtype=F64)

    def score(m: int, n: int) -> float:
        return float((rope(q, m) * rope(k, n)).sum())

    for delta in (0, 3, -7):
        ref = score(10, 10 - delta)
        for m in (20, 57, 300):
            assert score(m, m - delta) == pytest.approx(ref, abs=1e-10)
    assert abs(score(10, 7) - score(10, 3)) > 1e-3  # ... and does depend on it


def test_rope_is_a_complex_rotation():
    rope = RotaryEmbedding(6, base=100.0)
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
    out = rope(x, offset=4)
    theta = 100.0 ** (-torch.arange(0, 6, 2, dtype=F64) / 6)
    pos = torch.arange(4, 9, dtype=F64).unsqueeze(1)
    expected = torch.view_as_real(
        torch.view_as_complex(x.reshape(2, 3, 5, 3, 2))
        * torch.polar(torch.ones_like(pos * theta), pos * theta)
    ).flatten(-2)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1), rtol=0, atol=1e-12)  # norms kept
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(5)
