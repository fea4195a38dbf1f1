"""N-gram language models: equal to a dictionary-based reference of the textbook formulas, distributions that
sum to 1, bits per byte, selection on validation."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from udl.data import encode_bytes, load_text_corpus
from udl.text import NGramLM, best_ngram, bits_per_byte


def reference_prob(
    seq: list[int], n: int, vocab: int, smoothing: str, k: float, hist: tuple, w: int
) -> float:
    """Pr(w | hist) from Python dictionaries, written from Chen & Goodman's definitions."""
    counts = {m: Counter(tuple(seq[i : i + m]) for i in range(len(seq) - m + 1)) for m in range(1, n + 1)}
    if smoothing == "add_k":
        m = len(hist) + 1
        total = sum(c for g, c in counts[m].items() if g[:-1] == hist)
        return (counts[m][(*hist, w)] + k) / (total + k * vocab)
    level = {n: counts[n]}
    for m in range(1, n):  # continuation counts: distinct left neighbours of each m-gram
        level[m] = Counter(g[1:] for g in counts[m + 1])

    def discount(m: int) -> float:
        n1 = sum(1 for c in level[m].values() if c == 1)
        n2 = sum(1 for c in level[m].values() if c == 2)
        return min(max(n1 / (n1 + 2 * n2), 0.05), 0.95) if n1 + n2 else 0.5

    def p(m: int, h: tuple) -> float:
        if m == 0:
            return 1 / vocab
        same = {g: c for g, c in level[m].items() if g[:-1] == h}
        total, types = sum(same.values()), len(same)
        lower = p(m - 1, h[1:])
        if total == 0:
            return lower
        d = discount(m)
        return max(same.get((*h, w), 0) - d, 0) / total + d * types / total * lower

    return p(len(hist) + 1, hist)


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_log_prob_equals_the_dictionary_reference(smoothing: str, order: int) -> None:
    g = torch.Generator().manual_seed(order)
    vocab = 5
    base = torch.randint(0, vocab, (40,), generator=g)
    train = torch.cat([base.repeat(4), torch.randint(0, vocab, (120,), generator=g)])  # repeats and noise
    held = torch.cat([base[:15], torch.randint(0, vocab, (25,), generator=g)])  # seen and unseen histories
    lm = NGramLM(order, vocab, smoothing, k=0.3).fit(train)
    ours = lm.log_prob(held)
    seq, h = train.tolist(), held.tolist()
    expected = [
        math.log(reference_prob(seq, order, vocab, smoothing, 0.3, tuple(h[max(0, t - order + 1) : t]), h[t]))
        for t in range(len(h))
    ]
    torch.testing.assert_close(ours, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def pydoc_bytes():
    s = load_text_corpus("pydoc").split()
    return encode_bytes(s.train), encode_bytes(s.validation)


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
def test_distributions_sum_to_one_over_the_vocabulary(pydoc_bytes, smoothing: str) -> None:
    train, val = pydoc_bytes
    g = torch.Generator().manual_seed(0)
    for order in (1, 2, 3, 4, 5):
        lm = NGramLM(order, 256, smoothing, k=0.05).fit(train)
        contexts = [val[i : i + order - 1] for i in (0, 1000, 20_000)]  # seen histories
        contexts += [torch.randint(0, 256, (order - 1,), generator=g) for _ in range(3)]  # mostly unseen
        contexts += [val[:0], val[:1]]  # shorter than n − 1
        for ctx in contexts:
            p = lm.next_token_probs(ctx)
            assert p.shape == (256,) and p.dtype == torch.float64 and bool((p > 0).all())
            assert abs(float(p.sum()) - 1) < 1e-12


def test_log_prob_is_next_token_probs_at_each_position(pydoc_bytes) -> None:
    train, val = pydoc_bytes
    lm = NGramLM(4, 256).fit(train)
    x = val[:50]
    lp = lm.log_prob(x)
    for t in (0, 1, 2, 3, 10, 49):
        assert lp[t] == lm.next_token_probs(x[:t]).log()[x[t]]


def test_kneser_ney_order_5_on_pydoc_is_a_sane_baseline(pydoc_bytes) -> None:
    train, val = pydoc_bytes
    bpb = bits_per_byte(-NGramLM(5, 256).fit(train).log_prob(val).sum(), val.numel())
    assert 1.0 < bpb < 2.5  # English-like text at the byte level: far below 8 bits, far above 0


def test_bits_per_byte() -> None:
    assert bits_per_byte(100 * math.log(256), 100) == pytest.approx(8.0)  # uniform bytes: 8 bits each
    assert bits_per_byte(torch.full((10,), math.log(2)), 5) == pytest.approx(
        2.0
    )  # 10 tokens of 1 bit, 5 bytes
    uniform = NGramLM(1, 256, "add_k", k=1e6).fit(torch.arange(256))
    assert bits_per_byte(-uniform.log_prob(torch.arange(256)).sum(), 256) == pytest.approx(8.0, abs=1e-9)


def test_best_ngram_selects_on_validation() -> None:
    g = torch.Generator().manual_seed(0)
    pattern = torch.randint(0, 16, (64,), generator=g)
    train = pattern.repeat(20)
    same = best_ngram(train, pattern.repeat(2), 16, orders=(1, 3), ks=(1.0, 0.01))
    noise = best_ngram(train, torch.randint(0, 16, (500,), generator=g), 16, orders=(1, 3), ks=(1.0, 0.01))
    assert same.order == 3 and noise.order == 1  # the validation split decides
    assert len(same.candidates) == 2 + 2 * 2
    assert same.val_bits_per_byte == min(r.val_bits_per_byte for r in same.candidates)
    chosen = next(r for r in same.candidates if r.val_bits_per_byte == same.val_bits_per_byte)
    assert (chosen.smoothing, chosen.order, chosen.k) == (same.smoothing, same.order, same.k)
    for row in same.candidates:  # every score is that of a model fitted on its own
        val = pattern.repeat(2)
        fresh = NGramLM(row.order, 16, row.smoothing, row.k or 1.0).fit(train)  # type: ignore[arg-type]
        assert row.val_bits_per_byte == bits_per_byte(-fresh.log_prob(val).sum(), val.numel())
    tokens = best_ngram(train, pattern, 16, orders=(2,), ks=(0.1,), smoothings=("add_k",), val_bytes=128)
    assert tokens.val_bits_per_byte == pytest.approx(
        bits_per_byte(-tokens.model.log_prob(pattern).sum(), 128)
    )


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="order"):
        NGramLM(0, 256)
    with pytest.raises(ValueError, match="2\\*\\*62"):
        NGramLM(5, 50_000)
    with pytest.raises(ValueError, match="smoothing"):
        NGramLM(2, 256, "witten_bell")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must"):
        NGramLM(2, 256, "add_k", k=0.0)
    lm = NGramLM(2, 4)
    with pytest.raises(RuntimeError, match="fit"):
        lm.log_prob(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="symbols in"):
        lm.fit(torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="1-D integer"):
        lm.fit(torch.rand(5))
    with pytest.raises(ValueError, match="at least order"):
        NGramLM(3, 4).fit(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="num_bytes"):
        bits_per_byte(1.0, 0)
    with pytest.raises(ValueError, match="candidate"):
        best_ngram(torch.tensor([1, 2, 3]), torch.tensor([1]), 4, orders=())
