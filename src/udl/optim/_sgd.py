r"""Stochastic gradient descent with (Nesterov) momentum, UDL sections 6.2-6.3.

The book writes momentum as an exponential moving average of the gradients (UDL eq. 6.11),

.. math::
    \mathbf{m}_{t+1} \leftarrow \beta\,\mathbf{m}_t + (1-\beta)\,\mathbf{g}_t, \qquad
    \boldsymbol\phi_{t+1} \leftarrow \boldsymbol\phi_t - \alpha\,\mathbf{m}_{t+1}, \qquad \mathbf{m}_0 = \mathbf{0},

where :math:`\mathbf{g}_t = \sum_{i\in\mathcal{B}_t} \partial\ell_i[\boldsymbol\phi_t]/\partial\boldsymbol\phi` is the
batch gradient. ``SGD`` follows ``torch.optim.SGD`` instead, so that trajectories match torch's step for step:

.. math::
    \mathbf{b}_1 = \mathbf{g}_1, \qquad \mathbf{b}_{t} \leftarrow \mu\,\mathbf{b}_{t-1} + (1-\tau)\,\mathbf{g}_t, \qquad
    \boldsymbol\phi_{t} \leftarrow \boldsymbol\phi_{t-1} - \gamma\,\mathbf{b}_t

(lr γ, momentum μ, dampening τ). With ``dampening=0`` the two are the same algorithm: :math:`\mathbf{b}_t =
\mathbf{m}_t / (1-\beta)` for every t, so ``SGD(lr=α(1-β), momentum=β)`` follows the book's path exactly. (With
``dampening=β`` torch's buffer is the book's average except at the first step, where it is :math:`\mathbf{g}_1`
rather than :math:`(1-\beta)\mathbf{g}_1`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from udl.optim._common import BookOptimizer, GroupHyper, check_real, run_update, states_of

__all__ = ["SGD"]


class SGD(BookOptimizer):
    r"""Stochastic gradient descent, optionally with momentum and Nesterov momentum (UDL eq. 6.3, 6.11-6.12).

    With :math:`\mathbf{g}_t = \pm\nabla L + \lambda\boldsymbol\phi_{t-1}` (sign ``-`` for ``maximize``, λ the
    L2 ``weight_decay``):

    .. math::
        \mathbf{b}_t = \begin{cases} \mathbf{g}_t & t = 1 \\
            \mu\,\mathbf{b}_{t-1} + (1-\tau)\,\mathbf{g}_t & t > 1 \end{cases}, \qquad
        \boldsymbol\phi_t = \boldsymbol\phi_{t-1} - \gamma \begin{cases}
            \mathbf{g}_t & \mu = 0 \text{ (plain SGD, eq. 6.3 on a batch)} \\
            \mathbf{b}_t & \text{momentum} \\
            \mathbf{g}_t + \mu\,\mathbf{b}_t & \text{Nesterov} \end{cases}

    This is ``torch.optim.SGD``'s rule. Its relation to the book (see the module docstring): with τ = 0,
    :math:`\mathbf{b}_t = \mathbf{m}_t/(1-\beta)`, so momentum SGD with (γ, μ) is eq. 6.11 with β = μ and
    α = γ/(1-μ). Nesterov momentum (eq. 6.12) evaluates the gradient at the look-ahead point
    :math:`\boldsymbol\phi_t - \alpha\beta\,\mathbf{m}_t`; writing :math:`\boldsymbol\psi_t = \boldsymbol\phi_t -
    \alpha\beta\,\mathbf{m}_t` for that point, eq. 6.12 becomes
    :math:`\boldsymbol\psi_{t+1} = \boldsymbol\psi_t - \alpha(1-\beta)\,[\mathbf{g}_t + \beta\,\mathbf{b}_{t+1}]`,
    which is the Nesterov branch above: the parameters torch's rule stores are the book's look-ahead points.

    Args:
        params: parameters, or dicts defining parameter groups (each may override any hyperparameter below).
        lr: learning rate γ (torch's default 1e-3).
        momentum: momentum factor μ >= 0 (0 disables momentum).
        dampening: τ, the gradient is added to the buffer with weight 1 - τ (from the second step on).
        weight_decay: L2 penalty λ >= 0, added to the gradient as :math:`\lambda\boldsymbol\phi`.
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: ascend the objective instead of descending it.
        foreach: ``True``: update all tensors of a group with ``torch._foreach_*`` kernels; ``False``: one tensor at
            a time; ``None``: multi-tensor when all parameters with a gradient share one device.

    State (per parameter, tensors): ``momentum_buffer`` :math:`\mathbf{b}_t` when ``momentum > 0``.

    Raises:
        ValueError: a negative ``lr``, ``momentum`` or ``weight_decay``, a non-finite hyperparameter, or
            ``nesterov`` without momentum or with dampening.
        RuntimeError (at ``step``): a sparse gradient.
    """

    _name = "SGD"
    _nonnegative = ("lr", "momentum", "weight_decay")
    _flags = ("nesterov", "maximize")
    _added_later: ClassVar[dict[str, Any]] = {"nesterov": False, "maximize": False, "foreach": None}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
        }
        super().__init__(params, defaults)

    @classmethod
    def _check_hyperparameters(cls, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        check_real("dampening", group["dampening"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov=True needs momentum > 0 and dampening == 0, got momentum={group['momentum']}, "
                f"dampening={group['dampening']}"
            )

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        states = states_of(self, params) if group["momentum"] != 0 else [{} for _ in params]
        hyper = _SGDHyper.of(group)
        foreach = self._use_foreach(group["foreach"], params)
        run_update(
            _sgd_single_tensor, _sgd_multi_tensor, _SGDTensors(params, grads, states), hyper, foreach=foreach
        )


class _SGDTensors(NamedTuple):
    """One (device, dtype) group's parallel lists: parameters, gradients and momentum buffers."""

    params: list[Tensor]
    grads: list[Tensor]
    states: list[dict[str, Any]]


@dataclass(frozen=True)
class _SGDHyper(GroupHyper):
    """SGD's hyperparameters beyond lr, weight_decay and maximize."""

    momentum: float
    dampening: float
    nesterov: bool


def _sgd_single_tensor(tensors: _SGDTensors, hyper: _SGDHyper) -> None:
    params, grads, states = tensors
    lr, momentum, dampening, weight_decay = hyper.lr, hyper.momentum, hyper.dampening, hyper.weight_decay
    nesterov, maximize = hyper.nesterov, hyper.maximize
    for phi, grad, state in zip(params, grads, states, strict=True):
        g = grad.neg() if maximize else grad  # ascent is descent on -L
        if weight_decay != 0:
            g = g.add(phi, alpha=weight_decay)  # gradient of L + (λ/2)‖φ‖²
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.detach().clone()  # b_1 = g_1
            else:
                buf.mul_(momentum).add_(g, alpha=1.0 - dampening)  # b_t = μ b_{t-1} + (1-τ) g_t
            g = g.add(buf, alpha=momentum) if nesterov else buf
        phi.add_(g, alpha=-lr)  # φ ← φ - γ (step direction)


def _sgd_multi_tensor(tensors: _SGDTensors, hyper: _SGDHyper) -> None:
    params, grads, states = tensors
    lr, momentum, dampening, weight_decay = hyper.lr, hyper.momentum, hyper.dampening, hyper.weight_decay
    nesterov, maximize = hyper.nesterov, hyper.maximize
    # `own` records whether `g` holds fresh tensors (safe to modify in place) or aliases the users' .grad tensors.
    g: list[Tensor] = list(torch._foreach_neg(grads)) if maximize else grads
    own = maximize
    if weight_decay != 0:
        if own:
            torch._foreach_add_(g, params, alpha=weight_decay)
        else:
            g, own = list(torch._foreach_add(g, params, alpha=weight_decay)), True
    if momentum != 0:
        bufs: list[Tensor | None] = [state.get("momentum_buffer") for state in states]
        if all(b is not None for b in bufs):
            old = [b for b in bufs if b is not None]
            torch._foreach_mul_(old, momentum)
            torch._foreach_add_(old, g, alpha=1.0 - dampening)
        else:  # first step for some tensors: their buffer starts as their gradient
            for i, (b, gi) in enumerate(zip(bufs, g, strict=True)):
                if b is None:
                    bufs[i] = states[i]["momentum_buffer"] = gi.detach().clone()
                else:
                    b.mul_(momentum).add_(gi, alpha=1.0 - dampening)
        buffers = [b for b in bufs if b is not None]
        if nesterov:
            if own:
                torch._foreach_add_(g, buffers, alpha=momentum)
            else:
                g = list(torch._foreach_add(g, buffers, alpha=momentum))
        else:
            g = buffers
    torch._foreach_add_(params, g, alpha=-lr)
