r"""RMSprop (Tieleman & Hinton, 2012), an adaptive method of the notes to UDL ch. 6 and a precursor of Adam.

RMSprop is the second half of Adam (UDL eq. 6.15, second line) on its own: keep a moving average of the squared
gradient and divide each gradient component by its root,

.. math::
    \mathbf{v}_t = \alpha\,\mathbf{v}_{t-1} + (1-\alpha)\,\mathbf{g}_t^2, \qquad
    \boldsymbol\phi_t = \boldsymbol\phi_{t-1} - \gamma\,\frac{\mathbf{g}_t}{\sqrt{\mathbf{v}_t}+\epsilon},

with no first-moment average and no bias correction (so the first steps are large: :math:`\mathbf{v}_1 =
(1-\alpha)\mathbf{g}_1^2`). Note the name clash: torch's (and this module's) ``alpha`` is the smoothing constant,
and the learning rate is ``lr`` (γ here, α in the book).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from udl.optim._common import BookOptimizer, GroupHyper, as_real, init_states, run_update

__all__ = ["RMSprop"]


class RMSprop(BookOptimizer):
    r"""RMSprop, optionally centered and with momentum; the rule of ``torch.optim.RMSprop``.

    With :math:`\mathbf{g}_t = \pm\nabla L + \lambda\boldsymbol\phi_{t-1}` (``-`` for ``maximize``, λ the L2
    ``weight_decay``):

    .. math::
        \mathbf{v}_t &= \alpha\,\mathbf{v}_{t-1} + (1-\alpha)\,\mathbf{g}_t^2, \qquad
        \bar{\mathbf{g}}_t = \alpha\,\bar{\mathbf{g}}_{t-1} + (1-\alpha)\,\mathbf{g}_t \;\text{(centered only)} \\
        \mathbf{d}_t &= \sqrt{\mathbf{v}_t} + \epsilon \quad\text{or, centered,}\quad
            \sqrt{\mathbf{v}_t - \bar{\mathbf{g}}_t^2} + \epsilon \\
        \mathbf{b}_t &= \mu\,\mathbf{b}_{t-1} + \mathbf{g}_t / \mathbf{d}_t, \qquad
        \boldsymbol\phi_t = \boldsymbol\phi_{t-1} - \gamma\,\mathbf{b}_t
            \quad\text{(with μ = 0: } \boldsymbol\phi_t = \boldsymbol\phi_{t-1} - \gamma\,\mathbf{g}_t/\mathbf{d}_t)

    Centering divides by an estimate of the gradient's standard deviation instead of its root mean square.

    Args:
        params: parameters, or dicts defining parameter groups (each may override any hyperparameter below).
        lr: learning rate γ.
        alpha: smoothing constant α >= 0 of the averages.
        eps: ε >= 0, added to the denominator.
        weight_decay: L2 penalty λ >= 0.
        momentum: μ >= 0 (0 disables the momentum buffer).
        centered: normalize by the estimated standard deviation of the gradient.
        maximize: ascend the objective instead of descending it.
        foreach: ``True``: update all tensors of a group with ``torch._foreach_*`` kernels; ``False``: one tensor at
            a time; ``None``: multi-tensor when all parameters with a gradient share one device.

    State (per parameter, tensors): ``step`` (0-dim int64 count of updates), ``square_avg`` :math:`\mathbf{v}_t`,
    ``grad_avg`` :math:`\bar{\mathbf{g}}_t` when centered, ``momentum_buffer`` :math:`\mathbf{b}_t` when μ > 0.

    Raises:
        ValueError: a negative ``lr``, ``alpha``, ``eps``, ``weight_decay`` or ``momentum``, a non-finite value.
        RuntimeError (at ``step``): a sparse gradient.
    """

    _name = "RMSprop"
    _nonnegative = ("lr", "alpha", "eps", "weight_decay", "momentum")
    _flags = ("centered", "maximize")
    _added_later: ClassVar[dict[str, Any]] = {
        "momentum": 0.0,
        "centered": False,
        "foreach": None,
        "maximize": False,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults: dict[str, Any] = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        later = tuple(name for name, on in (("momentum_buffer", momentum > 0), ("grad_avg", centered)) if on)
        states = init_states(self, params, ("square_avg",), later)
        real_params = [as_real(p) for p in params]
        real_grads = [as_real(g) for g in grads]
        square_avgs = [as_real(s["square_avg"]) for s in states]
        grad_avgs = [as_real(s["grad_avg"]) for s in states] if centered else None
        buffers = [as_real(s["momentum_buffer"]) for s in states] if momentum > 0 else None
        steps = [s["step"] for s in states]
        hyper = _RMSpropHyper.of(group, momentum=momentum)
        tensors = _RMSpropTensors(real_params, real_grads, square_avgs, grad_avgs, buffers, steps)
        foreach = self._use_foreach(group["foreach"], params)
        run_update(_rmsprop_single_tensor, _rmsprop_multi_tensor, tensors, hyper, foreach=foreach)


class _RMSpropTensors(NamedTuple):
    """One (device, dtype) group's parallel lists: parameters, gradients and RMSprop state."""

    params: list[Tensor]
    grads: list[Tensor]
    square_avgs: list[Tensor]
    grad_avgs: list[Tensor] | None
    buffers: list[Tensor] | None
    steps: list[Tensor]


@dataclass(frozen=True)
class _RMSpropHyper(GroupHyper):
    """RMSprop's hyperparameters beyond lr, weight_decay and maximize."""

    alpha: float
    eps: float
    momentum: float


def _rmsprop_single_tensor(tensors: _RMSpropTensors, hyper: _RMSpropHyper) -> None:
    params, grads, square_avgs, grad_avgs, buffers, steps = tensors
    lr, alpha, eps = hyper.lr, hyper.alpha, hyper.eps
    weight_decay, momentum, maximize = hyper.weight_decay, hyper.momentum, hyper.maximize
    for i, (phi, grad, v, step) in enumerate(zip(params, grads, square_avgs, steps, strict=True)):
        step += 1
        g = grad.neg() if maximize else grad
        if weight_decay != 0:
            g = g.add(phi, alpha=weight_decay)
        v.mul_(alpha).addcmul_(g, g, value=1.0 - alpha)  # v ← α v + (1-α) g²
        if grad_avgs is not None:
            g_bar = grad_avgs[i].lerp_(g, 1.0 - alpha)  # ḡ ← α ḡ + (1-α) g
            denom = v.addcmul(g_bar, g_bar, value=-1.0).sqrt_().add_(eps)  # sqrt(v - ḡ²) + ε
        else:
            denom = v.sqrt().add_(eps)
        if buffers is not None:
            buffers[i].mul_(momentum).addcdiv_(g, denom)  # b ← μ b + g / d
            phi.add_(buffers[i], alpha=-lr)
        else:
            phi.addcdiv_(g, denom, value=-lr)


def _rmsprop_multi_tensor(tensors: _RMSpropTensors, hyper: _RMSpropHyper) -> None:
    params, grads, square_avgs, grad_avgs, buffers, steps = tensors
    lr, alpha, eps = hyper.lr, hyper.alpha, hyper.eps
    weight_decay, momentum, maximize = hyper.weight_decay, hyper.momentum, hyper.maximize
    g: list[Tensor] = list(torch._foreach_neg(grads)) if maximize else grads
    torch._foreach_add_(steps, 1)
    if weight_decay != 0:
        if maximize:  # g is already a fresh copy
            torch._foreach_add_(g, params, alpha=weight_decay)
        else:
            g = list(torch._foreach_add(g, params, alpha=weight_decay))
    torch._foreach_mul_(square_avgs, alpha)
    torch._foreach_addcmul_(square_avgs, g, g, value=1.0 - alpha)
    if grad_avgs is not None:
        torch._foreach_lerp_(grad_avgs, g, 1.0 - alpha)
        denom = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1.0)
        torch._foreach_sqrt_(denom)
    else:
        denom = torch._foreach_sqrt(square_avgs)
    torch._foreach_add_(denom, eps)
    if buffers is not None:
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_addcdiv_(buffers, g, denom)
        torch._foreach_add_(params, buffers, alpha=-lr)
    else:
        torch._foreach_addcdiv_(params, g, denom, value=-lr)
