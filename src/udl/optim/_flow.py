r"""The gradient flow :math:`\partial\boldsymbol\phi/\partial t = -\mathbf{g}(\boldsymbol\phi)`, integrated with RK4
(UDL section 9.2.1): the continuous limit of gradient descent, to compare with its discrete iterates."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["gradient_flow"]


def gradient_flow(
    grad_fn: Callable[[Tensor], Tensor], phi0: Tensor, times: Sequence[float] | Tensor, *, max_dt: float
) -> Tensor:
    r"""Integrate the flow :math:`\partial\boldsymbol\phi/\partial t = -\mathbf{g}(\boldsymbol\phi)` from t = 0.

    The classical fourth-order Runge-Kutta method with steps of at most ``max_dt``: each interval
    :math:`[t_{i-1}, t_i]` is cut into :math:`\lceil (t_i - t_{i-1}) / \text{max\_dt}\rceil` equal steps

    .. math:: \mathbf{k}_1 = -\mathbf{g}(\boldsymbol\phi),\ \mathbf{k}_2 = -\mathbf{g}(\boldsymbol\phi
              + \tfrac h2\mathbf{k}_1),\ \mathbf{k}_3 = -\mathbf{g}(\boldsymbol\phi + \tfrac h2\mathbf{k}_2),\
              \mathbf{k}_4 = -\mathbf{g}(\boldsymbol\phi + h\mathbf{k}_3),\quad
              \boldsymbol\phi \leftarrow \boldsymbol\phi + \tfrac h6(\mathbf{k}_1 + 2\mathbf{k}_2 + 2\mathbf{k}_3
              + \mathbf{k}_4),

    whose global error is :math:`O(h^4)`. With ``grad_fn`` the gradient of L this is the continuous limit of
    gradient descent (section 9.2.1); with :func:`modified_loss_gradient` it is the flow that gradient descent
    with a finite step actually tracks.

    Args:
        grad_fn: :math:`\mathbf{g}(\boldsymbol\phi)`, e.g. ``lambda p: modified_loss_gradient(L, p, lr)``.
        phi0: the start :math:`\boldsymbol\phi(0)`.
        times: non-decreasing times >= 0 at which to record the path.
        max_dt: the largest Runge-Kutta step, > 0.

    Returns:
        The path, shape ``(len(times), *phi0.shape)``: row i is :math:`\boldsymbol\phi(t_i)`.
    """
    t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    if not math.isfinite(max_dt) or max_dt <= 0:
        raise ValueError(f"max_dt must be finite and > 0, got {max_dt}")
    if len(t) and (not bool(torch.isfinite(t).all()) or float(t[0]) < 0 or bool((t.diff() < 0).any())):
        raise ValueError("times must be finite, >= 0 and non-decreasing")
    phi = phi0.detach().clone()
    path, now = [], 0.0
    for target in t.tolist():
        n = math.ceil((target - now) / max_dt - 1e-12) if target > now else 0
        h = (target - now) / n if n else 0.0
        for _ in range(n):
            k1 = -grad_fn(phi)
            k2 = -grad_fn(phi + 0.5 * h * k1)
            k3 = -grad_fn(phi + 0.5 * h * k2)
            k4 = -grad_fn(phi + h * k3)
            phi = phi + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        now = target
        path.append(phi.clone())
    return torch.stack(path) if path else phi0.new_empty((0, *phi0.shape))
