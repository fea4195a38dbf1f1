"""Position encodings (UDL section 12.3.1): absolute (sinusoidal, learned) and relative (T5-style bucketed bias,
ALiBi, RoPE). Self-attention alone is equivariant to permutations of its inputs (section 12.3), so order has to
be put in by one of these."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_encoding(length: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The sinusoidal position matrix Π (UDL fig. 12.5; Vaswani et al. 2017), (length, d_model):
    Π[t, 2i] = sin(t / base^{2i/D}), Π[t, 2i+1] = cos(t / base^{2i/D})."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for the sinusoidal encoding, got {d_model}")
    t = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (D/2,)
    pe = torch.empty(length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(t * freq)
    pe[:, 1::2] = torch.cos(t * freq)
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal matrix Π to the token embeddings: X + Π (UDL section 12.3.1). Input (N, T, D) at
    positions ``offset .. offset + T − 1``."""

    pe: Tensor

    def __init__(self, d_model: int, max_len: int = 4096, base: float = 10000.0) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base).float(), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        t = x.shape[-2]
        if offset + t > self.pe.shape[0]:
            raise ValueError(f"positions up to {offset + t} exceed max_len={self.pe.shape[0]}")
        return x + self.pe[offset : offset + t].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned vector per absolute position: X + Π with Π a parameter (UDL section 12.3.1; GPT, BERT)."""

    def __init__(self, max_len: int, d_model: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02, generator=generator)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        t = x.shape[-2]
        if offset + t > self.weight.shape[0]:
            raise ValueError(f"positions up to {offset + t} exceed max_len={self.weight.shape[0]}")
        return x + self.weight[offset : offset + t].to(x.dtype)


def relative_position_bucket(
    relative_position: Tensor, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> Tensor:
    """T5's buckets (Raffel et al. 2020) for offsets r = j − i: half the buckets (per direction when
    ``bidirectional``) hold |r| exactly, the rest grow logarithmically up to ``max_distance``; beyond it one bucket."""
    buckets = torch.zeros_like(relative_position)
    n = -relative_position  # i − j: > 0 for keys in the past
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (n < 0).long() * num_buckets
        n = n.abs()
    else:
        n = n.clamp(min=0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = (
        max_exact
        + (
            torch.log(n.float().clamp(min=1) / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).long()
    )
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(is_small, n, large)


class RelativePositionBias(nn.Module):
    """A learned scalar per head and relative-offset bucket added to the attention scores (Shaw et al. 2018; T5):
    score_{ij} = q_i·k_j/√D + b_h[bucket(j − i)]. Returns the (1, H, L, S) bias for queries at positions
    ``offset .. offset + L − 1`` and keys at 0 .. S − 1 (pass it as a float ``attn_mask``)."""

    def __init__(
        self,
        num_heads: int,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_buckets, self.max_distance, self.bidirectional = num_buckets, max_distance, bidirectional
        self.weight = nn.Parameter(torch.empty(num_buckets, num_heads))
        nn.init.normal_(self.weight, std=0.02, generator=generator)

    def forward(self, length: int, source_length: int, offset: int = 0) -> Tensor:
        i = torch.arange(offset, offset + length, device=self.weight.device).unsqueeze(1)
        j = torch.arange(source_length, device=self.weight.device).unsqueeze(0)
        b = relative_position_bucket(j - i, self.bidirectional, self.num_buckets, self.max_distance)
        return self.weight[b].permute(2, 0, 1).unsqueeze(0)  # (1, H, L, S)


def alibi_slopes(num_heads: int) -> Tensor:
    """ALiBi's head slopes (Press et al. 2022): for n a power of two, the geometric sequence 2^{−8k/n}, k = 1..n;
    otherwise those of the largest power of two below n followed by every other slope of twice that power."""
    if num_heads < 1:
        raise ValueError(f"num_heads must be >= 1, got {num_heads}")

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * k / n) for k in range(1, n + 1)]

    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = power_of_two(closest)
    if closest < num_heads:
        slopes += power_of_two(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(slopes, dtype=torch.float64)


class ALiBi(nn.Module):
    """Attention with linear biases: score_{ij} = q_i·k_j/√D − m_h·|i − j| (Press et al. 2022), no parameters.
    Returns the (1, H, L, S) bias for queries at ``offset ..`` and keys at 0 .. S − 1 (a float ``attn_mask``)."""

    slopes: Tensor

    def __init__(self, num_heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(num_heads).float(), persistent=False)

    def forward(self, length: int, source_length: int, offset: int = 0) -> Tensor:
        i = torch.arange(offset, offset + length, device=self.slopes.device).unsqueeze(1)
        j = torch.arange(source_length, device=self.slopes.device).unsqueeze(0)
        distance = (i - j).abs().to(self.slopes.dtype)  # (L, S)
        return (-self.slopes.view(-1, 1, 1) * distance).unsqueeze(0)  # (1, H, L, S)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoFormer, Su et al. 2021): each pair (x_{2i}, x_{2i+1}) of a query or key at
    position m is rotated by the angle m·θ_i, θ_i = base^{−2i/d}. Then q_m·k_n = Re[Σ_i q̃_i conj(k̃_i) e^{i(m−n)θ_i}]
    depends on the positions only through m − n. Applied to (N, H, T, d) at positions ``offset ..``."""

    inv_freq: Tensor

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        t = x.shape[-2]
        pos = torch.arange(offset, offset + t, dtype=torch.float64, device=x.device)
        angle = (pos.unsqueeze(1) * self.inv_freq).to(x.dtype)  # (T, d/2)
        cos, sin = angle.cos(), angle.sin()
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # rotate each pair
        return out.flatten(-2)
