"""An encoder-decoder transformer on a synthetic sequence-to-sequence task (UDL section 12.8, fig. 12.13).

Protocol. ``udl.data.sequence_task`` makes ``num_train`` training and ``num_test`` test examples of ``task``
(reversal of ``length`` symbols out of 10 by default; sort and addition are the other choices) from disjoint
seeds. For each seed, an ``EncoderDecoderTransformer`` (sinusoidal positions, pre-LN) is trained by AdamW with
warm-up and cosine decay on the target tokens' cross-entropy (teacher forcing), then decodes the test sources
greedily with its KV cache; exact match counts whole targets right. No selection happens (fixed step count), so
there is no validation split.

Checks: greedy decoding with the KV cache gives exactly the tokens that recomputing every step gives; the
encoder-decoder's teacher-forced logits equal its incremental decoding logits. Claim (issue 14's bar): every
seed reaches exact match >= 95% on the test set. The figure shows the training curves and the cross-attention
of the last decoder layer on one test example (for reversal, an anti-diagonal: output t reads input T − 1 − t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from udl.data import SEQUENCE_TASKS, exact_match, sequence_task
from udl.data.sequences import BOS
from udl.experiments._sequence_tasks import (
    SequenceRecipe,
    exact_match_rate,
    exact_match_verdict,
    predict,
    train_on_task,
)
from udl.models import EncoderDecoderTransformer
from udl.nn import TransformerDecoderLayer
from udl.report import Run
from udl.report.figures import subplots

CHAPTER = 12
SECTION = "12.8"
SUMMARY = (
    "Encoder-decoder transformer: exact match >= 95% on sequence reversal, KV-cache decoding = recomputation"
)
CONTEXT = (
    "Machine translation uses an encoder-decoder transformer: the encoder embeds the source, the decoder "
    "generates the target one token at a time, attending causally to its own output so far and, through "
    "cross-attention, to the encoder's embeddings (UDL section 12.8)."
)


@dataclass(frozen=True)
class Config(SequenceRecipe):
    task: Literal["copy", "reverse", "sort", "addition"] = "reverse"
    """the synthetic task (udl.data.sequence_task)"""
    length: int = 8
    """symbols per source sequence (digits per operand for addition)"""
    num_test: int = 1000
    """test examples"""
    data_seed: int = 1000
    """seed of the data (the test set uses data_seed + 1)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task not in SEQUENCE_TASKS:
            raise ValueError(f"task must be one of {SEQUENCE_TASKS}, got {self.task!r}")


PRESETS = {
    "smoke": Config(num_train=512, num_test=64, d_model=32, layers=1, steps=20, num_seeds=1),
    "quick": Config(),
    "full": Config(length=12, steps=3000, d_model=128, layers=3, num_seeds=5),
}


def _cross_attention(
    model: EncoderDecoderTransformer, source: torch.Tensor, target_in: torch.Tensor
) -> torch.Tensor:
    """The last decoder layer's cross-attention weights (T_target, T_source), averaged over heads."""
    seen: dict[str, torch.Tensor] = {}
    layer = model.decoder[-1]
    assert isinstance(layer, TransformerDecoderLayer)

    def keep_query(module: torch.nn.Module, args: tuple) -> None:
        seen.setdefault("x", args[0])

    hook = layer.multihead_attn.register_forward_pre_hook(keep_query)
    with torch.no_grad():
        memory = model.encode(source)
        model.decode(target_in, memory)
        _, w = layer.multihead_attn(seen["x"], memory, memory)
    hook.remove()
    assert w is not None
    return w[0]


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    train_set = sequence_task(
        cfg.task, cfg.num_train, cfg.length, generator=torch.Generator().manual_seed(cfg.data_seed)
    )
    test_set = sequence_task(
        cfg.task, cfg.num_test, cfg.length, generator=torch.Generator().manual_seed(cfg.data_seed + 1)
    )
    model_cfg = cfg.seq2seq_config(train_set.vocab_size, 2 * cfg.length + 2)
    rates, beam_rates, curves, models = [], [], {}, {}
    for seed in cfg.seeds:
        g = torch.Generator().manual_seed(seed)
        model = EncoderDecoderTransformer(model_cfg, generator=g).to(dev)
        result = train_on_task(model, train_set, cfg, generator=g, run=run, name=f"seed{seed}")
        curves[seed] = (result.at, [h["loss"] for h in result.history])
        rates.append(exact_match_rate(model, test_set))
        beam_rates.append(exact_match_rate(model, test_set, strategy="beam", num_beams=4))
        models[seed] = model
        run.log(seed, test_exact_match=rates[-1], test_exact_match_beam=beam_rates[-1])

    model = models[cfg.seeds[0]]
    few = test_set.source[:64]
    sub = type(test_set)(test_set.name, few, test_set.target[:64], test_set.num_symbols)
    cached, recomputed = predict(model, sub), predict(model, sub, use_cache=False)
    run.check(
        "cache-decoding-equals-recomputation",
        "Greedy decoding with the KV cache emits exactly the tokens "
        "that recomputing the whole prefix every step emits (fraction of 64 test rows that differ)",
        error=float((cached != recomputed).any(1).float().mean()),
        tolerance=0.0,
    )
    with torch.no_grad():
        src, tgt_in = few.to(dev), sub.decoder_input().to(dev)
        forced = model(src, tgt_in)
        lm = model.bind(src)
        cache = lm.new_cache(len(src))
        steps = torch.cat([lm(tgt_in[:, t : t + 1], kv_cache=cache) for t in range(tgt_in.shape[1])], 1)
    run.check(
        "teacher-forcing-equals-incremental",
        "The decoder's teacher-forced logits equal its token-by-token "
        "logits with the cache (max abs difference, float32)",
        error=float((forced - steps).abs().max()),
        tolerance=1e-4,
    )
    run.claim(
        "exact-match-95",
        f"An encoder-decoder transformer learns {cfg.task} of {cfg.length} symbols: exact "
        f"match >= 95% on {cfg.num_test} test sequences for each of {len(cfg.seeds)} seeds (greedy decoding)",
        holds=exact_match_verdict(rates),
        measured={"exact_match": rates, "exact_match_beam4": beam_rates},
        expected="min over seeds >= 0.95",
    )
    run.summary(
        exact_match_mean=sum(rates) / len(rates),
        exact_match_beam_mean=sum(beam_rates) / len(beam_rates),
        wrong_with_cache=int((~exact_match(cached, sub.target)).sum()),
    )

    fig, axes = subplots(1, 2, width=4.6)
    for seed, (at, loss) in curves.items():
        axes[0, 0].plot(at, loss, label=f"seed {seed}")
    axes[0, 0].set(
        yscale="log", xlabel="step", ylabel="training cross-entropy", title=f"{cfg.task}, L={cfg.length}"
    )
    axes[0, 0].legend(fontsize=8)
    w = _cross_attention(model, src[:1], torch.cat([torch.full((1, 1), BOS, device=dev), tgt_in[:1, 1:]], 1))
    axes[0, 1].imshow(w.cpu().numpy(), cmap="viridis", vmin=0)
    axes[0, 1].set(xlabel="source position", ylabel="target position", title="cross-attention, last layer")
    axes[0, 1].grid(False)
    run.figure("training-and-cross-attention", fig)
