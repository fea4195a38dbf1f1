"""A byte-level decoder language model on Python's help text against n-gram baselines (UDL section 12.7).

Protocol. The ``pydoc`` corpus (``udl.data.load_text_corpus``: the help topics that ship with CPython) is split
into contiguous train / validation / test blocks (80/10/10, cut at newlines) and read as UTF-8 bytes (256
symbols). The baseline is the best n-gram model (``udl.text.best_ngram``: add-k with k in {1, 0.1, 0.01} and
interpolated Kneser–Ney, orders 1–5), fitted on train and chosen on validation bits per byte. The transformer
is a GPT-style ``udl.models.DecoderLM`` (learned positions, pre-LN, tied embedding) trained by AdamW with warm-up
and cosine decay on windows of ``context`` + 1 training bytes (next-byte cross-entropy, UDL eq. 5.24).

Scoring. Both models score the same validation bytes (positions 1 … n·context; the LM reads the validation text
in non-overlapping windows, so the first bytes of each window have little context: this favours the n-gram).
Those bytes are cut into ``eval_chunks`` contiguous chunks and each chunk's bits per byte is computed for both
models. Claim: the transformer has lower bits per byte than the best n-gram, paired over the chunks, by more
than 2 SE (a difference <= 0 fails). The bar and the chunks are fixed before training; nothing is tuned on them.

Checks: generation with the KV cache emits exactly the tokens that recomputing the prefix every step emits
(greedy, and top-k sampling from equal generators). The cache's speed-up over recomputation is measured and
shown in the samples figure only: wall-clock time differs between runs, so neither a claim nor result.json
(which a resumed run must reproduce) holds it.
Samples from one validation prompt with each decoding strategy (greedy, beam, temperature, top-k, nucleus) are
in the summary and a figure.

What the quick preset measures (one thread, about 50 s): the best baseline is Kneser–Ney order 5 at 1.82 bits
per byte on validation (add-k's best, k = 0.01 order 4, 2.23); the transformer (2 layers, width 64, 300 steps of
16 × 128 bytes: 1.6 passes over the training text) reaches 3.67, between the bigram and the trigram,
so the claim fails at quick (margin −1.85 ± 0.09 bits per byte over 16 chunks). The book's statement is about
trained models: the ``full`` preset (4 layers, width 256, context 256, 6000 steps of 32 windows) is the protocol
meant to establish it; it has not been run on a CPU. Greedy and beam decoding of the quick model repeat (all
spaces, "the the the"), sampling gives word-like text. The KV cache generated 96 bytes about 3× faster than
recomputation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from udl.checks import at_least, in_range
from udl.data import decode_bytes, encode_bytes, load_text_corpus
from udl.experiments.ch12._lm import train_on_windows
from udl.models import DecoderLM, DecoderLMConfig
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, paired_difference
from udl.text import best_ngram, bits_per_byte, generate

CHAPTER = 12
SECTION = "12.7"
SUMMARY = (
    "Byte-level decoder LM vs the best n-gram (add-k / Kneser-Ney, orders 1-5) in validation bits per byte"
)
CONTEXT = (
    "A decoder-only transformer (GPT-3, UDL section 12.7) models text autoregressively, Pr(x_1..x_T) = "
    "Π_t Pr(x_t | x_<t), with causally masked self-attention over the whole context, and generates text by "
    "decoding one token at a time (greedy, beam search, sampling). An n-gram model factorizes the same way "
    "with the history cut to n − 1 symbols."
)

STRATEGIES: dict[str, dict[str, Any]] = {
    "greedy": {"strategy": "greedy"},
    "beam (4 beams)": {"strategy": "beam", "num_beams": 4},
    "temperature 0.8": {"strategy": "sample", "temperature": 0.8},
    "top-k (k = 10)": {"strategy": "top_k", "top_k": 10},
    "nucleus (p = 0.9)": {"strategy": "top_p", "top_p": 0.9},
}


@dataclass(frozen=True)
class Config:
    context: int = 128
    """bytes per training window (the model's context length)"""
    d_model: int = 64
    """model width"""
    layers: int = 2
    """transformer layers"""
    heads: int = 4
    """attention heads per layer"""
    steps: int = 300
    """AdamW steps"""
    batch_size: int = 16
    """windows per step"""
    lr: float = 3e-3
    """peak learning rate (linear warm-up over 5% of the steps, cosine decay to 0)"""
    eval_chunks: int = 16
    """contiguous validation chunks the paired comparison runs over"""
    prompt_bytes: int = 32
    """bytes of validation text the samples continue"""
    max_eval_bytes: int = 0
    """score only the first this many validation bytes (0: all of them)"""
    seed: int = 0
    """seed of the model, the batches and the samples"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(self, 1, "context", "d_model", "layers", "heads", "steps", "batch_size", "prompt_bytes")
        if self.eval_chunks < 2:
            raise ValueError(f"eval_chunks must be >= 2 for a paired comparison, got {self.eval_chunks}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model must be a multiple of heads, got {self.d_model}, {self.heads}")
        if self.prompt_bytes >= self.context:
            raise ValueError(f"prompt_bytes must be < context, got {self.prompt_bytes} >= {self.context}")
        at_least(self, 0, "max_eval_bytes")


PRESETS = {
    "smoke": Config(
        context=32, d_model=32, layers=1, steps=10, batch_size=8, prompt_bytes=16, max_eval_bytes=4096
    ),
    "quick": Config(),
    "full": Config(context=256, d_model=256, layers=4, heads=8, steps=6000, batch_size=32, lr=1e-3),
}


def beats_ngram(lm_bits: list[float], ngram_bits: list[float]) -> Comparison:
    """The transformer's bits per byte below the n-gram's, paired over validation chunks (bar 2 SE); its
    ``verdict`` is the claim's."""
    return paired_difference(ngram_bits, lm_bits)


def chunk_bits(nll: torch.Tensor, chunks: int) -> list[float]:
    """Bits per byte of each of ``chunks`` contiguous, equal pieces of per-byte NLLs (nats); the tail that does
    not fill a piece is dropped."""
    size = nll.numel() // chunks
    return [bits_per_byte(c, size) for c in nll[: size * chunks].view(chunks, size)]


@torch.no_grad()
def _lm_nll(model: DecoderLM, data: torch.Tensor, context: int) -> torch.Tensor:
    """Per-byte NLL (nats) of data[1 : n·context + 1], read in n non-overlapping windows."""
    model.eval()
    n = (data.numel() - 1) // context
    ids = data[: n * context].view(n, context)
    target = data[1 : n * context + 1].view(n, context)
    dev = next(model.parameters()).device
    out = [
        F.cross_entropy(model(i.to(dev)).transpose(1, 2), t.to(dev), reduction="none").cpu()
        for i, t in zip(ids.split(64), target.split(64), strict=True)
    ]
    return torch.cat(out).flatten().double()


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    corpus = load_text_corpus("pydoc")
    splits = corpus.split()
    train_bytes, val_bytes = encode_bytes(splits.train), encode_bytes(splits.validation)
    if cfg.max_eval_bytes:
        val_bytes = val_bytes[: cfg.max_eval_bytes]

    selection = best_ngram(train_bytes, val_bytes)
    g = torch.Generator().manual_seed(cfg.seed)
    model_cfg = DecoderLMConfig(
        256, context_length=cfg.context, d_model=cfg.d_model, num_heads=cfg.heads, num_layers=cfg.layers
    )
    model = DecoderLM(model_cfg, generator=g).to(dev)

    def next_byte_loss(windows: torch.Tensor) -> torch.Tensor:  # (B, context + 1): inputs, then targets
        x = windows.to(dev)
        return F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())

    result = train_on_windows(
        model,
        next_byte_loss,
        train_bytes,
        cfg,
        window=cfg.context + 1,
        shift=37,
        generator=g,
        run=run,
        name="lm",
    )

    lm_nll = _lm_nll(model, val_bytes, cfg.context)
    ngram_nll = -selection.model.log_prob(val_bytes)[1 : lm_nll.numel() + 1]
    lm_bits, ngram_bits = chunk_bits(lm_nll, cfg.eval_chunks), chunk_bits(ngram_nll, cfg.eval_chunks)
    cmp = beats_ngram(lm_bits, ngram_bits)
    best = f"{selection.smoothing} order {selection.order}" + (f", k={selection.k:g}" if selection.k else "")
    run.claim(
        "lm-beats-best-ngram",
        f"A byte-level decoder LM ({cfg.layers} layers, width {cfg.d_model}, {cfg.steps} steps) has lower "
        f"validation bits per byte than the best n-gram chosen on validation ({best}), paired over "
        f"{cfg.eval_chunks} validation chunks, by more than 2 SE",
        holds=cmp.verdict,
        measured={
            "lm_bits_per_byte": bits_per_byte(lm_nll, lm_nll.numel()),
            "ngram_bits_per_byte": bits_per_byte(ngram_nll, ngram_nll.numel()),
            "margin_bits_per_byte": cmp.to_json(),
        },
        expected="n-gram − LM > 2 SE over chunks",
    )

    # -- generation: cache = recomputation, speed-up, samples -----------------------------------------------
    prompt = val_bytes[: cfg.prompt_bytes].view(1, -1).to(dev)
    new = cfg.context - cfg.prompt_bytes
    batch = torch.stack([val_bytes[i : i + cfg.prompt_bytes] for i in (0, 100, 200, 300)]).to(dev)
    differ = 0
    for kw in ({"strategy": "greedy"}, {"strategy": "top_k", "top_k": 10}):
        a = generate(model, batch, new, use_cache=True, generator=torch.Generator(dev).manual_seed(1), **kw)
        b = generate(model, batch, new, use_cache=False, generator=torch.Generator(dev).manual_seed(1), **kw)
        differ += int((a != b).any(1).sum())
    run.check(
        "cached-generation-equals-uncached",
        f"Generating {new} bytes with the KV cache gives exactly the tokens that recomputing the prefix "
        "every step gives (4 prompts, greedy and top-k sampling with equal generators; rows that differ)",
        error=float(differ),
        tolerance=0.0,
    )
    timed = {
        use: min(_seconds(lambda u=use: generate(model, prompt, new, use_cache=u)) for _ in range(2))
        for use in (True, False)
    }
    samples = {}
    for name, decoding in STRATEGIES.items():
        out = generate(model, prompt, new, generator=torch.Generator(dev).manual_seed(cfg.seed), **decoding)
        samples[name] = decode_bytes(out[0, cfg.prompt_bytes :], errors="replace")
    prompt_text = decode_bytes(val_bytes[: cfg.prompt_bytes], errors="replace")
    run.summary(
        ngram_choice=best,
        ngram_val_bits_per_byte=selection.val_bits_per_byte,
        lm_val_bits_per_byte=cmp.mean_b,
        margin_bits_per_byte=cmp.diff,
        prompt=prompt_text,
        **{f"sample_{k.split()[0].replace('-', '_')}": v for k, v in samples.items()},
    )

    fig, axes = subplots(1, 2, width=4.6)
    ax = axes[0, 0]
    ax.plot(result.at, [h["loss"] / 0.6931471805599453 for h in result.history], label="transformer (train)")
    ax.axhline(cmp.mean_b, color="C0", ls="--", label="transformer (validation)")
    ax.axhline(selection.val_bits_per_byte, color="C1", ls="--", label=f"best n-gram: {best}")
    ax.set(xlabel="step", ylabel="bits per byte", title="next-byte cross-entropy")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    order = sorted({c.order for c in selection.candidates})
    for smoothing in ("kneser_ney", "add_k"):
        rows = [c for c in selection.candidates if c.smoothing == smoothing]
        for k in sorted({c.k for c in rows}, key=lambda k: -(k or 0)):
            ax.plot(
                order,
                [c.val_bits_per_byte for c in rows if c.k == k],
                "o-",
                ms=3,
                label=smoothing if k is None else f"add-k, k={k:g}",
            )
    ax.axhline(cmp.mean_b, color="k", ls="--", label="transformer")
    ax.set(xlabel="n-gram order", ylabel="validation bits per byte", title="baselines", ylim=(1.5, 5))
    ax.legend(fontsize=7)
    run.figure("bits-per-byte", fig)

    fig, axes = subplots(1, 1, width=9.5, height=0.4 * (len(samples) + 3))
    ax = axes[0, 0]
    ax.axis("off")
    lines = [f"prompt: {prompt_text!r}", ""] + [f"{k}: {v!r}" for k, v in samples.items()]
    lines.append(
        f"KV cache {timed[True]:.3f} s vs recomputation {timed[False]:.3f} s for {new} bytes "
        f"({timed[False] / timed[True]:.1f}x)"
    )
    ax.text(0, 1, "\n\n".join(lines), va="top", family="monospace", fontsize=7)
    run.figure("samples", fig)
