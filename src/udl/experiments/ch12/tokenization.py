"""Tokenization (UDL section 12.5.1, fig. 12.8): byte-level BPE's vocabulary size against compression, exact round
trips, and the n-gram baselines a transformer language model has to beat.

Protocol.

1. *Corpus*: the ``pydoc`` help text that ships with Python (``udl.data.load_text_corpus``; it differs between
   Python versions, so the run records the version and the text's SHA-256), cut into contiguous train /
   validation / test blocks (80 / 10 / 10 %).
2. *BPE*: one byte-level BPE (``udl.text.ByteLevelBPE``, GPT-2 pre-tokenization) trained on the training block up
   to the largest vocabulary size; each smaller size is its prefix (training is greedy; a check confirms the
   prefix equals training at that size). Compression = UTF-8 bytes per token, on the training and the
   validation block.
3. *Claims*: (a) held-out compression rises with every step up in vocabulary size (the point of merging: longer
   tokens, fewer of them); (b) frequent words become single tokens and rare words stay split (section 12.5.1):
   of the 200 most frequent word chunks of the training text at least 90% are one token at the largest size,
   and a smaller share of the words seen once than of the frequent ones.
4. *Checks*: ``decode(encode(text)) == text`` for the whole corpus at every size and for seeded random strings of
   arbitrary code points (error: the number of mismatching characters, tolerance 0); the n-gram model's
   next-symbol distributions sum to 1.
5. *N-gram baselines* (reported, no claim): byte-level add-k and interpolated Kneser–Ney models of orders 1–5,
   order and k chosen on the validation block (``udl.text.best_ngram``); validation bits per byte per order, and
   the chosen model's test bits per byte. The ``language-model`` experiment compares transformers with them.

Comparison with HF ``tokenizers``: udl's trainer learns the same merges as HF's ``BpeTrainer`` on this corpus and
so the same compression. The library and its experiments may not import reference libraries, so that claim
(:func:`same_compression_verdict`, within 1% at equal vocabulary size) is judged in
``tests/experiments/test_tokenization.py`` and printed by ``benchmarks/bpe.py``, not in this run.
"""

from __future__ import annotations

import itertools
import random
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np

from udl.checks import at_least, in_range
from udl.data import encode_bytes, load_text_corpus
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of
from udl.text import ByteLevelBPE, best_ngram, bits_per_byte, pre_tokenize

CHAPTER = 12
SECTION = "12.5"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Byte-level BPE: compression grows with vocabulary size; exact round trips; n-gram bits-per-byte baselines"
CONTEXT = (
    "Section 12.5.1: text is split into tokens from a vocabulary that compromises between letters and words. "
    "Byte pair encoding merges the most frequent adjacent pair of tokens again and again, so common words "
    "become single tokens and rare words are spelled from pieces; starting from bytes makes every string "
    "encodable."
)


@dataclass(frozen=True)
class Config:
    corpus: Literal["pydoc", "stdlib"] = "pydoc"
    """text shipped with Python: the pydoc help topics or the standard library's top-level sources"""
    stdlib_files: int = 60
    """with corpus=stdlib: how many source files (sorted by name)"""
    vocab_sizes: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    """BPE vocabulary sizes, increasing, each >= 256 (256 = bytes only)"""
    ngram_orders: tuple[int, ...] = (1, 2, 3, 4, 5)
    """byte n-gram orders to fit and choose among on validation, each in 1..7"""
    ngram_ks: tuple[float, ...] = (1.0, 0.1, 0.01)
    """add-k pseudo-counts to choose among on validation"""
    frequent_words: int = 200
    """how many of the most frequent word chunks the frequent-words claim looks at"""
    random_strings: int = 200
    """seeded random strings of arbitrary code points for the round-trip check"""
    seed: int = 0
    """seed for the random strings"""

    def __post_init__(self) -> None:
        in_range(self, ngram_ks=(0, 1e6))
        sizes = self.vocab_sizes
        if not sizes or min(sizes) < 256 or list(sizes) != sorted(set(sizes)) or max(sizes) > 1 << 20:
            raise ValueError(f"vocab_sizes must be strictly increasing integers in [256, 2**20], got {sizes}")
        orders = self.ngram_orders
        if not orders or any(not 1 <= n <= 7 for n in orders) or len(set(orders)) != len(orders):
            raise ValueError(f"ngram_orders must be distinct integers in 1..7, got {orders}")
        if not self.ngram_ks:
            raise ValueError("ngram_ks must name at least one k")
        at_least(self, 1, "stdlib_files", "frequent_words", "random_strings")


PRESETS = {
    "smoke": Config(vocab_sizes=(256, 320, 400), ngram_orders=(1, 2, 3), ngram_ks=(0.1,), random_strings=20),
    "quick": Config(),
    "full": Config(corpus="stdlib", stdlib_files=170, vocab_sizes=(256, 512, 1024, 2048, 4096, 8192, 16384)),
}


def mismatching_characters(a: str, b: str) -> int:
    """Positions where two strings differ, plus the difference of their lengths (0 iff a == b)."""
    x = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    y = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    n = min(x.size, y.size)
    return int((x[:n] != y[:n]).sum()) + abs(x.size - y.size)


def random_unicode(count: int, seed: int, max_length: int = 64) -> list[str]:
    """``count`` seeded strings of code points drawn uniformly from all of Unicode (surrogates excluded),
    mixed with ASCII, whitespace, NUL and CR LF."""
    rng = random.Random(seed)
    pool = ["a", " ", "\r\n", "\x00", "\t", "é", "🙂", "\u0301"]

    def char() -> str:
        if rng.random() < 0.4:
            return rng.choice(pool)
        c = rng.randrange(0x110000 - 0x800)
        return chr(c + 0x800 if c >= 0xD800 else c)

    return ["".join(char() for _ in range(rng.randrange(max_length + 1))) for _ in range(count)]


def compression_rises_verdict(bytes_per_token: list[float]) -> Verdict:
    """Compression (bytes per token) rises at every step up in vocabulary size (needs >= 2 sizes)."""
    if len(bytes_per_token) < 2:
        return Verdict.NOT_ESTABLISHED
    return Verdict.of(all(b > a for a, b in itertools.pairwise(bytes_per_token)))


def frequent_words_verdict(frequent_single: float, rare_single: float) -> Verdict:
    """At least 90% of the frequent words are single tokens, and rare words are single tokens less often."""
    return all_of(frequent_single >= 0.9, rare_single < frequent_single)


def same_compression_verdict(ours: list[float], reference: list[float], tolerance: float = 0.01) -> Verdict:
    """Our bytes per token are within ``tolerance`` (relative) of a reference tokenizer's at every vocabulary
    size (judged against HF ``tokenizers`` in the tests; the run cannot import it)."""
    if len(ours) != len(reference) or not ours:
        raise ValueError(f"need one value per vocabulary size in each, got {len(ours)} and {len(reference)}")
    return Verdict.of(all(abs(a / b - 1) <= tolerance for a, b in zip(ours, reference, strict=True)))


def run(cfg: Config, run: Run) -> None:
    corpus = load_text_corpus(cfg.corpus, max_files=cfg.stdlib_files if cfg.corpus == "stdlib" else None)
    splits = corpus.split()
    run.summary(corpus=corpus.name, python_version=corpus.python_version, corpus_sha256=corpus.sha256)
    train_bytes, val_bytes = len(splits.train.encode()), len(splits.validation.encode())

    # -- BPE: train once at the largest size, every smaller size is a prefix -------------------------------------
    largest = ByteLevelBPE.train(splits.train, max(cfg.vocab_sizes))
    sizes = [s for s in cfg.vocab_sizes if s <= largest.vocab_size]  # training stops when pairs run out
    strings = random_unicode(cfg.random_strings, cfg.seed)
    train_bpt, val_bpt, mismatches = [], [], 0
    with run.progress(len(sizes), "encoding at each vocabulary size") as bar:
        for i, size in enumerate(sizes):
            bpe = largest.truncated(size)
            ids = bpe.encode(corpus.text)
            mismatches += mismatching_characters(bpe.decode(ids), corpus.text)
            mismatches += sum(mismatching_characters(bpe.decode(bpe.encode(s)), s) for s in strings)
            train_bpt.append(train_bytes / len(bpe.encode(splits.train)))
            val_bpt.append(val_bytes / len(bpe.encode(splits.validation)))
            run.log(size, train_bytes_per_token=train_bpt[-1], val_bytes_per_token=val_bpt[-1])
            bar.update(i + 1, vocab=size)
    middle = sizes[len(sizes) // 2]
    retrained = ByteLevelBPE.train(splits.train, middle)
    prefix = largest.truncated(middle)
    merge_diff = sum(a != b for a, b in zip(prefix.merges, retrained.merges, strict=False))
    merge_diff += abs(len(prefix.merges) - len(retrained.merges))

    # -- frequent and rare words -----------------------------------------------------------------------------
    words = Counter(c for c in pre_tokenize(splits.train) if c.strip().isalpha())
    frequent = [w for w, _ in words.most_common(cfg.frequent_words)]
    rare = [w for w, n in words.items() if n == 1]
    frequent_single = sum(len(largest.encode(w)) == 1 for w in frequent) / max(1, len(frequent))
    rare_single = sum(len(largest.encode(w)) == 1 for w in rare) / max(1, len(rare))

    # -- n-gram baselines on bytes, chosen on validation -------------------------------------------------------
    x_train, x_val = encode_bytes(splits.train), encode_bytes(splits.validation)
    x_test = encode_bytes(splits.test)
    chosen = best_ngram(x_train, x_val, 256, orders=cfg.ngram_orders, ks=cfg.ngram_ks)
    test_bpb = bits_per_byte(-chosen.model.log_prob(x_test).sum(), x_test.numel())
    contexts = [x_val[i : i + chosen.order - 1] for i in (0, x_val.numel() // 2)] + [x_val[:0]]
    sum_error = max(abs(float(chosen.model.next_token_probs(c).sum()) - 1) for c in contexts)
    for order in cfg.ngram_orders:
        kn = [r.val_bits_per_byte for r in chosen.candidates if r.order == order and r.k is None]
        add_k = [r.val_bits_per_byte for r in chosen.candidates if r.order == order and r.k is not None]
        run.log(order, val_bpb_kneser_ney=kn[0], val_bpb_add_k_best=min(add_k))

    # -- checks and claims -----------------------------------------------------------------------------------
    run.check(
        "round-trip-exact",
        f"decode(encode(text)) == text for the whole {corpus.name} corpus ({len(corpus.text):,} characters) and "
        f"{cfg.random_strings} random strings of arbitrary code points, at every vocabulary size "
        "(mismatching characters)",
        error=mismatches,
        tolerance=0,
    )
    run.check(
        "smaller-vocabulary-is-a-prefix",
        f"The first merges of the {max(sizes)}-token BPE are the merges of BPE trained to {middle} tokens "
        "(greedy training; merges that differ)",
        error=merge_diff,
        tolerance=0,
    )
    run.check(
        "ngram-distributions-sum-to-one",
        "The chosen n-gram model's next-byte distributions sum to 1 over the 256 bytes (largest |Σp − 1|)",
        error=sum_error,
        tolerance=1e-9,
    )
    run.claim(
        "compression-rises-with-vocabulary",
        "A larger BPE vocabulary compresses held-out text better: validation bytes per token rise at every "
        f"step of the sweep {sizes}",
        holds=compression_rises_verdict(val_bpt),
        measured={"val_bytes_per_token": val_bpt, "train_bytes_per_token": train_bpt},
        expected="strictly increasing",
    )
    run.claim(
        "frequent-words-are-single-tokens",
        f"Common words become single tokens and rare ones are split: at {largest.vocab_size} tokens, at least "
        f"90% of the {cfg.frequent_words} most frequent training words are one token, a larger share than of "
        "the words seen once",
        holds=frequent_words_verdict(frequent_single, rare_single),
        measured={
            "frequent_single_token": frequent_single,
            "rare_single_token": rare_single,
            "rare": len(rare),
        },
        expected="frequent >= 0.9 and rare < frequent",
    )
    run.summary(
        vocab_sizes=sizes,
        val_bytes_per_token=val_bpt,
        ngram_smoothing=chosen.smoothing,
        ngram_order=chosen.order,
        ngram_k=chosen.k,
        ngram_val_bits_per_byte=chosen.val_bits_per_byte,
        ngram_test_bits_per_byte=test_bpb,
    )

    # -- figures ---------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.8)
    ax = axes[0, 0]
    ax.plot(sizes, train_bpt, "o-", label="training block")
    ax.plot(sizes, val_bpt, "s-", label="validation block")
    ax.set(xscale="log", xlabel="vocabulary size", ylabel="UTF-8 bytes per token", title="BPE compression")
    ax.set_xticks(sizes, [str(s) for s in sizes], fontsize=7)
    ax.minorticks_off()
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    line = next((x for x in splits.validation.split("\n") if len(x) > 40), splits.validation)
    example = line[: line.rfind(" ", 0, 36)] if " " in line[:36] else line[:36]
    ax.axis("off")
    ax.set_title(f"Tokens of “{example}”", fontsize=9)
    shown = sorted({sizes[min(1, len(sizes) - 1)], middle, sizes[-1]})
    for row, size in enumerate(shown):
        bpe = largest.truncated(size)
        pieces = "|".join(bpe.decode([t]) for t in bpe.encode(example)).replace(" ", "␣")
        text = textwrap.fill(pieces, 44)
        ax.text(0, 1 - row / len(shown), f"{size} tokens:\n{text}", va="top", fontsize=8, family="monospace")
    run.figure("vocabulary-vs-compression", fig)

    fig, axes = subplots(1, 1, width=5.2)
    ax = axes[0, 0]
    by_curve: dict[str, list[tuple[int, float]]] = {}
    for c in chosen.candidates:
        name = "Kneser–Ney" if c.k is None else f"add-k, k = {c.k:g}"
        by_curve.setdefault(name, []).append((c.order, c.val_bits_per_byte))
    for name, points in by_curve.items():
        ax.plot(*zip(*points, strict=True), "o-", label=name)
    ax.set(xlabel="n-gram order", ylabel="validation bits per byte", title=f"Byte n-grams on {corpus.name}")
    ax.set_xticks(list(cfg.ngram_orders))
    ax.legend(fontsize=8)
    run.figure("ngram-bits-per-byte", fig)
