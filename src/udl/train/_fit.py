"""``fit``: supervised mini-batch training of one model with one loss and one optimizer, on ``udl.train.train``.

The book's recipe (notebooks 6-9): shuffle with an explicit generator, step through mini-batches, step a
per-epoch schedule, evaluate once per epoch, checkpoint every few epochs, stop at the first non-finite loss or
gradient. It is ``train`` with a step function and a data function written for that case; a killed run resumes
to the same final weights, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from udl.train import distributed
from udl.train._early_stopping import EarlyStopping
from udl.train._guard import NonFiniteGuard
from udl.train._loop import RunLike, train

__all__ = ["FitResult", "classification_metrics", "fit"]


@dataclass
class FitResult:
    """Per-epoch metrics (``history[e]`` after epoch e+1), the last epoch's metrics and the step count.

    With early stopping, ``stopped_epoch`` is the epoch where patience ran out (None if training ran all its
    epochs) and ``best_epoch`` the epoch with the best monitored value (whose weights the model holds at the end
    when ``restore_best``); both are None without early stopping.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    resumed_from_epoch: int = 0
    stopped_epoch: int | None = None
    best_epoch: int | None = None

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def fit(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    generator: torch.Generator | None = None,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    run: RunLike | None = None,
    name: str = "train",
    checkpoint_every: int = 10,
    early_stopping: EarlyStopping | None = None,
    allow_test_monitor: bool = False,
) -> FitResult:
    """Train ``model`` on ``data = (x, y)`` for ``epochs`` passes of shuffled mini-batches.

    Each epoch draws a permutation from ``generator`` (a CPU ``torch.Generator``; the global RNG if None),
    takes optimizer steps on ``loss_fn(model(x_batch), y_batch)`` (the last batch may be smaller), steps the
    ``scheduler`` once per epoch, and records ``{"loss": mean training loss of the epoch, **evaluate(model)}``.
    ``evaluate`` runs under ``torch.no_grad`` with the model in eval mode; its names must not include ``"loss"``
    (name them by split: ``"val_loss"``, ``"test_error"``).

    Under torchrun (a process group of several ranks, :mod:`udl.train.distributed`) the model is wrapped in
    ``DistributedDataParallel``; every rank draws the same permutation and trains on its share of each global
    batch, and the gradient is that of the global batch's mean loss, so the weights match one process to
    rounding. ``evaluate`` runs on every rank (on identical weights); ``run`` writes on rank 0 only.

    With a ``run``: metrics are logged as ``"{name}/{metric}"`` at step = epoch number (1-based); a checkpoint
    (model, optimizer, scheduler, generator, global RNG states, history) is saved under ``name`` every
    ``checkpoint_every`` epochs and after the last; if the run already holds one, training continues from it
    (and returns at once if it was complete).

    With ``early_stopping``, its ``step`` sees each epoch's metrics (``"loss"`` and what ``evaluate`` returns);
    training ends after the epoch where its patience runs out, and with ``restore_best`` the model ends with the
    weights of the best epoch (also when all ``epochs`` ran). A checkpoint is saved at the stopping epoch, and the
    early-stopping state travels with every checkpoint, so resuming gives the same stop and the same weights.
    A monitor on a test metric (``"test_..."``) is refused unless ``allow_test_monitor``.

    Raises:
        DivergenceError: the loss or a gradient is NaN/inf; the message names the step and the quantity.
        ValueError: non-positive epochs, batch size or checkpoint interval, x and y of different lengths,
            ``evaluate`` returning ``"loss"``, or a ``test_`` monitor.
        CheckpointError: resuming with early stopping from a checkpoint saved without it or with other settings.
    """
    if epochs < 1 or batch_size < 1 or checkpoint_every < 1:
        raise ValueError(
            f"epochs, batch_size and checkpoint_every must be positive, got {epochs}, {batch_size}, "
            f"{checkpoint_every}"
        )
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    guard = NonFiniteGuard()

    _, world = distributed.rank_and_world()
    # under torchrun: gradients all-reduced by DDP; the checkpointed state stays the plain model
    net: nn.Module = model if world == 1 else nn.parallel.DistributedDataParallel(model)

    def batches(epoch: int) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
        model.train()
        # drawn now, when the epoch starts; the same permutation on every rank, each takes its share
        return distributed.sharded_minibatches(x, y, batch_size=batch_size, generator=generator)

    def step(batch: tuple[int, tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        n_batch, (xb, yb) = batch
        if world == 1:
            loss = loss_fn(net(xb), yb)
            guard.watch("training loss", loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        else:  # the gradient of the global batch's mean loss, whatever the shares' sizes
            out = net(xb)
            weight = distributed.shard_weight(len(xb), n_batch)
            mine = loss_fn(out, yb) * weight if len(xb) else out.sum() * 0.0
            loss = distributed.all_reduce_sum(mine.detach()) / world  # the global batch's mean loss
            guard.watch("training loss", loss)
            optimizer.zero_grad(set_to_none=True)
            mine.backward()
        guard.watch_gradients(model)
        optimizer.step()
        return {"loss": loss.detach()}

    def evaluate_model() -> dict[str, float]:
        assert evaluate is not None
        metrics = evaluate(model)
        if "loss" in metrics:
            raise ValueError(
                "evaluate returned 'loss', which would overwrite the training loss in the history: name it "
                "by its split (e.g. {'test_loss': ...}, {f'val_{k}': v for k, v in metrics.items()})"
            )
        return metrics

    state: dict[str, Any] = {"model": model, "optimizer": optimizer}
    if scheduler is not None:
        state["scheduler"] = scheduler
    if generator is not None:
        state["generator"] = generator
    result = train(
        step,
        batches,
        state=state,
        epochs=epochs,
        run=run,
        name=name,
        evaluate=evaluate_model if evaluate is not None else None,
        checkpoint_every=checkpoint_every,
        early_stopping=early_stopping,
        allow_test_monitor=allow_test_monitor,
        epoch_scheduler=scheduler,
        guard=guard,
    )
    return FitResult(result.history, result.steps, result.resumed_from, result.stopped_at, result.best_at)


@torch.no_grad()
def classification_metrics(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096
) -> dict[str, float]:
    """Mean cross-entropy loss and error rate (fraction misclassified) of a classifier on ``(x, y)``."""
    loss = torch.zeros((), dtype=torch.float64, device=x.device)
    wrong = 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        target = y[i : i + batch_size]
        loss += nn.functional.cross_entropy(logits, target, reduction="sum").double()
        wrong += int((logits.argmax(-1) != target).sum())
    return {"loss": float(loss) / len(x), "error": wrong / len(x)}
