"""The three transformer families of UDL chapter 12: a decoder-only language model (GPT, section 12.7), an
encoder with a masked-language-model head (BERT, section 12.6) and an encoder-decoder with cross-attention
(machine translation, section 12.8). All take integer token ids; each has a frozen *Config."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.functional import causal_mask
from udl.nn import (
    ALiBi,
    KVCache,
    LearnedPositionalEmbedding,
    LocalGlobalAttention,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

Positional = Literal["none", "sinusoidal", "learned", "relative", "alibi", "rope"]
POSITIONAL: tuple[str, ...] = ("none", "sinusoidal", "learned", "relative", "alibi", "rope")
"""the position encodings a model can use (``udl.nn``'s modules of the same names)"""


def _check_common(cfg, max_len_field: str) -> None:
    for name in ("d_model", "num_heads", max_len_field):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.d_model % cfg.num_heads:
        raise ValueError(f"d_model ({cfg.d_model}) must be a multiple of num_heads ({cfg.num_heads})")
    if cfg.positional not in POSITIONAL:
        raise ValueError(f"positional must be one of {POSITIONAL}, got {cfg.positional!r}")
    if cfg.positional == "rope" and (cfg.d_model // cfg.num_heads) % 2:
        raise ValueError("positional='rope' needs an even head dimension d_model // num_heads")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.dim_feedforward is not None and cfg.dim_feedforward < 1:
        raise ValueError(f"dim_feedforward must be >= 1, got {cfg.dim_feedforward}")


def _check_lm(cfg, max_len_field: str) -> None:
    """A language model's config (decoder-only or masked): the vocabulary and depth, then the common checks."""
    if cfg.vocab_size < 1 or cfg.num_layers < 0:
        raise ValueError(
            f"vocab_size must be >= 1 and num_layers >= 0, got {cfg.vocab_size}, {cfg.num_layers}"
        )
    _check_common(cfg, max_len_field)


class _Positions(nn.Module):
    """One model's position encoding: added to the embeddings (absolute), a per-head score bias (relative,
    ALiBi) or a rotation of queries and keys (RoPE)."""

    def __init__(self, kind: str, d_model: int, num_heads: int, max_len: int, bidirectional: bool, generator):
        super().__init__()
        self.kind, self.d_model = kind, d_model
        self.absolute: nn.Module | None = None
        self.bias: nn.Module | None = None
        self.rotary: RotaryEmbedding | None = None
        if kind == "sinusoidal":
            self.absolute = SinusoidalPositionalEncoding(d_model, max_len)
        elif kind == "learned":
            self.absolute = LearnedPositionalEmbedding(max_len, d_model, generator=generator)
        elif kind == "relative":
            self.bias = RelativePositionBias(num_heads, bidirectional=bidirectional, generator=generator)
        elif kind == "alibi":
            self.bias = ALiBi(num_heads)
        elif kind == "rope":
            self.rotary = RotaryEmbedding(d_model // num_heads)

    def embed(self, x: Tensor, offset: int) -> Tensor:
        if self.kind == "sinusoidal":
            x = x * math.sqrt(self.d_model)  # Vaswani et al.: scale embeddings to Π's magnitude
        return x if self.absolute is None else self.absolute(x, offset)

    def mask(self, length: int, source_length: int, offset: int, causal: bool) -> tuple[Tensor | None, bool]:
        """(attn_mask, is_causal) for the self-attention: the position bias with the causal mask folded in."""
        if self.bias is None:
            return None, causal
        b = self.bias(length, source_length, offset)  # (1, H, L, S)
        if causal:
            b = b.masked_fill(~causal_mask(length, source_length, b.device), float("-inf"))
        return b, False


class TransformerCache:
    """KV caches of every layer of one model (``KVCache`` per self-attention; with ``memory``, a static one per
    cross-attention and the encoder output itself), reordered together for beam search."""

    def __init__(
        self, num_layers: int, memory: Tensor | None = None, memory_key_padding_mask: Tensor | None = None
    ) -> None:
        self.self_attn = [KVCache() for _ in range(num_layers)]
        self.cross_attn = [KVCache(static=True) for _ in range(num_layers)] if memory is not None else None
        self.memory, self.memory_key_padding_mask = memory, memory_key_padding_mask

    @property
    def length(self) -> int:
        """Tokens seen so far."""
        return self.self_attn[0].length

    def reorder(self, index: Tensor) -> None:
        for c in self.self_attn + (self.cross_attn or []):
            c.reorder(index)
        if self.memory is not None:
            self.memory = self.memory.index_select(0, index)
        if self.memory_key_padding_mask is not None:
            self.memory_key_padding_mask = self.memory_key_padding_mask.index_select(0, index)


def _encoder_layers(c: DecoderLMConfig | MaskedLMConfig, generator: torch.Generator | None) -> nn.ModuleList:
    """The config's stack of batch-first TransformerEncoderLayers (causal or not is the caller's mask)."""
    ff = c.dim_feedforward or 4 * c.d_model
    return nn.ModuleList(
        TransformerEncoderLayer(
            c.d_model,
            c.num_heads,
            ff,
            c.dropout,
            c.activation,
            batch_first=True,
            norm_first=c.norm_first,
            generator=generator,
        )
        for _ in range(c.num_layers)
    )


def _embedding(vocab: int, d: int, generator) -> nn.Embedding:
    emb = nn.Embedding(vocab, d)
    nn.init.normal_(emb.weight, std=0.02, generator=generator)
    return emb


@dataclass(frozen=True)
class DecoderLMConfig:
    vocab_size: int
    """number of token ids"""
    context_length: int = 256
    """longest input for absolute encodings (relative ones, ALiBi and RoPE have no limit)"""
    d_model: int = 128
    """width D of every token's representation"""
    num_heads: int = 4
    """attention heads H per layer"""
    num_layers: int = 4
    """transformer layers"""
    dim_feedforward: int | None = None
    """hidden width of the per-token network (None: 4·d_model)"""
    dropout: float = 0.0
    """dropout rate on embeddings, attention weights and residual branches"""
    positional: Positional = "learned"
    """position encoding (GPT: learned)"""
    norm_first: bool = True
    """pre-LN (GPT-2) when True, post-LN (the original transformer) when False"""
    tie_weights: bool = True
    """the output layer reuses the token embedding matrix (Press & Wolf 2017)"""
    activation: Literal["relu", "gelu"] = "gelu"
    """activation of the per-token network"""

    def __post_init__(self) -> None:
        _check_lm(self, "context_length")


class DecoderLM(nn.Module):
    """A GPT-style decoder-only language model (UDL section 12.7, fig. 12.10): token embeddings plus positions,
    ``num_layers`` causally masked transformer layers, a final LayerNorm (pre-LN) and a linear map to the
    vocabulary, tied to the embedding. ``forward(ids)`` (N, T) -> next-token logits (N, T, V); with
    ``kv_cache=model.new_cache()`` calls are incremental (``udl.text.generate`` uses this)."""

    def __init__(self, config: DecoderLMConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        c = self.config = config
        self.token_embedding = _embedding(c.vocab_size, c.d_model, generator)
        self.positions = _Positions(c.positional, c.d_model, c.num_heads, c.context_length, False, generator)
        self.dropout = nn.Dropout(c.dropout)
        self.layers = _encoder_layers(c, generator)
        self.norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.token_embedding.weight
        else:
            nn.init.normal_(self.head.weight, std=0.02, generator=generator)

    def new_cache(self, batch_size: int | None = None) -> TransformerCache:
        """An empty cache for incremental decoding (``batch_size`` is accepted for the generate protocol)."""
        return TransformerCache(len(self.layers))

    def hidden_states(self, ids: Tensor, kv_cache: TransformerCache | None = None) -> Tensor:
        """The last layer's representations (N, T, D), after the final LayerNorm."""
        offset = 0 if kv_cache is None else kv_cache.length
        t = ids.shape[1]
        x = self.dropout(self.positions.embed(self.token_embedding(ids), offset))
        mask, causal = self.positions.mask(t, offset + t, offset, causal=True)
        for i, layer in enumerate(self.layers):
            cache = None if kv_cache is None else kv_cache.self_attn[i]
            x = layer(x, mask, is_causal=causal, kv_cache=cache, rotary=self.positions.rotary)
        return self.norm(x)

    def forward(self, ids: Tensor, kv_cache: TransformerCache | None = None) -> Tensor:
        return self.head(self.hidden_states(ids, kv_cache))


@dataclass(frozen=True)
class MaskedLMConfig:
    vocab_size: int
    """number of token ids (the mask token among them)"""
    max_len: int = 256
    """longest input for absolute encodings"""
    d_model: int = 128
    """width D of every token's representation"""
    num_heads: int = 4
    """attention heads H per layer"""
    num_layers: int = 4
    """transformer layers"""
    dim_feedforward: int | None = None
    """hidden width of the per-token network (None: 4·d_model)"""
    dropout: float = 0.0
    """dropout rate on embeddings, attention weights and residual branches"""
    positional: Positional = "learned"
    """position encoding (BERT: learned)"""
    norm_first: bool = False
    """post-LN as BERT when False"""
    tie_weights: bool = True
    """the MLM output layer reuses the token embedding matrix (as BERT)"""
    activation: Literal["relu", "gelu"] = "gelu"
    """activation of the per-token network and the MLM head"""

    def __post_init__(self) -> None:
        _check_lm(self, "max_len")


class MaskedLanguageModel(nn.Module):
    """A BERT-style encoder (UDL section 12.6, fig. 12.8): bidirectional transformer layers over token embeddings
    plus positions, and a masked-LM head (Linear, activation, LayerNorm, then the tied output layer with a bias)
    that predicts the tokens hidden by ``mask_tokens``. ``encode`` gives the representations for probes and
    fine-tuning."""

    def __init__(self, config: MaskedLMConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        c = self.config = config
        self.token_embedding = _embedding(c.vocab_size, c.d_model, generator)
        self.positions = _Positions(c.positional, c.d_model, c.num_heads, c.max_len, True, generator)
        self.embedding_norm = nn.LayerNorm(c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.layers = _encoder_layers(c, generator)
        self.norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.head_transform = nn.Linear(c.d_model, c.d_model)
        self.head_norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size)
        nn.init.zeros_(self.head.bias)
        if c.tie_weights:
            self.head.weight = self.token_embedding.weight

    def encode(self, ids: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """Contextual representations (N, T, D); ``key_padding_mask`` (N, T) True marks padding."""
        t = ids.shape[1]
        x = self.dropout(self.embedding_norm(self.positions.embed(self.token_embedding(ids), 0)))
        mask, _ = self.positions.mask(t, t, 0, causal=False)
        for layer in self.layers:
            x = layer(x, mask, key_padding_mask, rotary=self.positions.rotary)
        return self.norm(x)

    def forward(self, ids: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        h = self.encode(ids, key_padding_mask)
        act = F.gelu if self.config.activation == "gelu" else F.relu
        return self.head(self.head_norm(act(self.head_transform(h))))


def mask_tokens(
    ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    probability: float = 0.15,
    *,
    special_ids: tuple[int, ...] = (),
    ignore_index: int = -100,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masking (Devlin et al. 2019; UDL section 12.6.1): each token (except ``special_ids``) is chosen with
    ``probability``; a chosen token becomes the mask token 80% of the time, a uniformly random token 10%, itself
    10%. Returns (inputs, labels) with labels = ``ignore_index`` where nothing is predicted."""
    if not 0.0 < probability <= 1.0:
        raise ValueError(f"probability must be in (0, 1], got {probability}")
    u = torch.rand(ids.shape, generator=generator, device=ids.device)
    chosen = u < probability
    for s in special_ids:
        chosen &= ids != s
    action = torch.rand(ids.shape, generator=generator, device=ids.device)
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator, device=ids.device)
    inputs = torch.where(chosen & (action < 0.8), torch.full_like(ids, mask_token_id), ids)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    labels = torch.where(chosen, ids, torch.full_like(ids, ignore_index))
    return inputs, labels


def use_local_global_attention(model: nn.Module, window: int, num_global: int = 0) -> nn.Module:
    """Give every ``TransformerEncoderLayer`` in ``model`` local + global sparse self-attention
    (``udl.nn.LocalGlobalAttention``: a band of half-width ``window`` plus ``num_global`` global tokens, UDL
    section 12.10) with its current weights, in place; returns ``model``. Position biases (ALiBi, relative) need
    the dense mask, so models with them are refused."""
    for m in model.modules():
        if isinstance(m, _Positions) and m.bias is not None:
            raise ValueError(
                f"positional={m.kind!r} adds a dense score bias; local attention supports the others"
            )
    for layer in model.modules():
        if isinstance(layer, TransformerEncoderLayer) and not isinstance(
            layer.self_attn, LocalGlobalAttention
        ):
            old = layer.self_attn
            new = LocalGlobalAttention(
                old.embed_dim,
                old.num_heads,
                window,
                num_global,
                bias=old.in_proj_bias is not None,
                batch_first=old.batch_first,
                device=old.out_proj.weight.device,
                dtype=old.out_proj.weight.dtype,
            )
            new.load_state_dict(old.state_dict())
            layer.self_attn = new
    return model


@dataclass(frozen=True)
class Seq2SeqConfig:
    source_vocab_size: int
    """number of source token ids"""
    target_vocab_size: int
    """number of target token ids"""
    max_len: int = 256
    """longest source or target for absolute encodings"""
    d_model: int = 128
    """width D of every token's representation"""
    num_heads: int = 4
    """attention heads H per layer"""
    num_encoder_layers: int = 3
    """encoder layers"""
    num_decoder_layers: int = 3
    """decoder layers"""
    dim_feedforward: int | None = None
    """hidden width of the per-token network (None: 4·d_model)"""
    dropout: float = 0.0
    """dropout rate on embeddings, attention weights and residual branches"""
    positional: Positional = "sinusoidal"
    """position encoding of both stacks (Vaswani et al.: sinusoidal)"""
    norm_first: bool = True
    """pre-LN when True, post-LN (Vaswani et al.) when False"""
    tie_weights: bool = True
    """the decoder's output layer reuses its input embedding"""
    activation: Literal["relu", "gelu"] = "relu"
    """activation of the per-token network"""

    def __post_init__(self) -> None:
        for name in ("source_vocab_size", "target_vocab_size", "num_encoder_layers", "num_decoder_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        _check_common(self, "max_len")


class EncoderDecoderTransformer(nn.Module):
    """The encoder-decoder transformer (UDL section 12.8, fig. 12.13; Vaswani et al. 2017): the encoder maps the
    source to memory; each decoder layer runs causal self-attention on the target so far, cross-attention to the
    memory and the per-token network. ``forward(source, target_in)`` -> logits (N, T, V_target) (teacher
    forcing); ``bind(source)`` gives the incremental decoder ``udl.text.generate`` drives."""

    def __init__(self, config: Seq2SeqConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        c = self.config = config
        ff = c.dim_feedforward or 4 * c.d_model
        common: dict[str, Any] = {
            "dropout": c.dropout,
            "activation": c.activation,
            "batch_first": True,
            "norm_first": c.norm_first,
            "generator": generator,
        }
        self.source_embedding = _embedding(c.source_vocab_size, c.d_model, generator)
        self.target_embedding = _embedding(c.target_vocab_size, c.d_model, generator)
        self.source_positions = _Positions(c.positional, c.d_model, c.num_heads, c.max_len, True, generator)
        self.target_positions = _Positions(c.positional, c.d_model, c.num_heads, c.max_len, False, generator)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(
            TransformerEncoderLayer(c.d_model, c.num_heads, ff, **common) for _ in range(c.num_encoder_layers)
        )
        self.decoder = nn.ModuleList(
            TransformerDecoderLayer(c.d_model, c.num_heads, ff, **common) for _ in range(c.num_decoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.head = nn.Linear(c.d_model, c.target_vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.target_embedding.weight
        else:
            nn.init.normal_(self.head.weight, std=0.02, generator=generator)

    def encode(self, source: Tensor, source_key_padding_mask: Tensor | None = None) -> Tensor:
        """The memory (N, S, D)."""
        s = source.shape[1]
        p = self.source_positions
        x = self.dropout(p.embed(self.source_embedding(source), 0))
        mask, _ = p.mask(s, s, 0, causal=False)
        for layer in self.encoder:
            x = layer(x, mask, source_key_padding_mask, rotary=p.rotary)
        return self.encoder_norm(x)

    def decode(
        self,
        target: Tensor,
        memory: Tensor,
        memory_key_padding_mask: Tensor | None = None,
        kv_cache: TransformerCache | None = None,
    ) -> Tensor:
        """Next-token logits (N, T, V) for the target tokens so far (all of them, or the new ones with a cache)."""
        offset = 0 if kv_cache is None else kv_cache.length
        t = target.shape[1]
        p = self.target_positions
        x = self.dropout(p.embed(self.target_embedding(target), offset))
        mask, causal = p.mask(t, offset + t, offset, causal=True)
        for i, layer in enumerate(self.decoder):
            cache = (
                None
                if kv_cache is None or kv_cache.cross_attn is None
                else (kv_cache.self_attn[i], kv_cache.cross_attn[i])
            )
            x = layer(
                x, memory, mask, None, None, memory_key_padding_mask, causal, kv_cache=cache, rotary=p.rotary
            )
        return self.head(self.decoder_norm(x))

    def forward(
        self, source: Tensor, target: Tensor, source_key_padding_mask: Tensor | None = None
    ) -> Tensor:
        return self.decode(target, self.encode(source, source_key_padding_mask), source_key_padding_mask)

    def bind(self, source: Tensor, source_key_padding_mask: Tensor | None = None) -> BoundDecoder:
        """The decoder conditioned on ``source`` (encoded once), as a language model over target ids."""
        return BoundDecoder(self, self.encode(source, source_key_padding_mask), source_key_padding_mask)


class BoundDecoder:
    """An encoder-decoder's decoder with its memory fixed: ``(ids, kv_cache=None) -> logits`` and
    ``new_cache(batch_size)``, the protocol of ``udl.text.generate``. A batch of ``k·N`` rows (beams) uses the
    memory of source row ``i // k``."""

    def __init__(self, model: EncoderDecoderTransformer, memory: Tensor, padding: Tensor | None) -> None:
        self.model, self.memory, self.padding = model, memory, padding

    def _expand(self, batch_size: int) -> tuple[Tensor, Tensor | None]:
        n = self.memory.shape[0]
        if batch_size % n:
            raise ValueError(f"batch of {batch_size} rows for {n} source rows: must be a multiple")
        k = batch_size // n
        pad = None if self.padding is None else self.padding.repeat_interleave(k, 0)
        return self.memory.repeat_interleave(k, 0), pad

    def new_cache(self, batch_size: int) -> TransformerCache:
        memory, pad = self._expand(batch_size)
        return TransformerCache(len(self.model.decoder), memory, pad)

    def __call__(self, ids: Tensor, kv_cache: TransformerCache | None = None) -> Tensor:
        if kv_cache is None:
            memory, pad = self._expand(ids.shape[0])
        else:
            if kv_cache.memory is None:
                raise ValueError("this cache holds no memory: make it with new_cache()")
            memory, pad = kv_cache.memory, kv_cache.memory_key_padding_mask
        return self.model.decode(ids, memory, pad, kv_cache)
