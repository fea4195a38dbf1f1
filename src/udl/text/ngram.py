"""N-gram language models over bytes or tokens: add-k smoothing and interpolated Kneser–Ney, orders 1–5.

An n-gram model predicts each symbol from the n − 1 before it, Pr(x_t | x_{t−n+1} … x_{t−1}), the autoregressive
factorization Pr(x_1 … x_T) = Π_t Pr(x_t | x_{<t}) that the book's decoder models (section 12.7) also use, with
the history cut to n − 1 symbols. It is the baseline a transformer language model has to beat.

Smoothing (Chen & Goodman, 1999), with c(h, w) the count of n-gram (h, w) in the training sequence and
c(h) = Σ_w c(h, w):

- *add-k*: Pr(w | h) = (c(h, w) + k) / (c(h) + kV), V the vocabulary size (k = 1 is Laplace's rule);
- *interpolated Kneser–Ney*: Pr(w | h) = max(c(h, w) − D, 0) / c(h) + D · N₁₊(h •) / c(h) · Pr(w | h′), h′ the
  history without its oldest symbol, N₁₊(h •) the number of distinct w seen after h. Below the top order the
  counts c are *continuation* counts N₁₊(• h′ w), the number of distinct symbols seen before h′ w, and order 1
  interpolates with the uniform 1/V. D = n₁ / (n₁ + 2n₂) per order (n_r: n-grams with count r), clipped to
  [0.05, 0.95]. An unseen history h passes all its mass to Pr(w | h′).

Both distributions sum to 1 over the V symbols for every history (tests check it). The first n − 1 symbols of a
sequence are predicted from the shorter histories they have (the lower-order models).

Counting is vectorized: the n-grams of a sequence are the rows of ``tokens.unfold(0, n, 1)``, each packed into
one int64 key Σ_j x_j V^{n−1−j} (so V^n must stay below 2^62), counted with ``torch.unique``; lookups are
``torch.searchsorted`` into the sorted keys. Everything is float64.

The score is :func:`bits_per_byte`: the negative log-likelihood (UDL eq. 5.4; for a categorical output the
multiclass cross-entropy, eq. 5.24) of a held-out text, in bits, divided by its length in UTF-8 bytes. It does
not depend on the tokenization, so a byte model, a BPE model and a transformer can be compared on one scale.

Example:
    >>> import torch
    >>> x = torch.tensor(list(b"abracadabra " * 50))
    >>> lm = NGramLM(3, 256).fit(x)
    >>> round(float(lm.next_token_probs(torch.tensor(list(b"ab"))).sum()), 12)
    1.0
    >>> bits_per_byte(-lm.log_prob(x).sum(), x.numel()) < 0.2
    True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

__all__ = ["NGramCandidate", "NGramLM", "NGramSelection", "best_ngram", "bits_per_byte"]

Smoothing = Literal["kneser_ney", "add_k"]
SMOOTHINGS: tuple[Smoothing, ...] = ("kneser_ney", "add_k")


def bits_per_byte(nll: Tensor | float, num_bytes: int) -> float:
    """Cross-entropy in bits per byte: a total negative log-likelihood in nats (or per-symbol NLLs, summed)
    over a text of ``num_bytes`` UTF-8 bytes, divided by ln 2 · num_bytes.

    With per-token losses ``-log Pr(x_t | x_<t)`` (UDL eq. 5.4 / 5.24, e.g. ``F.cross_entropy(...,
    reduction="sum")`` of a language model) this is the number the n-gram baselines and transformers compare.
    """
    if num_bytes < 1:
        raise ValueError(f"num_bytes must be >= 1, got {num_bytes}")
    total = float(nll.sum()) if isinstance(nll, Tensor) else float(nll)
    return total / (math.log(2) * num_bytes)


def _lookup(keys: Tensor, values: Tensor, query: Tensor) -> Tensor:
    """values[i] where keys[i] == query, 0 where the query is absent (keys sorted, unique)."""
    if keys.numel() == 0:
        return torch.zeros(query.shape, dtype=values.dtype)
    idx = torch.searchsorted(keys, query).clamp_(max=keys.numel() - 1)
    return torch.where(keys[idx] == query, values[idx], torch.zeros((), dtype=values.dtype))


@dataclass
class _Level:
    """The counts of one order m: sorted m-gram keys and their counts; their histories' totals and types."""

    keys: Tensor
    counts: Tensor  # float64
    ctx_keys: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    ctx_total: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.float64))
    ctx_types: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.float64))
    discount: float = 0.0

    def with_contexts(self, vocab_size: int) -> _Level:
        ctx, inverse, types = torch.unique_consecutive(
            self.keys // vocab_size, return_inverse=True, return_counts=True
        )
        total = torch.zeros(ctx.numel(), dtype=torch.float64).index_add_(0, inverse, self.counts)
        self.ctx_keys, self.ctx_total, self.ctx_types = ctx, total, types.double()
        n1, n2 = float((self.counts == 1).sum()), float((self.counts == 2).sum())
        self.discount = min(max(n1 / (n1 + 2 * n2), 0.05), 0.95) if n1 + n2 > 0 else 0.5
        return self


class NGramLM:
    """An n-gram language model over symbols 0..V−1 (bytes: V = 256; BPE tokens: V = vocabulary size).

    Args:
        order: n, in 1..8 (1: unigram); V^n must be below 2^62.
        vocab_size: V, >= 2.
        smoothing: ``"kneser_ney"`` (interpolated) or ``"add_k"``.
        k: the pseudo-count of add-k, > 0 (ignored by Kneser–Ney).
    """

    def __init__(
        self, order: int, vocab_size: int, smoothing: Smoothing = "kneser_ney", k: float = 1.0
    ) -> None:
        if not 1 <= order <= 8:
            raise ValueError(f"order must be in 1..8, got {order}")
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if vocab_size**order >= 2**62:
            raise ValueError(f"vocab_size**order must be < 2**62 for int64 keys, got {vocab_size}**{order}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {smoothing!r}; choose one of {SMOOTHINGS}")
        if not (k > 0 and math.isfinite(k)):
            raise ValueError(f"k must be a finite number > 0, got {k}")
        self.order, self.vocab_size, self.smoothing, self.k = order, vocab_size, smoothing, float(k)
        self._levels: list[_Level] = []
        self._powers = vocab_size ** torch.arange(order - 1, -1, -1, dtype=torch.long)  # V^{n−1} … V^0

    def _check(self, tokens: Tensor, what: str) -> Tensor:
        if tokens.dim() != 1 or tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(
                f"{what} must be a 1-D integer tensor, got {tokens.dtype} of shape {tuple(tokens.shape)}"
            )
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(f"{what} must hold symbols in [0, {self.vocab_size})")
        return tokens.long().cpu()

    def fit(self, tokens: Tensor) -> NGramLM:
        """Count the n-grams of all orders of the training sequence ``tokens`` (1-D, values in [0, V))."""
        x = self._check(tokens, "tokens")
        if x.numel() < self.order:
            raise ValueError(f"need at least order={self.order} training symbols, got {x.numel()}")
        raw = []
        for m in range(1, self.order + 1):
            keys = (x.unfold(0, m, 1) * self._powers[-m:]).sum(1)  # (T − m + 1,) packed m-grams
            k, c = torch.unique(keys, return_counts=True)
            raw.append(_Level(k, c.double()))
        levels = raw
        if self.smoothing == "kneser_ney":  # below the top order: continuation counts N₁₊(• h′ w)
            levels = []
            for m in range(1, self.order):
                suffixes, c = torch.unique(raw[m].keys % self.vocab_size**m, return_counts=True)
                levels.append(_Level(suffixes, c.double()))
            levels.append(raw[-1])
        self._levels = [lvl.with_contexts(self.vocab_size) for lvl in levels]
        return self

    def _prob_last(self, windows: Tensor) -> Tensor:
        """Pr(last symbol | the others) for each row of ``windows`` (B, L), L <= order, float64 (B,)."""
        if not self._levels:
            raise RuntimeError("call fit() before computing probabilities")
        length, v = windows.shape[1], self.vocab_size
        key = windows[:, -1].clone()
        p = torch.full(key.shape, 1.0 / v, dtype=torch.float64)
        for m in range(1, length + 1):
            lvl = self._levels[m - 1]
            if m > 1:
                key = key + windows[:, length - m] * v ** (m - 1)  # prepend the next older symbol
            ctx = key // v
            c = _lookup(lvl.keys, lvl.counts, key)
            total = _lookup(lvl.ctx_keys, lvl.ctx_total, ctx) if m > 1 else lvl.counts.sum().expand(key.shape)
            seen = total > 0
            safe = total.clamp(min=1.0)
            if self.smoothing == "add_k":  # no interpolation: the longest history available decides
                p = (c + self.k) / (total + self.k * v)
            else:
                types = _lookup(lvl.ctx_keys, lvl.ctx_types, ctx) if m > 1 else float(lvl.keys.numel())
                d = lvl.discount
                p = torch.where(seen, (c - d).clamp(min=0) / safe + d * types / safe * p, p)
        return p

    def next_token_probs(self, context: Tensor) -> Tensor:
        """Pr(w | context) for every symbol w, a (V,) float64 tensor summing to 1 (uses the last n − 1 symbols)."""
        ctx = self._check(context, "context")[max(0, context.numel() - self.order + 1) :]
        w = torch.arange(self.vocab_size)
        return self._prob_last(torch.cat([ctx.expand(self.vocab_size, -1), w[:, None]], dim=1))

    def log_prob(self, tokens: Tensor) -> Tensor:
        """log Pr(x_t | x_{t−n+1} … x_{t−1}) (natural log) of every symbol of ``tokens``, (T,) float64; the
        first n − 1 symbols use the shorter histories they have."""
        x = self._check(tokens, "tokens")
        first = [self._prob_last(x[None, : t + 1]) for t in range(min(self.order - 1, x.numel()))]
        rest = [self._prob_last(x.unfold(0, self.order, 1))] if x.numel() >= self.order else []
        return torch.cat([*first, *rest]).log() if x.numel() else torch.empty(0, dtype=torch.float64)


@dataclass(frozen=True)
class NGramCandidate:
    """One (smoothing, order, k) candidate of :func:`best_ngram` and its validation score."""

    smoothing: str
    order: int
    k: float | None
    """add-k's pseudo-count (None for Kneser–Ney)"""
    val_bits_per_byte: float


@dataclass(frozen=True)
class NGramSelection:
    """The outcome of :func:`best_ngram`: the chosen model and every candidate's validation score."""

    model: NGramLM
    """the candidate with the lowest validation bits per byte, fitted on the training sequence"""
    smoothing: str
    order: int
    k: float | None
    """add-k's pseudo-count (None for Kneser–Ney)"""
    val_bits_per_byte: float
    candidates: list[NGramCandidate]
    """every candidate tried, in order"""


def best_ngram(
    train: Tensor,
    val: Tensor,
    vocab_size: int = 256,
    *,
    orders: Sequence[int] = (1, 2, 3, 4, 5),
    ks: Sequence[float] = (1.0, 0.1, 0.01),
    smoothings: Sequence[Smoothing] = SMOOTHINGS,
    val_bytes: int | None = None,
) -> NGramSelection:
    """Fit every (smoothing, order, k) candidate on ``train`` and choose the one with the lowest bits per byte
    on ``val`` (the validation split: never the test split). Ties go to the earlier candidate.

    Args:
        train, val: 1-D symbol sequences (bytes, or token ids of one tokenizer).
        vocab_size: V.
        orders: n-gram orders to try; ks: add-k pseudo-counts to try (Kneser–Ney takes none).
        smoothings: which smoothings to try.
        val_bytes: UTF-8 bytes of the validation text (default: the number of validation symbols, right for
            byte sequences; pass it for token sequences).
    """
    if not orders or not ks or not smoothings:
        raise ValueError("orders, ks and smoothings must each name at least one candidate")
    if val.numel() < 1:
        raise ValueError("val must hold at least one symbol")
    num_bytes = val.numel() if val_bytes is None else val_bytes
    best: tuple[float, NGramLM, float | None] | None = None
    rows: list[NGramCandidate] = []
    for smoothing in smoothings:
        for order in orders:
            fitted = NGramLM(order, vocab_size, smoothing).fit(train)
            for k in ks if smoothing == "add_k" else (None,):
                lm = fitted
                if k is not None:  # the counts do not depend on k: share them
                    lm = copy.copy(fitted)
                    lm.k = NGramLM(order, vocab_size, smoothing, k).k  # validated
                score = bits_per_byte(-lm.log_prob(val).sum(), num_bytes)
                rows.append(NGramCandidate(smoothing, order, k, score))
                if best is None or score < best[0]:
                    best = (score, lm, k)
    assert best is not None
    score, lm, k = best
    return NGramSelection(lm, lm.smoothing, lm.order, k, score, rows)
