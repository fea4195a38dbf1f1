"""Transformer layers (UDL section 12.4, fig. 12.7; decoder and cross-attention, section 12.7): residual
multi-head self-attention and a per-token two-layer network, each with a LayerNorm after (post-LN, the original
transformer and the book's fig. 12.7) or before (pre-LN, ``norm_first=True``) its residual branch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.nn._attention import KVCache, MultiheadAttention
from udl.nn._positional import RotaryEmbedding
from udl.nn._residual import seeded_linear

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)} or a callable, got {activation!r}"
        )
    return _ACTIVATIONS[activation]


class _TransformerLayer(nn.Module):
    """What both layers share: torch's constructor (self-attention, with ``_cross_attention`` a second attention
    ``multihead_attn`` over the memory, then the per-token network linear2(dropout(a[linear1(x)])) of fig. 12.7,
    its LayerNorms and dropouts), the self-attention block and the feed-forward block."""

    _cross_attention = False

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        kw: dict[str, Any] = {
            "batch_first": batch_first,
            "device": device,
            "dtype": dtype,
            "generator": generator,
        }
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, **kw)
        if self._cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, **kw)
        self.linear1 = seeded_linear(d_model, dim_feedforward, "torch", generator, device, dtype)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = seeded_linear(dim_feedforward, d_model, "torch", generator, device, dtype)
        if not bias:
            self.linear1.register_parameter("bias", None)
            self.linear2.register_parameter("bias", None)
        eps = layer_norm_eps
        self.norm1, self.norm2 = (
            nn.LayerNorm(d_model, eps=eps, bias=bias, device=device, dtype=dtype) for _ in "12"
        )
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        if self._cross_attention:
            self.norm3 = nn.LayerNorm(d_model, eps=eps, bias=bias, device=device, dtype=dtype)
            self.dropout3 = nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.norm_first = norm_first

    def _sa_block(
        self,
        x: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool,
        kv_cache: KVCache | None,
        rotary: RotaryEmbedding | None,
    ) -> Tensor:
        y = self.self_attn(
            x,
            x,
            x,
            key_padding_mask,
            False,
            attn_mask,
            is_causal=is_causal,
            kv_cache=kv_cache,
            rotary=rotary,
        )[0]
        return self.dropout1(y)

    def _ff_block(self, x: Tensor, drop: nn.Module) -> Tensor:
        return drop(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """One transformer layer (UDL fig. 12.7), torch.nn.TransformerEncoderLayer's drop-in (constructor, forward,
    submodule names: a torch state dict loads and gives the same output, ``norm_first`` either way):

    post-LN: X ← LN[X + MhSa[X]], X ← LN[X + mlp[X]];  pre-LN: X ← X + MhSa[LN[X]], X ← X + mlp[LN[X]].

    Beyond torch: ``src_mask`` may be a (1 or N, H, L, S) float position bias, and ``kv_cache`` / ``rotary`` pass
    through to the self-attention (a decoder-only LM is this layer with a causal mask and a cache)."""

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        *,
        kv_cache: KVCache | None = None,
        rotary: RotaryEmbedding | None = None,
    ) -> Tensor:
        def sa(x: Tensor) -> Tensor:
            return self._sa_block(x, src_mask, src_key_padding_mask, is_causal, kv_cache, rotary)

        x = src
        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + sa(x))
        return self.norm2(x + self._ff_block(x, self.dropout2))


class TransformerDecoderLayer(_TransformerLayer):
    """A decoder layer of the encoder-decoder transformer (UDL section 12.7, fig. 12.13): masked self-attention,
    cross-attention to the encoder's memory (queries from the decoder, keys and values from the encoder), then the
    per-token network, each residual with LayerNorm after (post-LN) or before (``norm_first``) the branch.
    torch.nn.TransformerDecoderLayer's drop-in; ``kv_cache=(self_cache, cross_cache)`` for incremental decoding
    (the cross cache holds the projected memory, computed once)."""

    _cross_attention = True

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
        *,
        kv_cache: tuple[KVCache, KVCache] | None = None,
        rotary: RotaryEmbedding | None = None,
    ) -> Tensor:
        self_cache, cross_cache = (None, None) if kv_cache is None else kv_cache

        def sa(x: Tensor) -> Tensor:
            return self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal, self_cache, rotary)

        def ca(x: Tensor) -> Tensor:
            y = self.multihead_attn(
                x,
                memory,
                memory,
                memory_key_padding_mask,
                False,
                memory_mask,
                is_causal=memory_is_causal,
                kv_cache=cross_cache,
            )[0]
            return self.dropout2(y)

        x = tgt
        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ca(self.norm2(x))
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + sa(x))
        x = self.norm2(x + ca(x))
        return self.norm3(x + self._ff_block(x, self.dropout3))
