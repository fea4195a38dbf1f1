"""Full-batch training of many independent members at once, with checkpoints (e.g. a ``BatchedShallowNetwork``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from udl.train._loop import NullRun, RunLike

__all__ = ["train_members_full_batch"]


def train_members_full_batch(
    model: nn.Module,
    member_losses: Callable[[], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    run: RunLike | None = None,
    name: str = "members",
    log_every: int | None = None,
    metric: str = "train_loss",
    description: str = "full-batch steps",
) -> Tensor | None:
    """Take ``steps`` full-batch steps on the sum of the members' losses ``member_losses()`` (a (M,) tensor).

    Members that share no parameter train as each would alone (the gradient of the sum is each member's own;
    an elementwise optimizer such as SGD or Adam updates each member's slice as alone). Every ``log_every``
    steps (default ``steps // 10``) and after the last, ``run.log(step, **{metric: mean member loss})`` and a
    checkpoint ``{"model", "optimizer", "step"}`` under ``name``, from which a killed run resumes bit for bit.

    Returns:
        The members' losses at the last step taken (before its update), or None when nothing was left to train.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    run = run if run is not None else NullRun()
    every = max(1, steps // 10) if log_every is None else log_every
    if every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    start = 0
    saved = run.load_state(name)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        start = int(saved["step"])
    last = None
    with run.progress(steps, description) as bar:
        for step in range(start, steps):
            losses = member_losses()
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            last = losses.detach()
            if (step + 1) % every == 0 or step + 1 == steps:
                mean_loss = float(last.mean())
                run.log(step + 1, **{metric: mean_loss})
                run.save_state(
                    name,
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1},
                )
                bar.update(step + 1, loss=mean_loss)
    return last
