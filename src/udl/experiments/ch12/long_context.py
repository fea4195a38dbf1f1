"""Local + global sparse attention for long sequences (UDL section 12.10; Longformer, BigBird).

Protocol.

1. *Equivalence* (check). ``udl.functional.local_global_attention`` — a band of half-width w plus g global tokens,
   computed from strided views of the keys without ever forming the T×T matrix — against dense attention under
   ``local_global_mask`` (float64, random inputs, causal and not).
2. *Accuracy.* ``udl.data.match_task``: does the first symbol occur again anywhere in T symbols? The answer can sit
   anywhere, so the first position must see the whole sequence. A small BERT-style encoder
   (``udl.models.MaskedLanguageModel``'s encoder, learned positions) classifies from its first position with
   dense attention, with local + global attention (band w, the first token global:
   ``udl.models.use_local_global_attention``), and with the band alone (no global token, receptive field
   layers·w). Trained by AdamW on ``num_train`` examples, scored on ``num_test`` held-out ones, per seed.
3. *Cost.* Forward + backward time (the fastest of ``repeats``: the least disturbed by other load) and the
   activation memory autograd saves (bytes of every tensor saved for backward, counted by
   ``torch.autograd.graph.saved_tensors_hooks``) of one attention call, dense (the reference path that
   materializes Softmax[QKᵀ/√D]) and sparse, as T doubles; the log-log slopes give the growth exponent. Below
   T ≈ 1000 the sparse call's fixed costs dominate its time, so the lengths start there.

Claims: local + global attention matches dense accuracy (both >= 90%, means within 3 points); without the global
token the band alone fails (mean accuracy < 65%, while local + global solves it and beats it by > 2 SE); the
sparse memory grows linearly (slope <= 1.25) while the dense one grows quadratically (slope >= 1.75); the figure
shows the times too.

Protocol change after review: the cost claim also judged the sparse call's time slope. Wall-clock time is not
reproducible (it changed the verdict between two runs of the same code on a loaded machine, and a resumed run
must reproduce its result), so the claim judges the saved-activation memory, which is exact, and the times are
shown in the figure only.

The quick preset's task is short (T = 24, 8 symbols) because it has to be learned in 500 steps: a first version
with T = 64 and 16 symbols stayed at chance (≈ 50%) for all three variants, dense included, which compares
nothing. The band alone then sees 2·2 = 4 positions from the first token, so it can answer only when the repeat
falls there (expected accuracy ≈ 0.5 + 0.5·4/23 ≈ 0.59).

What the quick preset measures (2 seeds, 800 steps): the task is learned in a sudden transition that some runs
have not reached by the end: dense 79% and 70%, local + global 66% and 99.9%, the band alone 52% and 50%. So
"matches dense" fails (dense itself is below the 90% bar) and "fails without global tokens" is not established
(the band is at chance, but local + global does not solve the task in both seeds); the full preset trains 5 seeds
5× longer. The memory claim holds: saved activations grow as T^1.00 (sparse) against T^1.99 (dense).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from udl.data import match_task
from udl.experiments._sequence_tasks import SequenceRecipe
from udl.functional import (
    local_global_attention,
    local_global_mask,
    loglog_slope,
    scaled_dot_product_attention,
)
from udl.models import MaskedLanguageModel, MaskedLMConfig, use_local_global_attention
from udl.optim import AdamW, WarmupThenDecay
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, paired_difference
from udl.train import OptimizerStep, minibatches, train

CHAPTER = 12
SECTION = "12.10"
SUMMARY = "Local + global attention: dense accuracy, fails without global tokens, memory linear in T"
CONTEXT = (
    "Dense self-attention costs O(T²) in time and memory. Longformer and BigBird restrict each token to a local "
    "band and add a few global tokens that attend to, and are attended by, every token: cost O(T), and any two "
    "tokens are still two steps apart through a global token (UDL section 12.10)."
)
VARIANTS = ("dense", "local+global", "local")


@dataclass(frozen=True)
class Config(SequenceRecipe):
    length: int = 24
    """sequence length T of the match task"""
    window: int = 2
    """half-width w of the local band"""
    num_symbols: int = 8
    """symbols of the match task"""
    num_train: int = 8000
    """training examples"""
    num_test: int = 1000
    """test examples"""
    d_model: int = 32
    """encoder width"""
    heads: int = 2
    """attention heads"""
    steps: int = 800
    """AdamW steps per model"""
    lr: float = 2e-3
    """peak learning rate"""
    cost_lengths: tuple[int, ...] = (1024, 2048, 4096, 8192)
    """sequence lengths of the cost measurement, increasing"""
    repeats: int = 3
    """timed repeats per length (the fastest counts)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length < 4 or self.window < 1 or self.num_symbols < 2 or self.repeats < 1:
            raise ValueError(
                f"length >= 4, window >= 1, num_symbols >= 2, repeats >= 1 needed, got {self.length}, "
                f"{self.window}, {self.num_symbols}, {self.repeats}"
            )
        if len(self.cost_lengths) < 2 or list(self.cost_lengths) != sorted(set(self.cost_lengths)):
            raise ValueError(f"cost_lengths must be >= 2 increasing lengths, got {self.cost_lengths}")


PRESETS = {
    "smoke": Config(
        length=16,
        num_train=256,
        num_test=64,
        d_model=16,
        steps=10,
        num_seeds=1,
        cost_lengths=(128, 256),
        repeats=1,
    ),
    "quick": Config(),
    "full": Config(
        length=128,
        window=4,
        num_train=40000,
        steps=4000,
        d_model=64,
        layers=3,
        num_seeds=5,
        repeats=5,
    ),
}


def matches_dense_verdict(dense: list[float], sparse: list[float]) -> Verdict:
    """Both solve the task (mean accuracy >= 0.9) and their means differ by at most 3 points."""
    md, ms = sum(dense) / len(dense), sum(sparse) / len(sparse)
    return all_of(md >= 0.9, ms >= 0.9, abs(md - ms) <= 0.03)


def fails_without_global_verdict(local: list[float], sparse: list[float]) -> Verdict:
    """The band alone stays near chance (mean < 0.65) while local + global solves the task (mean >= 0.9) and
    beats it by > 2 SE (paired by seed). If local + global does not solve it, nothing is established."""
    if sum(local) / len(local) >= 0.65:
        return Verdict.FAILS
    if sum(sparse) / len(sparse) < 0.9:
        return Verdict.NOT_ESTABLISHED
    return paired_difference(sparse, local).verdict


def linear_memory_verdict(sparse_memory_slope: float, dense_memory_slope: float) -> Verdict:
    """Sparse memory grows with exponent <= 1.25; dense memory with exponent >= 1.75."""
    return all_of(sparse_memory_slope <= 1.25, dense_memory_slope >= 1.75)


class _Classifier(nn.Module):
    def __init__(self, encoder: MaskedLanguageModel) -> None:
        super().__init__()
        self.encoder = encoder
        self.out = nn.Linear(encoder.config.d_model, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.encoder.encode(ids)[:, 0])  # read the answer at the first (global) position


def _cost(fn, q, k, v, repeats: int) -> tuple[float, int]:
    """Fastest forward + backward seconds and the bytes autograd saves for backward."""
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    times = []
    for r in range(repeats + 1):
        qq, kk, vv = (t.detach().requires_grad_() for t in (q, k, v))
        saved[0] = 0
        t0 = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = fn(qq, kk, vv)
        out.sum().backward()
        if r:  # the first call warms up
            times.append(time.perf_counter() - t0)
    return min(times), saved[0]


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    g = torch.Generator().manual_seed(cfg.seed)

    # -- 1. equivalence -----------------------------------------------------------------------------------------
    err = 0.0
    for causal in (False, True):
        q, k, v = (torch.randn(2, 2, 97, 8, generator=g, dtype=torch.float64) for _ in range(3))
        dense = F.scaled_dot_product_attention(q, k, v, attn_mask=local_global_mask(97, 5, 3, causal))
        err = max(err, float((local_global_attention(q, k, v, 5, 3, causal) - dense).abs().max()))
    run.check(
        "sparse-equals-dense-under-mask",
        "Local + global attention (w = 5, g = 3, T = 97, causal and not) "
        "equals dense attention under the equivalent mask (float64, max abs difference)",
        error=err,
        tolerance=1e-12,
    )

    # -- 2. accuracy --------------------------------------------------------------------------------------------
    x, y = match_task(
        cfg.num_train, cfg.length, cfg.num_symbols, generator=torch.Generator().manual_seed(cfg.seed + 100)
    )
    xt, yt = match_task(
        cfg.num_test, cfg.length, cfg.num_symbols, generator=torch.Generator().manual_seed(cfg.seed + 101)
    )
    x, y, xt, yt = x.to(dev), y.to(dev), xt.to(dev), yt.to(dev)
    enc_cfg = MaskedLMConfig(
        cfg.num_symbols + 4, cfg.length, cfg.d_model, cfg.heads, cfg.layers, 2 * cfg.d_model, norm_first=True
    )
    acc: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for variant in VARIANTS:
        for seed in range(cfg.seed, cfg.seed + cfg.num_seeds):
            gs = torch.Generator().manual_seed(seed)
            model = _Classifier(MaskedLanguageModel(enc_cfg, generator=gs)).to(dev)
            if variant != "dense":
                use_local_global_attention(model, cfg.window, 1 if variant == "local+global" else 0)
            opt = AdamW(model.parameters(), lr=cfg.lr)
            update = OptimizerStep(
                opt,
                clip_norm=1.0,
                scheduler=WarmupThenDecay(opt, warmup_steps=cfg.steps // 20, total_steps=cfg.steps),
            )

            def step(batch, model=model, update=update):
                loss = F.cross_entropy(model(batch[0]), batch[1])
                update(loss)
                return {"loss": loss.detach()}

            def batches(epoch: int, gs: torch.Generator = gs):
                return minibatches(x, y, batch_size=cfg.batch_size, generator=gs)

            train(
                step,
                batches,
                steps=cfg.steps,
                state={"model": model, "optimizer": opt, "generator": gs},
                run=run,
                name=f"{variant.replace('+', '-')}_seed{seed}",
                log_every=min(100, cfg.steps),
            )
            model.eval()
            with torch.no_grad():
                acc[variant].append(float((model(xt).argmax(-1) == yt).float().mean()))
            run.log(seed, **{f"{variant.replace('+', '_')}_test_accuracy": acc[variant][-1]})

    # -- 3. cost ------------------------------------------------------------------------------------------------
    cost: dict[str, list[tuple[float, int]]] = {"dense": [], "sparse": []}
    for t in cfg.cost_lengths:
        q, k, v = (torch.randn(1, 2, t, 16, generator=g) for _ in range(3))
        cost["dense"].append(
            _cost(
                lambda a, b, c: scaled_dot_product_attention(a, b, c, return_weights=True)[0],
                q,
                k,
                v,
                cfg.repeats,
            )
        )
        cost["sparse"].append(
            _cost(lambda a, b, c: local_global_attention(a, b, c, cfg.window, 1), q, k, v, cfg.repeats)
        )
        # wall-clock time goes to the figure only: it is not reproducible (a resumed run must log the same)
        run.log(t, dense_bytes=cost["dense"][-1][1], sparse_bytes=cost["sparse"][-1][1])
    lengths = list(cfg.cost_lengths)
    slopes = {
        f"{kind}_{what}": loglog_slope(lengths, [c[i] for c in cost[kind]])
        for kind in cost
        for i, what in enumerate(("time", "memory"))
    }

    n = cfg.num_seeds
    run.claim(
        "local-global-matches-dense",
        f"On the match task (T = {cfg.length}) local + global attention "
        f"(w = {cfg.window}, one global token) matches dense accuracy ({n} seeds)",
        holds=matches_dense_verdict(acc["dense"], acc["local+global"]),
        measured={"dense": acc["dense"], "local+global": acc["local+global"]},
        expected="both means >= 0.9, within 0.03",
    )
    run.claim(
        "fails-without-global",
        f"Without the global token the band alone (receptive field "
        f"{cfg.layers}·{cfg.window}) cannot solve it ({n} seeds, paired)",
        holds=fails_without_global_verdict(acc["local"], acc["local+global"]),
        measured={"local": acc["local"], **paired_difference(acc["local+global"], acc["local"]).to_json()},
        expected="local mean < 0.65; local+global mean >= 0.9 and − local > 2 SE",
    )
    memory_slopes = {key: value for key, value in slopes.items() if key.endswith("_memory")}
    run.claim(
        "linear-memory",
        f"Sparse attention's memory grows linearly in T ({lengths[0]}..{lengths[-1]}), dense attention's "
        "quadratically (log-log slopes of the activations saved for backward; times in the figure)",
        holds=linear_memory_verdict(slopes["sparse_memory"], slopes["dense_memory"]),
        measured=memory_slopes,
        expected="sparse memory slope <= 1.25; dense memory slope >= 1.75",
    )
    run.summary(**{f"{v.replace('+', '_')}_accuracy": sum(a) / n for v, a in acc.items()}, **memory_slopes)

    fig, axes = subplots(1, 3, width=3.8)
    for i, what in enumerate(("time (s)", "saved activations (bytes)")):
        ax = axes[0, i]
        for kind in cost:
            ax.plot(
                lengths,
                [c[i] for c in cost[kind]],
                "o-",
                label=f"{kind} (slope {slopes[f'{kind}_' + what.split()[0] if i == 0 else f'{kind}_memory']:.2f})",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="sequence length T",
            ylabel=what,
            title=f"attention {what.split()[0]}",
        )
        ax.legend(fontsize=8)
    ax = axes[0, 2]
    ax.bar(range(3), [sum(acc[name]) / n for name in VARIANTS], color=["#2563eb", "#16a34a", "#dc2626"])
    for j, name in enumerate(VARIANTS):
        ax.plot([j] * n, acc[name], "k.", ms=4)
    ax.axhline(0.5, color="#6b7280", ls=":")
    ax.set_xticks(range(3), list(VARIANTS))
    ax.set(ylim=(0, 1.05), ylabel="test accuracy", title=f"match task, T={cfg.length}")
    run.figure("cost-and-accuracy", fig)
