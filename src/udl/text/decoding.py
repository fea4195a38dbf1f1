"""Decoding an autoregressive model (UDL section 12.7.3): greedy, beam search with a length penalty, and sampling
with a temperature, top-k or nucleus (top-p) truncation, all behind one ``generate``.

A model is anything with ``model(ids, kv_cache=None) -> logits (N, T, V)`` and ``model.new_cache(batch_size)``
whose cache has ``reorder(index)``: ``udl.models.DecoderLM`` and ``EncoderDecoderTransformer.bind(source)``.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import torch
from torch import Tensor

__all__ = ["STRATEGIES", "beam_search", "filter_logits", "generate", "next_token"]

Strategy = Literal["greedy", "sample", "top_k", "top_p", "beam"]
STRATEGIES: tuple[str, ...] = ("greedy", "sample", "top_k", "top_p", "beam")
"""the decoding strategies ``generate`` knows"""


class IncrementalLM(Protocol):
    def __call__(self, ids: Tensor, kv_cache: Any = None) -> Tensor: ...

    def new_cache(self, batch_size: int) -> Any: ...


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Logits with −inf outside the kept set: the ``top_k`` largest (ties at the k-th value kept), and/or the
    nucleus, the smallest set of most probable tokens whose probability reaches ``top_p`` (Holtzman et al. 2020)."""
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        p = sorted_logits.softmax(-1)
        before = p.cumsum(-1) - p  # probability of the tokens ranked above each one
        drop_sorted = before >= top_p  # a token is kept while the set above it has not reached top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_token(
    logits: Tensor,
    strategy: Strategy = "greedy",
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token per row of (N, V) logits: the argmax (greedy) or a draw from Softmax[logits/temperature]
    restricted to the top-k or nucleus set and renormalized."""
    if strategy == "greedy":
        return logits.argmax(-1)
    if strategy not in ("sample", "top_k", "top_p"):
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if strategy == "top_k" and top_k is None:
        raise ValueError("strategy='top_k' needs top_k")
    if strategy == "top_p" and top_p is None:
        raise ValueError("strategy='top_p' needs top_p")
    scaled = filter_logits(
        logits / temperature, top_k if strategy == "top_k" else None, top_p if strategy == "top_p" else None
    )
    probs = (
        scaled.float().softmax(-1) if scaled.dtype in (torch.float16, torch.bfloat16) else scaled.softmax(-1)
    )
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _step(model: IncrementalLM, seq: Tensor, new: Tensor, cache: Any) -> Tensor:
    """Last-position logits: the new tokens through the cache, or the whole sequence recomputed."""
    return (model(new, kv_cache=cache) if cache is not None else model(seq))[:, -1]


def _keep_better(
    best: Tensor,
    best_score: Tensor,
    prefixes: Tensor,
    scores: Tensor,
    token: Tensor,
    penalty: float,
    pad: int,
) -> None:
    """Hypotheses finishing now, one per row (prefix (N, t) + token, total log-probability ``scores``): where
    Σ log p / length^penalty beats the best finished one so far, it replaces it (in place)."""
    length = prefixes.shape[1] + 1
    penalized = scores / float(length) ** penalty
    better = penalized > best_score
    if better.any():
        rest = prefixes.new_full((prefixes.shape[0], best.shape[1] - length), pad)
        row = torch.cat([prefixes, token.unsqueeze(1), rest], 1)
        best[better] = row[better]
        best_score[better] = penalized[better]


@torch.no_grad()
def beam_search(
    model: IncrementalLM,
    prompt: Tensor,
    max_new_tokens: int,
    num_beams: int = 4,
    *,
    length_penalty: float = 1.0,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    use_cache: bool = True,
) -> tuple[Tensor, Tensor]:
    """Beam search: keep the ``num_beams`` highest log-probability continuations per row; a hypothesis that emits
    ``eos_token_id`` is finished, and at the end the best finished one by score = Σ log p / length^length_penalty
    (length = generated tokens, EOS included; hypotheses still open at ``max_new_tokens`` compete too) wins.
    Returns (sequences (N, T0 + max_new_tokens) padded after EOS with ``pad_token_id``, scores (N,))."""
    n = prompt.shape[0]
    k = num_beams
    pad = pad_token_id if pad_token_id is not None else (eos_token_id if eos_token_id is not None else 0)
    rows = prompt.repeat_interleave(k, 0)  # (N·K, T0): row b·K + j is beam j of prompt b
    cache = model.new_cache(n * k) if use_cache else None
    logp = _step(model, rows, rows, cache).log_softmax(-1)  # (N·K, V)
    v = logp.shape[-1]
    scores = torch.full((n, k), float("-inf"), dtype=logp.dtype, device=logp.device)
    scores[:, 0] = 0.0  # one live beam at first: the others would duplicate it
    generated = prompt.new_empty(n * k, 0)
    best_score = torch.full((n,), float("-inf"), dtype=logp.dtype, device=logp.device)
    best = prompt.new_full((n, max_new_tokens), pad)
    base = torch.arange(n, device=prompt.device).unsqueeze(1) * k  # (N, 1)
    for t in range(max_new_tokens):
        cand = scores.unsqueeze(-1) + logp.view(n, k, v)  # (N, K, V) total log-probabilities

        if eos_token_id is not None:
            eos_scores, eos_beam = cand[:, :, eos_token_id].max(-1)
            eos = torch.full_like(eos_beam, eos_token_id)
            _keep_better(
                best, best_score, generated[base[:, 0] + eos_beam], eos_scores, eos, length_penalty, pad
            )
            cand[:, :, eos_token_id] = float("-inf")
        top, index = cand.view(n, k * v).topk(k, dim=-1)  # (N, K) the best open continuations
        beam, token = index // v, index % v
        if t == max_new_tokens - 1:  # open hypotheses at the length limit compete as they are
            prefixes = generated[base[:, 0] + beam[:, 0]]
            _keep_better(best, best_score, prefixes, top[:, 0], token[:, 0], length_penalty, pad)
            break
        if torch.isinf(top).all():
            break
        parents = (base + beam).flatten()  # (N·K,) the rows each survivor extends
        generated = torch.cat([generated[parents], token.flatten().unsqueeze(1)], 1)
        rows = torch.cat([rows[parents], token.flatten().unsqueeze(1)], 1)
        scores = top
        if cache is not None:
            cache.reorder(parents)
        logp = _step(model, rows, rows[:, -1:], cache).log_softmax(-1)
    return torch.cat([prompt, best], 1), best_score


@torch.no_grad()
def generate(
    model: IncrementalLM,
    prompt: Tensor,
    max_new_tokens: int,
    strategy: Strategy = "greedy",
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    num_beams: int = 4,
    length_penalty: float = 1.0,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue each row of ``prompt`` (N, T0) by up to ``max_new_tokens`` tokens -> (N, T0 + max_new_tokens).

    ``strategy``: "greedy" (argmax), "sample" (from Softmax[logits/temperature]), "top_k", "top_p" (sampling
    restricted to the k most probable tokens or to the nucleus of probability ``top_p``, renormalized), or "beam"
    (``beam_search`` with ``num_beams`` and ``length_penalty``). After a row emits ``eos_token_id`` it is padded
    with ``pad_token_id`` (default: the EOS id). ``use_cache=False`` recomputes the whole sequence every step (the
    same tokens, slower: the reference the KV cache is checked against). Sampling draws from ``generator``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if prompt.dim() != 2 or prompt.shape[1] < 1 or prompt.dtype != torch.long:
        raise ValueError(
            f"prompt must be a (N, T0 >= 1) tensor of token ids (torch.long), got {tuple(prompt.shape)}"
        )
    if strategy == "beam":
        if num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {num_beams}")
        return beam_search(
            model,
            prompt,
            max_new_tokens,
            num_beams,
            length_penalty=length_penalty,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            use_cache=use_cache,
        )[0]
    pad = pad_token_id if pad_token_id is not None else (eos_token_id if eos_token_id is not None else 0)
    n = prompt.shape[0]
    cache = model.new_cache(n) if use_cache else None
    seq = prompt
    logits = _step(model, seq, seq, cache)
    done = torch.zeros(n, dtype=torch.bool, device=prompt.device)
    out = []
    for t in range(max_new_tokens):
        token = next_token(
            logits, strategy, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
        )
        if eos_token_id is not None:
            token = torch.where(done, torch.full_like(token, pad), token)
            done = done | (token == eos_token_id)
        out.append(token)
        if t == max_new_tokens - 1 or bool(done.all()):
            break
        seq = torch.cat([seq, token.unsqueeze(1)], 1)
        logits = _step(model, seq, token.unsqueeze(1), cache)
    result = torch.cat([prompt, torch.stack(out, 1)], 1)
    if result.shape[1] < prompt.shape[1] + max_new_tokens:  # every row finished early
        result = torch.cat(
            [result, result.new_full((n, prompt.shape[1] + max_new_tokens - result.shape[1]), pad)], 1
        )
    return result
