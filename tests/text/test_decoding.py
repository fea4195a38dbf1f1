"""Decoding: beam search equals brute force over every sequence of a tiny vocabulary, top-k / nucleus sampling
never leave their sets and match the renormalized probabilities (chi-square, seeded), the KV cache gives the
same tokens as recomputation."""

from __future__ import annotations

import itertools

import pytest
import torch
from scipy import stats

from udl.models import DecoderLM, DecoderLMConfig
from udl.text import beam_search, filter_logits, generate, next_token

F64 = torch.float64
G = torch.Generator


def _model(vocab: int = 4, seed: int = 0) -> DecoderLM:
    cfg = DecoderLMConfig(vocab_size=vocab, context_length=16, d_model=8, num_heads=2, num_layers=2)
    model = DecoderLM(cfg, generator=G().manual_seed(seed)).double().eval()
    with torch.no_grad():  # sharpen the tiny model's distributions so that strategies disagree
        model.token_embedding.weight.mul_(40)
    return model


class _TableLM:
    """A toy LM whose next-token logits are a random table of (position, last two tokens): diverse distributions,
    so greedy, beams and the length penalty disagree. Its cache holds the tokens so far."""

    class Cache:
        def __init__(self) -> None:
            self.ids: torch.Tensor | None = None

        def reorder(self, index: torch.Tensor) -> None:
            assert self.ids is not None
            self.ids = self.ids[index]

    def __init__(self, vocab: int, seed: int) -> None:
        self.table = 1.5 * torch.randn(16, vocab, vocab, vocab, generator=G().manual_seed(seed), dtype=F64)
        self.config = DecoderLMConfig(vocab_size=vocab)

    def new_cache(self, batch_size: int) -> _TableLM.Cache:
        return self.Cache()

    def __call__(self, ids: torch.Tensor, kv_cache: _TableLM.Cache | None = None) -> torch.Tensor:
        if kv_cache is not None:
            kv_cache.ids = ids if kv_cache.ids is None else torch.cat([kv_cache.ids, ids], 1)
            full = kv_cache.ids
        else:
            full = ids
        prev = torch.cat([full.new_zeros(full.shape[0], 1), full[:, :-1]], 1)
        pos = torch.arange(full.shape[1]).expand_as(full)
        return self.table[pos, prev, full][:, -ids.shape[1] :]


def _brute_force(model, prompt, n_new, eos, length_penalty):
    """The best sequence by Σ log p / length^α over all continuations that end at EOS or at n_new tokens."""
    v = model.config.vocab_size
    seqs = torch.tensor(list(itertools.product(range(v), repeat=n_new)))  # (V^n, n)
    ids = torch.cat([prompt.expand(len(seqs), -1), seqs], 1)
    with torch.no_grad():
        logp = model(ids[:, :-1]).log_softmax(-1)[:, prompt.shape[1] - 1 :]  # (V^n, n, V)
    token_logp = logp.gather(-1, seqs.unsqueeze(-1)).squeeze(-1).cumsum(1)  # (V^n, n)
    best, best_seq = float("-inf"), None
    for row in range(len(seqs)):
        for length in range(1, n_new + 1):
            if eos in seqs[row, : length - 1].tolist():
                break
            if seqs[row, length - 1] == eos or length == n_new:
                score = float(token_logp[row, length - 1]) / length**length_penalty
                if score > best + 1e-12:
                    best, best_seq = score, seqs[row, :length].tolist()
    return best, best_seq


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("seed", range(6))
def test_beam_search_equals_brute_force(length_penalty, seed):
    model, n_new, eos = _TableLM(4, seed), 5, 0
    prompt = torch.tensor([[1, 2]])
    out, score = beam_search(
        model, prompt, n_new, num_beams=4**n_new, length_penalty=length_penalty, eos_token_id=eos
    )
    best, best_seq = _brute_force(model, prompt, n_new, eos, length_penalty)
    assert float(score) == pytest.approx(best, abs=1e-10)
    got = out[0, 2:].tolist()
    assert got[: len(best_seq)] == best_seq and all(t == eos for t in got[len(best_seq) :])


def test_the_brute_force_cases_are_not_trivial():
    """On the toy table greedy misses the optimum, a narrow beam misses it, and the penalty changes it."""
    model, prompt = _TableLM(4, 3), torch.tensor([[1, 2]])
    best0 = _brute_force(model, prompt, 5, 0, 0.0)[1]
    best1 = _brute_force(model, prompt, 5, 0, 1.0)[1]
    assert best0 != best1
    assert generate(model, prompt, 5, eos_token_id=0)[0, 2 : 2 + len(best0)].tolist() != best0
    narrow = generate(model, prompt, 5, "beam", num_beams=2, length_penalty=1.0, eos_token_id=0)
    assert narrow[0, 2:].tolist() != best1


def test_beam_search_is_batched_and_cache_free_agrees():
    model = _model(5, 3)
    prompt = torch.tensor([[1, 2], [3, 3], [4, 1]])
    a, sa = beam_search(model, prompt, 5, 3, eos_token_id=0)
    b, sb = beam_search(model, prompt, 5, 3, eos_token_id=0, use_cache=False)
    assert torch.equal(a, b)
    torch.testing.assert_close(sa, sb, rtol=0, atol=1e-12)
    for i in range(3):  # each row as if alone
        c, _ = beam_search(model, prompt[i : i + 1], 5, 3, eos_token_id=0)
        assert torch.equal(c[0], a[i])


def test_one_beam_without_eos_is_greedy():
    model = _model(5, 4)
    prompt = torch.tensor([[1, 2, 3]])
    assert torch.equal(generate(model, prompt, 6, "beam", num_beams=1), generate(model, prompt, 6))


def test_greedy_is_the_argmax_chain_and_the_cache_changes_nothing():
    model = _model(6, 5)
    prompt = torch.tensor([[1, 2], [2, 5]])
    out = generate(model, prompt, 7)
    seq = prompt
    for _ in range(7):
        seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq)
    assert torch.equal(generate(model, prompt, 7, use_cache=False), out)
    for strategy, kw in [
        ("sample", {"temperature": 1.5}),
        ("top_k", {"top_k": 3}),
        ("top_p", {"top_p": 0.8}),
    ]:
        a = generate(model, prompt, 7, strategy, generator=G().manual_seed(0), **kw)
        b = generate(model, prompt, 7, strategy, generator=G().manual_seed(0), use_cache=False, **kw)
        assert torch.equal(a, b), strategy


def test_eos_pads_the_rest():
    model = _model(4, 6)
    prompt = torch.tensor([[1, 2]] * 50)
    out = generate(
        model,
        prompt,
        8,
        "sample",
        temperature=3.0,
        eos_token_id=0,
        pad_token_id=3,
        generator=G().manual_seed(1),
    )
    for row in out[:, 2:].tolist():
        if 0 in row:
            assert all(t == 3 for t in row[row.index(0) + 1 :])
    assert (out[:, 2:] == 0).any()


LOGITS = torch.tensor([2.0, 1.5, 1.4, 0.3, 0.0, -0.5, -1.0, -3.0], dtype=F64)


def _nucleus_reference(probs: list[float], top_p: float) -> set[int]:
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, total = set(), 0.0
    for i in order:
        kept.add(i)
        total += probs[i]
        if total >= top_p:
            break
    return kept


@pytest.mark.parametrize(
    ("strategy", "kw"),
    [
        ("top_k", {"top_k": 3}),
        ("top_k", {"top_k": 5, "temperature": 0.7}),
        ("top_p", {"top_p": 0.6}),
        ("top_p", {"top_p": 0.9, "temperature": 2.0}),
        ("sample", {"temperature": 1.3}),
    ],
)
def test_sampling_stays_in_its_set_and_matches_renormalized_probabilities(strategy, kw):
    t = kw.get("temperature", 1.0)
    probs = (LOGITS / t).softmax(-1)
    if strategy == "top_k":
        allowed = set(probs.argsort(descending=True)[: kw["top_k"]].tolist())
    elif strategy == "top_p":
        allowed = _nucleus_reference(probs.tolist(), kw["top_p"])
    else:
        allowed = set(range(8))
    draws = next_token(LOGITS.expand(40000, -1), strategy, generator=G().manual_seed(7), **kw)
    assert set(draws.unique().tolist()) <= allowed
    counts = torch.bincount(draws, minlength=8)
    idx = sorted(allowed)
    expected = probs[idx] / probs[idx].sum() * len(draws)
    assert stats.chisquare(counts[idx].double().numpy(), expected.numpy()).pvalue > 1e-3


def test_filter_logits_sets():
    kept = filter_logits(LOGITS, top_p=0.5).isfinite()
    assert set(kept.nonzero().flatten().tolist()) == _nucleus_reference(LOGITS.softmax(-1).tolist(), 0.5)
    assert filter_logits(LOGITS, top_p=1.0).isfinite().all()
    assert filter_logits(LOGITS, top_k=1).isfinite().sum() == 1


def test_bad_input():
    model = _model()
    prompt = torch.tensor([[1]])
    with pytest.raises(ValueError, match="strategy"):
        generate(model, prompt, 3, "nucleus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        generate(model, prompt, 3, "top_k")
    with pytest.raises(ValueError, match="top_p"):
        generate(model, prompt, 3, "top_p", top_p=1.5)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, prompt, 3, "sample", temperature=0.0)
    with pytest.raises(ValueError, match="prompt"):
        generate(model, torch.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, prompt, 0)
