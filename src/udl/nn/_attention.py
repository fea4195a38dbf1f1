"""Multi-head self-attention (UDL section 12.4), its KV cache for incremental decoding, and local + global sparse
attention (section 12.10)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.functional.attention import attention_weights, causal_mask, local_global_attention

if TYPE_CHECKING:
    from udl.nn._positional import RotaryEmbedding


class KVCache:
    """The keys and values one attention layer has seen, so that decoding token t attends to tokens 0..t without
    recomputing their projections (a decoder's self-attention, ``static=False``: each call appends), or the
    projected encoder memory of a cross-attention (``static=True``: filled once, then reused).

    Storage is a buffer (N, H, capacity, head_dim) that doubles when full, so appending T tokens one at a time
    copies O(T) elements in total. ``reorder(index)`` selects batch rows (beam search)."""

    def __init__(self, static: bool = False) -> None:
        self.static = static
        self._key: Tensor | None = None
        self._value: Tensor | None = None
        self.length = 0

    @property
    def filled(self) -> bool:
        return self._key is not None

    def update(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Append (N, H, S_new, head_dim) keys and values; return all keys and values so far."""
        n = key.shape[-2]
        if self._key is None or self._value is None:
            capacity = max(2 * n, 16)
            shape = (*key.shape[:-2], capacity, key.shape[-1])
            self._key = key.new_empty(shape)
            self._value = value.new_empty((*value.shape[:-2], capacity, value.shape[-1]))
        elif self.static:
            raise RuntimeError("a static KVCache is filled once; use keys() for the stored memory")
        if self.length + n > self._key.shape[-2]:
            capacity = 2 * (self.length + n)
            grown_k = self._key.new_empty((*self._key.shape[:-2], capacity, self._key.shape[-1]))
            grown_v = self._value.new_empty((*self._value.shape[:-2], capacity, self._value.shape[-1]))
            grown_k[..., : self.length, :] = self._key[..., : self.length, :]
            grown_v[..., : self.length, :] = self._value[..., : self.length, :]
            self._key, self._value = grown_k, grown_v
        self._key[..., self.length : self.length + n, :] = key
        self._value[..., self.length : self.length + n, :] = value
        self.length += n
        return self.keys()

    def keys(self) -> tuple[Tensor, Tensor]:
        """The stored (N, H, length, head_dim) keys and values."""
        if self._key is None or self._value is None:
            raise RuntimeError("the KVCache is empty")
        return self._key[..., : self.length, :], self._value[..., : self.length, :]

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (in that order), e.g. the surviving beams."""
        if self._key is not None and self._value is not None:
            self._key = self._key.index_select(0, index)
            self._value = self._value.index_select(0, index)


def _float_mask(mask: Tensor | None, dtype: torch.dtype, name: str) -> Tensor | None:
    """torch.nn.MultiheadAttention's masks: bool True = *not* allowed; a float mask is added to the scores."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool or a floating-point tensor, got dtype {mask.dtype}")
    return mask.to(dtype)


class MultiheadAttention(nn.Module):
    """Multi-head attention MhSa[X] = Ω_c [Sa_1[X], ..., Sa_H[X]] (UDL eq. 12.11), torch.nn.MultiheadAttention's
    drop-in: the same constructor, ``forward`` signature, parameter names (``in_proj_weight``, ``in_proj_bias``,
    ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when kdim or vdim differ, ``bias_k``, ``bias_v``,
    ``out_proj``) and initialization, so a torch state dict loads into it and gives the same outputs and weights.

    Beyond torch: ``attn_mask`` may also be 4-D, broadcastable to (N, H, L, S) (a per-head position bias such as
    ALiBi or T5's); ``is_causal`` alone builds the causal mask; ``kv_cache`` (a ``KVCache``) makes the call
    incremental: the new keys and values are appended and the queries attend to everything cached, with the causal
    mask aligned to the last key; ``rotary`` applies RoPE to queries and keys at their absolute positions;
    ``head_gate`` (None, or (H,)) scales each head's output, 0 pruning it (``head_importance``, ``prune_heads``).
    One difference: a query whose keys are all masked gets output 0 (torch's fused kernel) where torch's
    ``need_weights=True`` path returns NaN.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = (
            embed_dim,
            num_heads,
            dropout,
            batch_first,
        )
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **kw)
        self.bias_k: nn.Parameter | None
        self.bias_v: nn.Parameter | None
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, embed_dim, **kw))
            self.bias_v = nn.Parameter(torch.empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.head_gate: Tensor | None = None
        """optional (H,) weights ξ_h on the heads' outputs before Ω_c (Michel et al. 2019); 0 prunes a head"""
        self._reset_parameters(generator)

    def _reset_parameters(self, generator: torch.Generator | None) -> None:
        # torch's initialization: Xavier-uniform projections, zero biases, Linear's default for out_proj
        nn.init.kaiming_uniform_(self.out_proj.weight, a=math.sqrt(5), generator=generator)
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                nn.init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                nn.init.xavier_normal_(b, generator=generator)

    def _project(self, x: Tensor, which: int) -> Tensor:
        """Ω_q, Ω_k or Ω_v applied to (N, L, ·) rows, then split into heads: (N, H, L, head_dim)."""
        e = self.embed_dim
        if self.in_proj_weight is not None:
            w = self.in_proj_weight[which * e : (which + 1) * e]
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[which]
        b = None if self.in_proj_bias is None else self.in_proj_bias[which * e : (which + 1) * e]
        y = F.linear(x, w, b)
        return y.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)  # (N, H, L, head_dim)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        *,
        kv_cache: KVCache | None = None,
        rotary: RotaryEmbedding | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first or unbatched:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, length, _ = query.shape  # (N, L, E) from here on
        if kv_cache is not None and (self.bias_k is not None or self.add_zero_attn):
            raise ValueError("kv_cache cannot be combined with add_bias_kv or add_zero_attn")
        offset = 0 if kv_cache is None or kv_cache.static else kv_cache.length
        fused_qkv = query is key and key is value and self.in_proj_weight is not None
        if fused_qkv and not (kv_cache is not None and kv_cache.static and kv_cache.filled):
            # self-attention: one (3E, E) matmul for Ω_q, Ω_k, Ω_v
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            q, k, v = (
                t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2) for t in qkv.chunk(3, -1)
            )
        else:
            q = self._project(query, 0)
        if kv_cache is not None and kv_cache.static and kv_cache.filled:
            k, v = kv_cache.keys()
        else:
            if not fused_qkv:
                k, v = self._project(key, 1), self._project(value, 2)
            if rotary is not None:
                k = rotary(k, offset)
            if self.bias_k is not None and self.bias_v is not None:
                k = torch.cat(
                    [k, self.bias_k.view(1, self.num_heads, 1, self.head_dim).expand(n, -1, -1, -1)], 2
                )
                v = torch.cat(
                    [v, self.bias_v.view(1, self.num_heads, 1, self.head_dim).expand(n, -1, -1, -1)], 2
                )
            if self.add_zero_attn:
                k = torch.cat([k, k.new_zeros(n, self.num_heads, 1, self.head_dim)], 2)
                v = torch.cat([v, v.new_zeros(n, self.num_heads, 1, self.head_dim)], 2)
            if kv_cache is not None:
                k, v = kv_cache.update(k, v)
        if rotary is not None:
            q = rotary(q, offset)
        s = k.shape[-2]
        extra = int(self.bias_k is not None) + int(self.add_zero_attn)  # keys appended after the real ones

        # -- one additive mask broadcastable to (N, H, L, S) -------------------------------------------------------
        causal = False  # the kernels' own (top-left) causal flag, when it is the whole mask
        if is_causal and attn_mask is None:
            if key_padding_mask is None and extra == 0 and length in (1, s):
                causal = length > 1  # one new query (a cached step) sees every key: no mask at all
            else:
                attn_mask = ~causal_mask(length, s - extra, query.device)  # torch's convention: True = masked
        mask = _float_mask(attn_mask, q.dtype, "attn_mask")
        if mask is not None:
            if mask.dim() == 2:
                mask = mask.view(1, 1, *mask.shape)
            elif mask.dim() == 3:
                mask = mask.view(n, self.num_heads, *mask.shape[1:])
            elif mask.dim() != 4:
                raise ValueError(f"attn_mask must be 2-, 3- or 4-D, got shape {tuple(mask.shape)}")
        pad = _float_mask(key_padding_mask, q.dtype, "key_padding_mask")
        if pad is not None:
            pad = pad.view(n, 1, 1, -1)
        if extra:
            mask = None if mask is None else F.pad(mask, (0, extra))
            pad = None if pad is None else F.pad(pad, (0, extra))
        if pad is not None:
            mask = pad if mask is None else mask + pad

        out, weights = self._attend(q, k, v, mask, causal, need_weights)  # (N, H, L, head_dim)
        if self.head_gate is not None:
            out = out * self.head_gate.to(out.dtype).view(1, -1, 1, 1)
        out = self.out_proj(out.transpose(1, 2).flatten(2))  # (N, L, E): concatenate heads, Ω_c
        if not self.batch_first or unbatched:
            out = out.transpose(0, 1)
        if unbatched:
            out = out.squeeze(1)
        if weights is not None:
            weights = weights.mean(dim=1) if average_attn_weights else weights
            weights = weights.squeeze(0) if unbatched else weights
        return out, weights

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, causal: bool, need_weights: bool
    ) -> tuple[Tensor, Tensor | None]:
        p = self.dropout if self.training else 0.0
        if not need_weights:
            return F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal
            ), None
        weights = attention_weights(q, k, mask, is_causal=causal)  # (N, H, L, S), UDL eq. 12.9
        if p > 0.0:
            weights = F.dropout(weights, p)
        return weights @ v, weights


class LocalGlobalAttention(MultiheadAttention):
    """Multi-head self-attention restricted to a band of half-width ``window`` plus ``num_global`` global tokens
    (UDL section 12.10; ``udl.functional.local_global_attention``), computed in O(T·(window + num_global)) memory.

    The parameters are MultiheadAttention's, so weights copy both ways; with the same weights its output equals
    MultiheadAttention's under ``attn_mask=~local_global_mask(T, window, num_global)``. It only does self-attention
    (``forward(x, x, x)``) without other masks, weights, dropout or a cache; ``is_causal`` restricts the band;
    ``rotary`` applies RoPE as in MultiheadAttention."""

    def __init__(self, embed_dim: int, num_heads: int, window: int, num_global: int = 0, **kwargs) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)
        if window < 0 or num_global < 0:
            raise ValueError(
                f"window and num_global must be >= 0, got window={window}, num_global={num_global}"
            )
        if self.bias_k is not None or self.add_zero_attn or self.dropout > 0:
            raise ValueError("LocalGlobalAttention supports neither add_bias_kv, add_zero_attn nor dropout")
        self.window: int = window
        self.num_global: int = num_global
        self._causal: bool = False

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        *,
        kv_cache: KVCache | None = None,
        rotary: RotaryEmbedding | None = None,
    ) -> tuple[Tensor, None]:
        if key_padding_mask is not None or attn_mask is not None or need_weights or kv_cache is not None:
            raise ValueError(
                "LocalGlobalAttention takes no key_padding_mask, attn_mask, kv_cache or need_weights=True"
            )
        self._causal = is_causal
        out, _ = super().forward(query, key, value, need_weights=False, rotary=rotary)
        return out, None

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, causal: bool, need_weights: bool
    ) -> tuple[Tensor, Tensor | None]:
        return local_global_attention(q, k, v, self.window, self.num_global, is_causal=self._causal), None


def attention_modules(model: nn.Module) -> list[MultiheadAttention]:
    """Every MultiheadAttention inside ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, MultiheadAttention)]


def head_importance(modules: list[MultiheadAttention], loss: Callable[[], Tensor]) -> Tensor:
    """Importance I_h = |∂L/∂ξ_h| of every head (Michel et al. 2019, "Are sixteen heads really better than one?"):
    each head's output is scaled by a gate ξ_h = 1 and ``loss()`` (e.g. the validation loss) is differentiated
    with respect to the gates. Returns (len(modules), H); the gates are restored afterwards."""
    saved: list[Tensor | None] = [m.head_gate for m in modules]
    gates = [
        torch.ones(
            m.num_heads, device=m.out_proj.weight.device, dtype=m.out_proj.weight.dtype, requires_grad=True
        )
        for m in modules
    ]
    try:
        for m, g in zip(modules, gates, strict=True):
            m.head_gate = g if m.head_gate is None else g * m.head_gate
        grads = torch.autograd.grad(loss(), gates, allow_unused=True)
    finally:
        for m, old in zip(modules, saved, strict=True):
            m.head_gate = old
    return torch.stack(
        [torch.zeros_like(g) if d is None else d.abs() for g, d in zip(gates, grads, strict=True)]
    )


def prune_heads(modules: list[MultiheadAttention], keep: Tensor) -> None:
    """Switch heads off: ``keep`` (len(modules), H) bool; head h of module i is kept where ``keep[i, h]``."""
    if not modules or keep.shape != (len(modules), modules[0].num_heads):
        raise ValueError(f"keep must have shape ({len(modules)}, H), got {tuple(keep.shape)}")
    for m, k in zip(modules, keep, strict=True):
        m.head_gate = None if bool(k.all()) else k.to(m.out_proj.weight.dtype)
