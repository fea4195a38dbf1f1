r"""Minimize a small full-batch loss to convergence: Adam with cosine decay, or L-BFGS for smooth losses.

For fitting a handful of parameters by maximum likelihood (UDL chapter 5's recipe), where the whole data set
is one batch: ``loss()`` recomputes the loss from the current parameters.

Example:
    >>> import torch
    >>> phi = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    >>> round(minimize_lbfgs(lambda: ((phi - 3.0) ** 2).sum(), [phi]), 12), round(float(phi), 6)
    (0.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from udl.optim._adam import Adam
from udl.optim._schedules import CosineDecay

__all__ = ["minimize_adam", "minimize_lbfgs"]


def minimize_adam(loss: Callable[[], Tensor], params: list[Tensor], steps: int, lr: float = 0.05) -> float:
    """``steps`` full-batch Adam steps with the learning rate decayed from ``lr`` to 0 along a half cosine.

    Works for losses that are not differentiable everywhere (absolute residuals). Returns the final loss.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    opt = Adam(params, lr=lr)
    sched = CosineDecay(opt, total_steps=steps)
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
        sched.step()
    return float(loss().detach())


def minimize_lbfgs(loss: Callable[[], Tensor], params: list[Tensor], iterations: int = 100) -> float:
    """``torch.optim.LBFGS`` with a strong-Wolfe line search (gradient tolerance 1e-12), for smooth losses.

    Returns the final loss.
    """
    opt = torch.optim.LBFGS(params, max_iter=iterations, line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def closure() -> Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    opt.step(closure)
    return float(loss().detach())
