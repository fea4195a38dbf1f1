r"""Learning-rate schedules (UDL section 6.5: the learning rate is usually reduced as training proceeds).

Each schedule multiplies or replaces the base learning rate :math:`\alpha_0` of every parameter group (the ``lr``
the group had when the schedule was created, kept as ``initial_lr``) with a closed form in the step count t
(``last_epoch``; ``scheduler.step()`` is called once per optimizer step or once per epoch, as you like):

- :class:`StepDecay`: :math:`\alpha_0\,\gamma^{\lfloor t/s \rfloor}` (``torch.optim.lr_scheduler.StepLR``);
- :class:`ExponentialDecay`: :math:`\alpha_0\,\gamma^{t}` (``ExponentialLR``);
- :class:`CosineDecay`: half a cosine from :math:`\alpha_0` to a floor (``CosineAnnealingLR`` up to ``T_max``);
- :class:`WarmupThenDecay`: linear warm-up, then cosine or linear decay.

Because ``get_lr`` is a closed form in t (torch's own schedulers mostly update the current ``lr`` multiplicatively),
a schedule restored with ``load_state_dict`` continues exactly, whatever the optimizer's ``lr`` was meanwhile.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from udl.optim._common import check_nonnegative, check_real

__all__ = ["CosineDecay", "ExponentialDecay", "StepDecay", "WarmupThenDecay"]

Decay = Literal["cosine", "linear"]
_DECAYS = ("cosine", "linear")


def _check_count(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_positive(name: str, value: object) -> float:
    v = check_real(name, value)
    if v <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return v


class _ClosedFormSchedule(LRScheduler):
    """An LRScheduler whose learning rate is ``base_lr * factor(t)`` or a function of ``base_lr`` and t only."""

    def _lr_at(self, base_lr: Any, t: int) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_lr(self) -> list[Any]:
        """The learning rate of every parameter group at step ``last_epoch``, from its base learning rate."""
        t = max(int(self.last_epoch), 0)
        return [self._lr_at(base_lr, t) for base_lr in self.base_lrs]

    # torch calls this when ``step(epoch)`` is given an explicit (deprecated) epoch: same closed form.
    _get_closed_form_lr = get_lr


class StepDecay(_ClosedFormSchedule):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    .. math:: \alpha_t = \alpha_0\,\gamma^{\lfloor t / \text{step\_size} \rfloor}

    Equal to ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``.

    Args:
        optimizer: the optimizer whose groups' ``lr`` is set.
        step_size: s >= 1, the number of steps between decays.
        gamma: γ > 0, the factor applied each time (< 1 decays).
        last_epoch: the index of the last step taken; -1 starts a new schedule.

    Raises:
        ValueError: ``step_size < 1`` or ``gamma <= 0``.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _check_count("step_size", step_size, minimum=1)
        self.gamma = _check_positive("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: Any, t: int) -> Any:
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialDecay(_ClosedFormSchedule):
    r"""Multiply the learning rate by ``gamma`` every step.

    .. math:: \alpha_t = \alpha_0\,\gamma^{t}

    Equal to ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``.

    Args:
        optimizer: the optimizer whose groups' ``lr`` is set.
        gamma: γ > 0 (< 1 decays).
        last_epoch: the index of the last step taken; -1 starts a new schedule.

    Raises:
        ValueError: ``gamma <= 0``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check_positive("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: Any, t: int) -> Any:
        return base_lr * self.gamma**t


def _cosine(base_lr: Any, min_lr: float, fraction: float) -> Any:
    """Half a cosine from ``base_lr`` (fraction 0) to ``min_lr`` (fraction 1)."""
    return min_lr + (base_lr - min_lr) * (1.0 + math.cos(math.pi * fraction)) / 2.0


class CosineDecay(_ClosedFormSchedule):
    r"""Cosine decay from the base learning rate to ``min_lr`` over ``total_steps`` steps (Loshchilov & Hutter's
    SGDR without restarts).

    .. math:: \alpha_t = \alpha_{\min} + \tfrac{1}{2}(\alpha_0 - \alpha_{\min})
        \left(1 + \cos\frac{\pi\,\min(t, T)}{T}\right)

    For t <= T this equals ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T, eta_min=min_lr)``;
    after T the learning rate stays at ``min_lr`` (torch's rises again along the cosine).

    Args:
        optimizer: the optimizer whose groups' ``lr`` is set.
        total_steps: T >= 1.
        min_lr: the floor :math:`\alpha_{\min}` >= 0, the same for every group.
        last_epoch: the index of the last step taken; -1 starts a new schedule.

    Raises:
        ValueError: ``total_steps < 1`` or a negative ``min_lr``.
    """

    def __init__(
        self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.total_steps = _check_count("total_steps", total_steps, minimum=1)
        check_nonnegative("min_lr", min_lr)
        self.min_lr = float(min_lr)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: Any, t: int) -> Any:
        return _cosine(base_lr, self.min_lr, min(t, self.total_steps) / self.total_steps)


class WarmupThenDecay(_ClosedFormSchedule):
    r"""Linear warm-up to the base learning rate, then cosine or linear decay to ``min_lr``.

    With W = ``warmup_steps``, T = ``total_steps``, s = ``start_factor``:

    .. math::
        \alpha_t = \begin{cases}
            \alpha_0 \left(s + (1-s)\,\dfrac{t}{W}\right) & t < W \\[1ex]
            \alpha_{\min} + (\alpha_0 - \alpha_{\min})\,\tfrac{1}{2}\left(1 + \cos \pi u\right)
                \text{ (cosine) or } \alpha_0 + (\alpha_{\min} - \alpha_0)\,u \text{ (linear)},
                \quad u = \dfrac{t - W}{T - W} & W \le t \le T \\[1ex]
            \alpha_{\min} & t > T
        \end{cases}

    So the rate is :math:`s\,\alpha_0` at t = 0 (0 by default), reaches :math:`\alpha_0` at t = W and
    :math:`\alpha_{\min}` at t = T. Warm-up keeps the first updates small while Adam's moment estimates and the
    network's activations settle. For s > 0 the schedule equals torch's ``SequentialLR([LinearLR(start_factor=s,
    total_iters=W), CosineAnnealingLR(T_max=T-W, eta_min=min_lr)], milestones=[W])`` (cosine) up to T.

    Args:
        optimizer: the optimizer whose groups' ``lr`` is set.
        warmup_steps: W >= 0 (0: no warm-up).
        total_steps: T > W, the step at which the decay reaches ``min_lr``.
        decay: ``"cosine"`` or ``"linear"``.
        min_lr: :math:`\alpha_{\min}` >= 0, the same for every group.
        start_factor: s in [0, 1], the fraction of the base rate at t = 0.
        last_epoch: the index of the last step taken; -1 starts a new schedule.

    Raises:
        ValueError: counts out of range, an unknown ``decay``, a negative ``min_lr``, ``start_factor`` outside
            [0, 1].
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        total_steps: int,
        decay: Decay = "cosine",
        min_lr: float = 0.0,
        start_factor: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.warmup_steps = _check_count("warmup_steps", warmup_steps, minimum=0)
        self.total_steps = _check_count("total_steps", total_steps, minimum=1)
        if self.total_steps <= self.warmup_steps:
            raise ValueError(
                f"total_steps must exceed warmup_steps, got total_steps={total_steps}, warmup_steps={warmup_steps}"
            )
        if decay not in _DECAYS:
            raise ValueError(f"unknown decay {decay!r}; valid: {', '.join(_DECAYS)}")
        self.decay: Decay = decay
        check_nonnegative("min_lr", min_lr)
        self.min_lr = float(min_lr)
        s = check_real("start_factor", start_factor)
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"start_factor must be in [0, 1], got {start_factor}")
        self.start_factor = s
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: Any, t: int) -> Any:
        w, total = self.warmup_steps, self.total_steps
        if t < w:
            return base_lr * (self.start_factor + (1.0 - self.start_factor) * t / w)
        if t > total:
            return self.min_lr
        u = (t - w) / (total - w)
        if self.decay == "cosine":
            return _cosine(base_lr, self.min_lr, u)
        return base_lr + (self.min_lr - base_lr) * u
