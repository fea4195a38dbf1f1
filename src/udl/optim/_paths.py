r"""The path of any ``torch.optim.Optimizer`` on a small loss landscape (UDL figs 6.4-6.7 draw such paths).

:func:`optimizer_path` runs an optimizer from a starting point and records every iterate, so different
optimizers (or one with different settings) can be compared on the same surface; the loss may change with the
step, which is how a minibatch (SGD) path is drawn. :func:`first_step_below` reads off when a loss sequence first
reaches a level (the time to escape a saddle); :func:`steps_to_tolerance` counts the updates an optimizer needs
to cut a loss to a fraction of its start (UDL section 6.3: momentum on badly scaled problems).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["first_step_below", "optimizer_path", "steps_to_tolerance"]


def optimizer_path(
    optimizer: Callable[..., torch.optim.Optimizer],
    start: Tensor,
    loss: Callable[[Tensor, int], Tensor],
    steps: int,
    **kwargs: Any,
) -> Tensor:
    """Iterates of ``optimizer([φ], **kwargs)`` on ``loss(φ, step)`` from ``start``, one per step.

    Args:
        optimizer: an optimizer class (``udl.optim.SGD``, ``Adam``, ...) or any factory taking the parameter list.
        start: the starting point φ_0, a floating-point tensor of any shape P (not modified).
        loss: ``loss(φ, t)`` is the scalar loss minimized at step t (a minibatch loss may depend on t).
        steps: number of updates (>= 0).
        **kwargs: the optimizer's settings (``lr``, ``momentum``, ...).

    Returns:
        The path, shape (steps + 1, *P): ``path[0] == start``, ``path[t]`` is φ after t updates.

    Example:
        >>> from udl.optim import SGD
        >>> path = optimizer_path(SGD, torch.tensor([1.0]), lambda p, t: (p**2).sum(), 2, lr=0.25)
        >>> path.squeeze(1).tolist()
        [1.0, 0.5, 0.25]
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if not isinstance(start, Tensor) or not start.is_floating_point():
        raise ValueError(f"start must be a floating-point tensor, got {start!r}")
    phi = start.detach().clone().requires_grad_()
    opt = optimizer([phi], **kwargs)
    path = [phi.detach().clone()]
    for step in range(steps):
        opt.zero_grad()
        loss(phi, step).backward()
        opt.step()
        path.append(phi.detach().clone())
    return torch.stack(path)


def first_step_below(values: Tensor, level: float) -> int | None:
    """The first index t with ``values[t] < level`` (NaN never counts), or None if there is none.

    Example:
        >>> first_step_below(torch.tensor([0.0, -0.1, -0.4, -0.5]), -0.25)
        2
    """
    if values.dim() != 1:
        raise ValueError(f"values must be 1-D, got shape {tuple(values.shape)}")
    below = (values < level).nonzero()
    return int(below[0]) if len(below) else None


def steps_to_tolerance(
    optimizer: Callable[..., torch.optim.Optimizer],
    start: Tensor,
    loss: Callable[[Tensor], Tensor],
    tolerance: float,
    max_steps: int,
    *,
    blow_up: float = 1e6,
    **kwargs: Any,
) -> int | None:
    """Updates of ``optimizer([φ], **kwargs)`` until ``loss(φ) <= tolerance · loss(start)``; None if never.

    Stops early, returning None, when the loss becomes non-finite or exceeds ``blow_up`` times its start
    (divergence), or after ``max_steps`` updates.

    Example:
        >>> from udl.optim import SGD
        >>> steps_to_tolerance(SGD, torch.tensor([1.0]), lambda p: (p**2).sum(), 0.01, 100, lr=0.25)
        4
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"max_steps must be an integer >= 0, got {max_steps!r}")
    phi = start.detach().clone().requires_grad_()
    opt = optimizer([phi], **kwargs)
    first = None
    for step in range(max_steps + 1):
        value = loss(phi)
        current = float(value.detach())
        if first is None:
            first = current
        if not math.isfinite(current) or current > blow_up * first:
            return None
        if current <= tolerance * first:
            return step
        opt.zero_grad()
        value.backward()
        opt.step()
    return None
