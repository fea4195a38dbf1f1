"""The small shared training loop: mini-batch SGD-style training with logging, checkpoints and resume.

``fit`` is deliberately plain (nanoGPT-style): shuffle with an explicit generator, step through mini-batches,
stop at the first non-finite loss or gradient, evaluate once per epoch, checkpoint every few epochs. Given a
``run`` (anything with the :class:`RunLike` methods, e.g. the CLI's run directory), it logs each epoch,
shows a progress bar and, when the run already holds a checkpoint under ``name``, continues from it — so a
killed run resumes to the same final weights, bit for bit, as an uninterrupted one. An optional
:class:`~udl.train.EarlyStopping` ends training when a monitored metric stops improving (its state is part of the
checkpoint).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from udl.errors import CheckpointError, DivergenceError
from udl.train._early_stopping import EarlyStopping
from udl.train._seed import global_rng_state, set_global_rng_state


class ProgressLike(Protocol):
    def update(self, completed: int, **fields: float) -> None: ...


class RunLike(Protocol):
    """What the training loop needs from a run: logging, progress and a key-value checkpoint store."""

    def log(self, step: int, **metrics: float) -> None: ...

    def progress(self, total: int, description: str) -> contextlib.AbstractContextManager[ProgressLike]: ...

    def save_state(self, key: str, tree: Any) -> None: ...

    def load_state(self, key: str) -> Any | None: ...


class _NullProgress:
    def update(self, completed: int, **fields: float) -> None:
        pass


class NullRun:
    """A run that records nothing: the default when ``fit`` is used as a plain library function."""

    def log(self, step: int, **metrics: float) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, total: int, description: str) -> Iterator[ProgressLike]:
        yield _NullProgress()

    def save_state(self, key: str, tree: Any) -> None:
        pass

    def load_state(self, key: str) -> Any | None:
        return None


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


def _check_gradients(model: nn.Module, step: int) -> None:
    named = [(n, p.grad) for n, p in model.named_parameters() if p.grad is not None]
    if not named:
        return
    norms = torch._foreach_norm([g for _, g in named])
    if not bool(torch.isfinite(torch.stack(norms)).all()):
        for (n, _), v in zip(named, norms, strict=True):
            if not math.isfinite(float(v)):
                raise DivergenceError(f"gradient of {n}", step, float(v))


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
) -> FitResult:
    """Train ``model`` on ``data = (x, y)`` for ``epochs`` passes of shuffled mini-batches.

    Each epoch draws a permutation from ``generator`` (a CPU ``torch.Generator``; the global RNG if None),
    takes optimizer steps on ``loss_fn(model(x_batch), y_batch)`` (the last batch may be smaller), steps the
    ``scheduler`` once per epoch, and records ``{"loss": mean training loss of the epoch, **evaluate(model)}``.
    ``evaluate`` runs under ``torch.no_grad`` with the model in eval mode.

    With a ``run``: metrics are logged as ``"{name}/{metric}"`` at step = epoch number (1-based); a checkpoint
    (model, optimizer, scheduler, generator, global RNG states, history) is saved under ``name`` every
    ``checkpoint_every`` epochs and after the last; if the run already holds one, training continues from it
    (and returns at once if it was complete).

    With ``early_stopping``, its ``step`` sees each epoch's metrics (``"loss"`` and what ``evaluate`` returns);
    training ends after the epoch where its patience runs out, and with ``restore_best`` the model ends with the
    weights of the best epoch (also when all ``epochs`` ran). A checkpoint is saved at the stopping epoch, and the
    early-stopping state travels with every checkpoint, so resuming gives the same stop and the same weights.

    Raises:
        DivergenceError: the loss or a gradient is NaN/inf; the message names the step and the quantity.
        ValueError: non-positive epochs, batch size or checkpoint interval, or x and y of different lengths.
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
    run = run if run is not None else NullRun()
    n = len(x)
    result = FitResult()
    start = 0

    saved = run.load_state(name)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if generator is not None:
            generator.set_state(saved["generator"])
        set_global_rng_state(saved["rng"])
        start = int(saved["epoch"])
        result.history = [dict(h) for h in saved["history"]]
        result.steps = int(saved["steps"])
        result.resumed_from_epoch = start
        if early_stopping is not None:
            if "early_stopping" not in saved:
                raise CheckpointError(
                    f"checkpoint {name!r} was saved without early stopping; resume it without early_stopping"
                )
            early_stopping.load_state_dict(saved["early_stopping"])

    def checkpoint(epoch: int) -> None:
        run.save_state(
            name,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else {},
                "generator": generator.get_state() if generator is not None else torch.empty(0),
                "rng": global_rng_state(),
                "epoch": epoch,
                "steps": result.steps,
                "history": result.history,
                **({"early_stopping": early_stopping.state_dict()} if early_stopping is not None else {}),
            },
        )

    # A resumed run whose early stopping had already ended it is complete, like one that ran all its epochs.
    end = start if early_stopping is not None and early_stopping.should_stop else epochs
    with run.progress(epochs, name) as bar:
        bar.update(start if end == epochs else epochs)
        for epoch in range(start, end):
            model.train()
            perm = torch.randperm(n, generator=generator).to(x.device)
            total, batches = torch.zeros((), dtype=torch.float64, device=x.device), 0
            for i in range(0, n, batch_size):
                idx = perm[i : i + batch_size]
                loss = loss_fn(model(x[idx]), y[idx])
                result.steps += 1
                if not bool(torch.isfinite(loss)):
                    raise DivergenceError("training loss", result.steps, float(loss.detach()))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                _check_gradients(model, result.steps)
                optimizer.step()
                total += loss.detach()
                batches += 1
            if scheduler is not None:
                scheduler.step()
            metrics = {"loss": float(total) / batches}
            if evaluate is not None:
                model.eval()
                with torch.no_grad():
                    metrics.update(evaluate(model))
                model.train()
            result.history.append(metrics)
            run.log(epoch + 1, **{f"{name}/{k}": v for k, v in metrics.items()})
            bar.update(epoch + 1, loss=metrics["loss"])
            last = epoch + 1 == epochs
            if early_stopping is not None:
                last = early_stopping.step(epoch + 1, metrics, model) or last
                if last and early_stopping.restore_best:
                    early_stopping.restore(model)  # the checkpoint below then holds the best weights
            if (epoch + 1) % checkpoint_every == 0 or last:
                checkpoint(epoch + 1)
            if last:
                break
    if early_stopping is not None:
        result.stopped_epoch, result.best_epoch = early_stopping.stopped_epoch, early_stopping.best_epoch
    return result


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
