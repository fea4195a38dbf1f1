"""The pre-training recipe the chapter 12 language models share (``language_model``, ``masked_lm``).

AdamW (weight decay 0.01) with a linear warm-up over the first 5% of the steps and cosine decay after it,
gradient clipping at norm 1, and mini-batches of windows of the training text that start at another offset
every epoch, so that no window boundary is seen twice in a row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from udl.optim import AdamW, WarmupThenDecay
from udl.report import Run
from udl.train import OptimizerStep, TrainResult, minibatches, train

__all__ = ["train_on_windows"]


def train_on_windows(
    model: nn.Module,
    loss: Callable[[Tensor], Tensor],
    text: Tensor,
    cfg: Any,
    *,
    window: int,
    shift: int,
    generator: torch.Generator,
    run: Run | None,
    name: str,
) -> TrainResult:
    """Train ``model`` for ``cfg.steps`` steps (``cfg.lr``, ``cfg.batch_size``) on ``window``-byte windows of
    ``text`` (1-D byte ids) taken every ``cfg.context`` bytes from offset (epoch · ``shift``) mod ``cfg.context``;
    ``loss(windows)`` gives one step's loss on a (B, window) batch. ``generator`` shuffles the windows (and is
    checkpointed with the model, optimizer and schedule)."""
    optimizer = AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    schedule = WarmupThenDecay(optimizer, warmup_steps=max(1, cfg.steps // 20), total_steps=cfg.steps)
    update = OptimizerStep(optimizer, clip_norm=1.0, scheduler=schedule)

    def windows(epoch: int):
        offset = (epoch * shift) % cfg.context
        return minibatches(
            text[offset:].unfold(0, window, cfg.context), batch_size=cfg.batch_size, generator=generator
        )

    def step(batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        model.train()
        value = loss(batch[0])
        update(value)
        return {"loss": value.detach()}

    return train(
        step,
        windows,
        steps=cfg.steps,
        state={"model": model, "optimizer": optimizer, "schedule": schedule, "generator": generator},
        run=run,
        name=name,
        log_every=min(25, cfg.steps),
    )
