"""Benchmark: byte-level BPE training (and encoding) of udl.text.ByteLevelBPE against HF tokenizers and against a
naive trainer that recounts every pair of the corpus at each merge.

Corpus: the training block (80%) of udl's ``pydoc`` corpus (the help text shipped with Python, ~372,000
characters). udl and HF learn the same merges from it (checked here before timing), with the same GPT-2
pre-tokenization and byte alphabet. udl's trainer is pure Python (incremental pair counts: an index from pair to
chunks and a lazy max-heap); HF's is Rust and may use several threads. The naive trainer is the test suite's
reference (tests/text/bpe_references.py), run once at a small vocabulary because it is slow by design. Each timed pair
alternates which goes first; the table gives medians and baseline_s / ours_s (above 1: udl is faster).
Run: python benchmarks/bpe.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from udl.data import load_text_corpus
from udl.text import ByteLevelBPE, pre_tokenize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "text"))
from bpe_references import hf_byte_level_bpe, naive_bpe_merges

VOCAB = 4096
NAIVE_VOCAB = 400
REPEATS = 5
BUDGET_S = 20.0  # per comparison: stop sampling early on a loaded machine


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(ours: Callable[[], object], baseline: Callable[[], object]) -> tuple[float, float, float, int]:
    """Median times of ours and the baseline and the median ratio baseline/ours over alternating pairs."""
    t_ours: list[float] = []
    t_base: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    for i in range(REPEATS):
        if i >= 2 and time.perf_counter() > deadline:
            break
        if i % 2 == 0:
            t_ours.append(timed(ours))
            t_base.append(timed(baseline))
        else:
            t_base.append(timed(baseline))
            t_ours.append(timed(ours))
    ratio = statistics.median(b / a for a, b in zip(t_ours, t_base, strict=True))
    return statistics.median(t_ours), statistics.median(t_base), ratio, len(t_ours)


def main() -> None:
    train = load_text_corpus("pydoc").split().train
    val = load_text_corpus("pydoc").split().validation
    pre_tokenize("warm up")  # builds and compiles the pre-tokenization pattern once (~0.3 s)
    print(
        f"BPE on the pydoc training block ({len(train):,} characters), {os.cpu_count()} CPUs, "
        f"median of up to {REPEATS} alternating runs"
    )
    ours = ByteLevelBPE.train(train, VOCAB)
    hf = hf_byte_level_bpe(train, VOCAB)
    same = ours.to_json()["model"]["merges"] == json.loads(hf.to_str())["model"]["merges"]
    naive_same = [
        (ours.token_bytes(a), ours.token_bytes(b)) for a, b in ours.truncated(NAIVE_VOCAB).merges
    ] == naive_bpe_merges(train, NAIVE_VOCAB)
    print(
        f"  merges identical to HF's at {VOCAB}: {same}; to the naive trainer's at {NAIVE_VOCAB}: {naive_same}"
    )
    print(f"  {'comparison':34s} {'udl s':>8s} {'baseline s':>11s} {'baseline/udl':>13s} {'runs':>5s}")
    summary: dict[str, dict[str, float]] = {}
    rows = {
        f"train vs HF, vocab {VOCAB}": (
            "train_vs_hf",
            lambda: ByteLevelBPE.train(train, VOCAB),
            lambda: hf_byte_level_bpe(train, VOCAB),
        ),
        f"train vs naive rescan, vocab {NAIVE_VOCAB}": (
            "train_vs_naive",
            lambda: ByteLevelBPE.train(train, NAIVE_VOCAB),
            lambda: naive_bpe_merges(train, NAIVE_VOCAB),
        ),
        f"encode validation vs HF, vocab {VOCAB}": (
            "encode_vs_hf",
            lambda: ours.encode(val),
            lambda: hf.encode(val),
        ),
    }
    for label, (key, fn_ours, fn_base) in rows.items():
        if key == "train_vs_naive":  # one run of each: the naive trainer takes seconds
            t_ours, t_base, n = timed(fn_ours), timed(fn_base), 1
            ratio = t_base / t_ours
        else:
            t_ours, t_base, ratio, n = alternate(fn_ours, fn_base)
        print(f"  {label:34s} {t_ours:8.3f} {t_base:11.3f} {ratio:13.3f} {n:5d}")
        summary[key] = {
            "ours_s": round(t_ours, 4),
            "baseline_s": round(t_base, 4),
            "speedup": round(ratio, 3),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
