"""Dot-product self-attention (UDL section 12.2) and local + global sparse attention (section 12.10).

Tokens are rows here (torch's convention); the book stacks them as columns, so its Softmax[KᵀQ/√D_q] (UDL eq.
12.9) is our Softmax[Q Kᵀ/√D_q] taken along each row, and its V·Softmax[·] (eq. 12.7) is our weights @ V.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_mask(attn_mask: Tensor) -> None:
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(f"attn_mask must be a bool or a floating-point tensor, got dtype {attn_mask.dtype}")


def additive_mask(attn_mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """A bool mask (True = may attend, torch.nn.functional.scaled_dot_product_attention's convention) as an additive
    float mask (0 or −inf); a float mask is returned as it is (cast to ``dtype``)."""
    if attn_mask is None:
        return None
    _check_mask(attn_mask)
    if attn_mask.dtype == torch.bool:
        return torch.zeros(attn_mask.shape, dtype=dtype, device=attn_mask.device).masked_fill(
            ~attn_mask, float("-inf")
        )
    return attn_mask.to(dtype)


def causal_mask(length: int, source_length: int | None = None, device: torch.device | None = None) -> Tensor:
    """The bool causal mask (L, S): query i may attend key j iff j ≤ i + (S − L), i.e. the last query sees every key
    (bottom-right aligned; with S = L the usual lower triangle). A decoder with a KV cache needs the S > L case."""
    s = length if source_length is None else source_length
    i = torch.arange(length, device=device).unsqueeze(1)
    j = torch.arange(s, device=device).unsqueeze(0)
    return j <= i + (s - length)


def attention_weights(
    query: Tensor,
    key: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Softmax[Q Kᵀ · scale] along the keys (UDL eq. 12.9 with rows as tokens); (..., L, E), (..., S, E) ->
    (..., L, S). ``scale`` defaults to 1/√E (eq. 12.9's 1/√D_q). A row whose keys are all masked gets weights 0
    (as torch's scaled_dot_product_attention does), not NaN."""
    if attn_mask is not None and is_causal:
        raise ValueError("give attn_mask or is_causal, not both (is_causal builds the causal mask)")
    e = query.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, S): the dot products of eq. 12.9
    if is_causal:
        # top-left aligned, as torch: query i sees keys j <= i
        attn_mask = torch.ones(query.shape[-2], key.shape[-2], dtype=torch.bool, device=query.device).tril()
    bias = additive_mask(attn_mask, scores.dtype)
    if bias is not None:
        scores = scores + bias
    weights = torch.softmax(scores, dim=-1)
    # a fully masked row: softmax of all −inf is NaN; torch's kernels return 0 there
    return weights.nan_to_num(0.0) if bias is not None else weights


@overload
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = ...,
    dropout_p: float = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    *,
    return_weights: Literal[False] = ...,
    fused: bool = ...,
    generator: torch.Generator | None = ...,
) -> Tensor: ...


@overload
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = ...,
    dropout_p: float = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    *,
    return_weights: Literal[True],
    fused: bool = ...,
    generator: torch.Generator | None = ...,
) -> tuple[Tensor, Tensor]: ...


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    return_weights: bool = False,
    fused: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Scaled dot-product attention Sa[X] = Softmax[Q Kᵀ/√D_q] V (UDL eqs. 12.7 and 12.9, rows as tokens).

    The signature is torch.nn.functional.scaled_dot_product_attention's: (..., L, E) queries, (..., S, E) keys,
    (..., S, Ev) values -> (..., L, Ev). ``attn_mask`` is bool (True = may attend) or float (added to the scores),
    broadcastable to (..., L, S); ``is_causal`` masks key j > query i (top-left aligned, as torch). Dropout (rate
    ``dropout_p``) is applied to the attention weights.

    ``return_weights=True`` also returns the weights (after dropout), computed on the reference path written from
    the equations. Otherwise, with ``fused`` and no ``generator``, torch's fused kernel computes the same numbers
    faster (tests check the two paths against each other); ``fused=False`` forces the reference path.
    """
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    if attn_mask is not None:
        _check_mask(attn_mask)
    if fused and not return_weights and generator is None:
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale
        )
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    if dropout_p > 0.0:
        keep = torch.rand(weights.shape, generator=generator, device=weights.device) >= dropout_p
        weights = weights * keep / (1.0 - dropout_p)
    out = weights @ value  # eq. 12.7: each output is a weighted sum of the values
    return (out, weights) if return_weights else out


def local_global_mask(
    length: int, window: int, num_global: int, is_causal: bool = False, device: torch.device | None = None
) -> Tensor:
    """The dense bool (T, T) mask that local + global attention is equivalent to: query i attends key j iff
    |i − j| ≤ ``window``, or i or j is one of the first ``num_global`` (global) tokens; with ``is_causal`` also
    j ≤ i. Materializes T×T: for checks and figures, not for long inputs."""
    i = torch.arange(length, device=device).unsqueeze(1)
    j = torch.arange(length, device=device).unsqueeze(0)
    allowed = ((i - j).abs() <= window) | (i < num_global) | (j < num_global)
    return allowed & (j <= i) if is_causal else allowed


def local_global_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    window: int,
    num_global: int = 0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Sparse self-attention with a band of half-width ``window`` and ``num_global`` global tokens (Longformer,
    Beltagy et al. 2020; BigBird, Zaheer et al. 2020; UDL section 12.10), without ever forming the T×T matrix.

    (..., T, E) queries and keys, (..., T, Ev) values -> (..., T, Ev). Every token attends to the keys within
    ``window`` positions and to the first ``num_global`` tokens; those global tokens attend to every token. Memory
    and time are O(T·(2·window + 1 + num_global)); the result equals dense attention under
    ``local_global_mask(T, window, num_global, is_causal)``.
    """
    if window < 0 or num_global < 0:
        raise ValueError(f"window and num_global must be >= 0, got window={window}, num_global={num_global}")
    if query.shape[-2] != key.shape[-2] or key.shape[-2] != value.shape[-2]:
        raise ValueError("local_global_attention is self-attention: query, key and value need one length T")
    t, e = query.shape[-2], query.shape[-1]
    g = min(num_global, t)
    w = min(window, t - 1)
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    width = 2 * w + 1
    # keys and values of the band around each query: (..., T, width, E), a strided view over the padded keys
    pad_k = F.pad(key, (0, 0, w, w))
    pad_v = F.pad(value, (0, 0, w, w))
    band_k = pad_k.unfold(-2, width, 1).transpose(-2, -1)  # (..., T, width, E)
    band_v = pad_v.unfold(-2, width, 1).transpose(-2, -1)  # (..., T, width, Ev)
    local = torch.einsum("...te,...twe->...tw", query, band_k) * scale  # (..., T, width)
    pos = torch.arange(t, device=query.device)
    j = pos.unsqueeze(1) + torch.arange(-w, w + 1, device=query.device)  # (T, width): key index of each slot
    invalid = (j < 0) | (j >= t) | (j < g)  # outside the sequence, or a global key (counted once, below)
    if is_causal:
        invalid = invalid | (j > pos.unsqueeze(1))
    local = local.masked_fill(invalid, float("-inf"))
    scores = local
    if g > 0:
        glob = (
            query @ key[..., :g, :].transpose(-2, -1)
        ) * scale  # (..., T, g): every query to the global keys
        if is_causal:
            glob = glob.masked_fill(torch.arange(g, device=query.device) > pos.unsqueeze(1), float("-inf"))
        scores = torch.cat([glob, local], dim=-1)  # (..., T, g + width)
    weights = torch.softmax(scores, dim=-1)
    out = torch.einsum("...tw,...twe->...te", weights[..., g:], band_v)
    if g > 0:
        out = out + weights[..., :g] @ value[..., :g, :]
        # the global queries attend to every key: g dense rows, O(g·T)
        rows = attention_weights(query[..., :g, :], key, is_causal=is_causal, scale=scale)  # (..., g, T)
        out = torch.cat([rows @ value, out[..., g:, :]], dim=-2)
    return out
