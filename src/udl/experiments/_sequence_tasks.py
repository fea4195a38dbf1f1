"""The training recipe the chapter 12 experiments share: a transformer on a synthetic sequence task
(``udl.data.sequence_task``), trained by AdamW with warm-up and cosine decay on the cross-entropy of the target
tokens (teacher forcing), then scored by exact match of greedy decoding.

Encoder-decoders (``udl.models.EncoderDecoderTransformer``) read the source and decode the target; decoder-only
models (``udl.models.DecoderLM``) read "source SEP target" and are scored on the target positions.
Everything here is protocol, not library: the data, models, decoding and loop are public udl parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import SequenceTask, exact_match
from udl.data.sequences import BOS, EOS, SEP
from udl.models import DecoderLM, EncoderDecoderTransformer, Seq2SeqConfig
from udl.optim import AdamW, WarmupThenDecay
from udl.stats import Verdict
from udl.text import generate
from udl.train import OptimizerStep, RunLike, TrainResult, minibatches, train


@dataclass(frozen=True)
class SequenceRecipe:
    """Fields of the shared recipe; an experiment's Config inherits them (and may override defaults)."""

    length: int = 8
    """symbols per training sequence"""
    num_train: int = 20000
    """training examples"""
    num_test: int = 500
    """test examples"""
    d_model: int = 64
    """model width"""
    layers: int = 2
    """transformer layers (per stack)"""
    heads: int = 4
    """attention heads per attention module"""
    steps: int = 300
    """AdamW steps per model"""
    batch_size: int = 64
    """examples per step"""
    lr: float = 2e-3
    """peak learning rate (linear warm-up over 5% of the steps, cosine decay to 0)"""
    num_seeds: int = 2
    """training seeds seed, seed + 1, ... per arm, paired by seed across arms"""
    seed: int = 0
    """first training seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(
            self,
            1,
            "length",
            "num_train",
            "num_test",
            "d_model",
            "layers",
            "heads",
            "steps",
            "batch_size",
            "num_seeds",
        )
        if self.d_model % self.heads:
            raise ValueError(
                f"d_model must be a multiple of heads, got d_model={self.d_model}, heads={self.heads}"
            )

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.num_seeds))

    def seq2seq_config(self, vocab_size: int, max_len: int, positional: str = "sinusoidal") -> Seq2SeqConfig:
        """The recipe's encoder-decoder: ``layers`` per stack, per-token networks of width 2·d_model."""
        return Seq2SeqConfig(
            vocab_size,
            vocab_size,
            max_len=max_len,
            d_model=self.d_model,
            num_heads=self.heads,
            num_encoder_layers=self.layers,
            num_decoder_layers=self.layers,
            dim_feedforward=2 * self.d_model,
            positional=positional,  # type: ignore[arg-type]
        )


def exact_match_verdict(rates: list[float], bar: float = 0.95) -> Verdict:
    """Every seed at or above ``bar`` holds; a mean below it fails; otherwise (or one seed) not established."""
    if sum(rates) / len(rates) < bar:
        return Verdict.FAILS
    if len(rates) < 2 or min(rates) < bar:
        return Verdict.NOT_ESTABLISHED
    return Verdict.HOLDS


def train_on_task(
    model: nn.Module,
    task: SequenceTask,
    recipe: SequenceRecipe,
    *,
    generator: torch.Generator,
    run: RunLike | None,
    name: str,
    weight_decay: float = 0.01,
) -> TrainResult:
    """Train ``model`` (an EncoderDecoderTransformer or a DecoderLM) on ``task`` for ``recipe.steps`` AdamW steps
    of ``recipe.batch_size`` examples at peak rate ``recipe.lr``."""
    steps, batch_size, lr = recipe.steps, recipe.batch_size, recipe.lr
    device = next(model.parameters()).device
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = WarmupThenDecay(optimizer, warmup_steps=max(1, steps // 20), total_steps=steps)
    update = OptimizerStep(optimizer, clip_norm=1.0, scheduler=schedule)
    if isinstance(model, EncoderDecoderTransformer):
        tensors: tuple[Tensor, ...] = (task.source, task.decoder_input(), task.target)
    else:
        tensors = task.lm_sequence()
    tensors = tuple(t.to(device) for t in tensors)

    def step(batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        if isinstance(model, EncoderDecoderTransformer):
            source, target_in, target = batch
            logits = model(source, target_in)
            loss = F.cross_entropy(logits.flatten(0, 1), target.flatten())
        else:
            ids, labels = batch
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        update(loss)
        return {"loss": loss.detach()}

    return train(
        step,
        lambda epoch: minibatches(*tensors, batch_size=batch_size, generator=generator),
        steps=steps,
        state={"model": model, "optimizer": optimizer, "schedule": schedule, "generator": generator},
        run=run,
        name=name,
        log_every=min(50, steps),
    )


@torch.no_grad()
def predict(model: nn.Module, task: SequenceTask, *, use_cache: bool = True, **decoding) -> Tensor:
    """Greedy (or ``decoding``'s strategy) predictions (N, T) of the target, T = the task's target length."""
    model.eval()
    device = next(model.parameters()).device
    t = task.target.shape[1]
    source = task.source.to(device)
    if isinstance(model, EncoderDecoderTransformer):
        bos = torch.full((len(source), 1), BOS, device=device)
        out = generate(model.bind(source), bos, t, eos_token_id=EOS, use_cache=use_cache, **decoding)
        return out[:, 1:].cpu()
    assert isinstance(model, DecoderLM)
    prompt = torch.cat([source, torch.full((len(source), 1), SEP, device=device)], 1)
    out = generate(model, prompt, t, eos_token_id=EOS, use_cache=use_cache, **decoding)
    return out[:, prompt.shape[1] :].cpu()


def exact_match_rate(model: nn.Module, task: SequenceTask, **decoding) -> float:
    """The fraction of examples whose decoded target is exactly right."""
    return float(exact_match(predict(model, task, **decoding), task.target).float().mean())


@torch.no_grad()
def token_accuracy(model: nn.Module, task: SequenceTask) -> float:
    """Teacher-forced accuracy of the target tokens (each predicted from the true prefix)."""
    model.eval()
    device = next(model.parameters()).device
    if isinstance(model, EncoderDecoderTransformer):
        logits = model(task.source.to(device), task.decoder_input().to(device))
        return float((logits.argmax(-1).cpu() == task.target).float().mean())
    ids, labels = task.lm_sequence()
    pred = model(ids[:, :-1].to(device)).argmax(-1).cpu()
    keep = labels[:, 1:] != -100
    return float((pred[keep] == labels[:, 1:][keep]).float().mean())
