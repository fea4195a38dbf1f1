"""What a step function calls: one optimizer update (clipping, per-step schedule, loss scaling), micro-batches for
gradient accumulation, and mixed precision.

These are helpers, not callbacks: the step function that ``udl.train.train`` drives does its own optimization
and calls them where it wants them (a GAN builds one :class:`OptimizerStep` per network). The order inside an
update is the one mixed precision needs: backward of the (scaled) loss, unscale, clip, step, update the scale,
step the schedule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["OptimizerStep", "autocast", "grad_scaler", "micro_batches"]


class OptimizerStep:
    """One optimizer update: ``backward(loss)`` one or more times, then ``step()``; ``update(loss)`` does both.

    Gradients are cleared (set to None) at the first ``backward`` after a ``step``, not after the step: a GAN's
    generator loss also fills the discriminator's gradients, and those must not leak into its next update.

    Args:
        optimizer: the optimizer to step.
        clip_norm: clip the gradients of the optimizer's parameters to this total 2-norm before stepping
            (``torch.nn.utils.clip_grad_norm_``), or None.
        scheduler: a learning-rate schedule stepped after every update (a per-step schedule: warm-up, cosine), or
            None. A per-epoch schedule goes to ``train(..., epoch_scheduler=...)`` instead.
        scaler: a ``torch.amp.GradScaler`` (float16 autocast, see :func:`grad_scaler`), or None. With a scaler,
            the gradients are unscaled before clipping, and steps with non-finite gradients are skipped.

    Example::

        update = OptimizerStep(optimizer, clip_norm=1.0, scheduler=WarmupThenDecay(optimizer, 100, 10_000))

        def step(batch):
            loss = loss_fn(model(batch.x), batch.y)
            return {"loss": loss.detach(), "grad_norm": update(loss)}

    Gradient accumulation over micro-batches (the same update as one big batch, with less memory)::

        for part, weight in micro_batches(batch, 4):
            update.backward(loss_fn(model(part[0]), part[1]) * weight)
        update.step()
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        clip_norm: float | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive or None, got {clip_norm!r}")
        self.optimizer, self.clip_norm, self.scheduler, self.scaler = optimizer, clip_norm, scheduler, scaler
        self._fresh = True

    def backward(self, loss: Tensor) -> None:
        """Add the gradient of ``loss`` (scaled by the scaler, if any) to the parameters' gradients."""
        if self._fresh:
            self.optimizer.zero_grad(set_to_none=True)
            self._fresh = False
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self) -> Tensor | None:
        """Clip, step the optimizer (through the scaler), step the schedule; the gradient norm before clipping
        (a 0-d tensor, no host synchronization) when ``clip_norm`` is set, else None."""
        norm = None
        if self.clip_norm is not None:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            params = [
                p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None
            ]
            norm = torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self._fresh = True
        return norm

    def __call__(self, loss: Tensor) -> Tensor | None:
        """``backward(loss)`` then ``step()``."""
        self.backward(loss)
        return self.step()


def micro_batches(batch: Tensor | Sequence[Tensor], parts: int) -> Iterator[tuple[Any, float]]:
    """Split ``batch`` (a tensor, or a tuple/list of tensors sharing their first dimension) into ``parts``
    nearly equal micro-batches along dimension 0; yields ``(micro_batch, weight)`` with weight = its share of
    the examples, so ``Σ weight · mean loss(micro_batch)`` is the big batch's mean loss. Empty parts are skipped.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be an integer >= 1, got {parts!r}")
    tensors = [batch] if isinstance(batch, Tensor) else list(batch)
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(
            f"the batch's tensors must share their first dimension, got {[len(t) for t in tensors]}"
        )
    pieces = [t.tensor_split(parts) for t in tensors]
    for j in range(parts):
        size = len(pieces[0][j])
        if size:
            part = [p[j] for p in pieces]
            yield (
                (part[0] if isinstance(batch, Tensor) else part if isinstance(batch, list) else tuple(part)),
                size / n,
            )


def autocast(
    device: torch.device | str, dtype: torch.dtype = torch.bfloat16, *, enabled: bool = True
) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` for ``device``'s type: run the forward pass (and the loss) inside it, the backward and
    the optimizer step outside. bfloat16 (the default) has float32's range and needs no loss scaling, on CPU and
    CUDA; float16 on CUDA needs a :func:`grad_scaler`. ``enabled=False`` is plain float32, for one code path."""
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"autocast dtype must be torch.bfloat16 or torch.float16, got {dtype}")
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=enabled)


def grad_scaler(device: torch.device | str, dtype: torch.dtype) -> torch.amp.GradScaler | None:
    """A ``torch.amp.GradScaler`` where autocast needs one — float16, whose small range underflows gradients —
    else None (bfloat16, float32). Put it in ``train``'s ``state`` so its scale is checkpointed."""
    return torch.amp.GradScaler(torch.device(device).type) if dtype == torch.float16 else None
