r"""Adam and AdamW, UDL section 6.4.

Adam (Kingma & Ba, 2015) starts from *normalized gradients* (UDL eq. 6.13-6.14): take a step of fixed size α in
the direction of the sign of each gradient component, :math:`\boldsymbol\phi \leftarrow \boldsymbol\phi -
\alpha\,\mathbf{m}/(\sqrt{\mathbf{v}}+\epsilon)` with :math:`\mathbf{m} = \mathbf{g}`, :math:`\mathbf{v} =
\mathbf{g}^2`. To converge it smooths both statistics with momentum (eq. 6.15), corrects their bias towards the
zero initialization (eq. 6.16) and steps with the corrected ratio (eq. 6.17):

.. math::
    \mathbf{m}_{t+1} &\leftarrow \beta\,\mathbf{m}_t + (1-\beta)\,\mathbf{g}_t, \qquad
    \mathbf{v}_{t+1} \leftarrow \gamma\,\mathbf{v}_t + (1-\gamma)\,\mathbf{g}_t^2 \\
    \tilde{\mathbf{m}}_{t+1} &\leftarrow \frac{\mathbf{m}_{t+1}}{1-\beta^{t+1}}, \qquad
    \tilde{\mathbf{v}}_{t+1} \leftarrow \frac{\mathbf{v}_{t+1}}{1-\gamma^{t+1}} \\
    \boldsymbol\phi_{t+1} &\leftarrow \boldsymbol\phi_t - \alpha\,\frac{\tilde{\mathbf{m}}_{t+1}}
        {\sqrt{\tilde{\mathbf{v}}_{t+1}}+\epsilon}

The book's (β, γ) are torch's ``betas = (β1, β2)``; the rule is exactly ``torch.optim.Adam``'s, and the code
evaluates it in the same floating-point order so that trajectories agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from udl.optim._common import BookOptimizer, GroupHyper, as_real, check_beta, init_states, run_update

__all__ = ["Adam", "AdamW"]


class Adam(BookOptimizer):
    r"""Adam, UDL eq. 6.15-6.17, with optional L2 penalty, decoupled weight decay and AMSGrad.

    With :math:`\mathbf{g}_t = \pm\nabla L` (``-`` for ``maximize``) and step count t = 1, 2, ... per parameter:

    .. math::
        \mathbf{g}_t &\leftarrow \mathbf{g}_t + \lambda\boldsymbol\phi_{t-1}
            \quad\text{(L2 penalty; or, decoupled: } \boldsymbol\phi_{t-1} \leftarrow (1-\alpha\lambda)
            \boldsymbol\phi_{t-1}\text{)} \\
        \mathbf{m}_t &= \beta_1\mathbf{m}_{t-1} + (1-\beta_1)\,\mathbf{g}_t, \qquad
        \mathbf{v}_t = \beta_2\mathbf{v}_{t-1} + (1-\beta_2)\,\mathbf{g}_t^2 \\
        \hat{\mathbf{v}}_t &= \mathbf{v}_t \text{, or } \max(\hat{\mathbf{v}}_{t-1}, \mathbf{v}_t)
            \text{ with AMSGrad (Reddi et al., 2018)} \\
        \boldsymbol\phi_t &= \boldsymbol\phi_{t-1} - \frac{\alpha}{1-\beta_1^t}\,
            \frac{\mathbf{m}_t}{\sqrt{\hat{\mathbf{v}}_t}/\sqrt{1-\beta_2^t} + \epsilon}

    (the last line is eq. 6.16-6.17 with the bias corrections folded into scalars). Parameters without a gradient
    at a step are skipped, and their step count does not advance.

    Args:
        params: parameters, or dicts defining parameter groups (each may override any hyperparameter below).
        lr: step size α.
        betas: (β1, β2), the book's (β, γ); each in [0, 1).
        eps: ε >= 0, added to the denominator.
        weight_decay: λ >= 0. An L2 penalty added to the gradient (so it is rescaled by Adam, unlike true weight
            decay) unless ``decoupled_weight_decay``.
        amsgrad: normalize by the running maximum of :math:`\mathbf{v}_t`.
        maximize: ascend the objective instead of descending it.
        foreach: ``True``: update all tensors of a group with ``torch._foreach_*`` kernels; ``False``: one tensor at
            a time; ``None``: multi-tensor when all parameters with a gradient share one device.
        decoupled_weight_decay: shrink the parameters by :math:`(1-\alpha\lambda)` before the Adam step instead of
            adding :math:`\lambda\boldsymbol\phi` to the gradient; this is :class:`AdamW`.

    State (per parameter, tensors): ``step`` (0-dim int64 count of updates), ``exp_avg`` :math:`\mathbf{m}_t`,
    ``exp_avg_sq`` :math:`\mathbf{v}_t`, and ``max_exp_avg_sq`` :math:`\hat{\mathbf{v}}_t` with AMSGrad.

    Raises:
        ValueError: a negative ``lr``, ``eps`` or ``weight_decay``, a beta outside [0, 1), a non-finite value.
        RuntimeError (at ``step``): a sparse gradient.
    """

    _name = "Adam"
    _nonnegative = ("lr", "eps", "weight_decay")
    _flags = ("amsgrad", "maximize", "decoupled_weight_decay")
    _added_later: ClassVar[dict[str, Any]] = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "decoupled_weight_decay": False,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults: dict[str, Any] = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        self._check_hyperparameters(defaults)  # the raw betas, before they are stored as floats
        defaults["betas"] = (float(betas[0]), float(betas[1]))
        super().__init__(params, defaults)

    @classmethod
    def _check_hyperparameters(cls, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_beta("betas[0]", betas[0])
        check_beta("betas[1]", betas[1])

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        amsgrad = bool(group["amsgrad"])
        states = init_states(self, params, ("exp_avg", "exp_avg_sq"), ("max_exp_avg_sq",) if amsgrad else ())
        # Complex parameters are updated as pairs of reals, so g² is |g|² per component as for real tensors.
        real_params = [as_real(p) for p in params]
        real_grads = [as_real(g) for g in grads]
        m = [as_real(s["exp_avg"]) for s in states]
        v = [as_real(s["exp_avg_sq"]) for s in states]
        v_max = [as_real(s["max_exp_avg_sq"]) for s in states] if amsgrad else []
        steps = [s["step"] for s in states]
        beta1, beta2 = group["betas"]
        hyper = _AdamHyper.of(
            group, beta1=float(beta1), beta2=float(beta2), decoupled=bool(group["decoupled_weight_decay"])
        )
        tensors = _AdamTensors(real_params, real_grads, m, v, v_max if amsgrad else None, steps)
        foreach = self._use_foreach(group["foreach"], params)
        run_update(_adam_single_tensor, _adam_multi_tensor, tensors, hyper, foreach=foreach)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Identical to :class:`Adam` except that the weight decay is applied directly to the parameters, before the
    Adam step, instead of being added to the gradient:

    .. math::
        \boldsymbol\phi_{t-1} \leftarrow (1-\alpha\lambda)\,\boldsymbol\phi_{t-1}, \qquad
        \boldsymbol\phi_t = \boldsymbol\phi_{t-1} - \alpha\,\frac{\tilde{\mathbf{m}}_t}
            {\sqrt{\tilde{\mathbf{v}}_t}+\epsilon}

    With an L2 penalty the term :math:`\lambda\boldsymbol\phi` passes through Adam's normalization, so parameters
    with large gradient history are barely regularized; decoupling makes the decay the same fraction αλ for
    every parameter, as weight decay is for plain SGD (UDL section 9.1 discusses L2 regularization). This is
    ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    Args:
        params: parameters, or dicts defining parameter groups.
        lr: step size α.
        betas: (β1, β2), each in [0, 1).
        eps: ε >= 0.
        weight_decay: λ >= 0, the decay per step is the fraction αλ.
        amsgrad: normalize by the running maximum of the second moment.
        maximize: ascend the objective instead of descending it.
        foreach: multi-tensor (``True``), single-tensor (``False``) or automatic (``None``) update.
    """

    _name = "AdamW"

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _bias_corrections(
    step_counts: list[int], beta1: float, beta2: float, lr: float
) -> tuple[list[float], list[float]]:
    """Per tensor, ``-α / (1 - β1^t)`` and ``sqrt(1 - β2^t)`` (computed once per distinct t)."""
    table: dict[int, tuple[float, float]] = {}
    for t in set(step_counts):
        table[t] = (-(lr / (1.0 - beta1**t)), (1.0 - beta2**t) ** 0.5)
    return [table[t][0] for t in step_counts], [table[t][1] for t in step_counts]


class _AdamTensors(NamedTuple):
    """One (device, dtype) group's parallel lists: parameters, gradients and Adam state."""

    params: list[Tensor]
    grads: list[Tensor]
    exp_avgs: list[Tensor]
    exp_avg_sqs: list[Tensor]
    max_exp_avg_sqs: list[Tensor] | None
    steps: list[Tensor]


@dataclass(frozen=True)
class _AdamHyper(GroupHyper):
    """Adam's hyperparameters beyond lr, weight_decay and maximize (``decoupled``: AdamW's weight decay)."""

    beta1: float
    beta2: float
    eps: float
    decoupled: bool


def _adam_single_tensor(tensors: _AdamTensors, hyper: _AdamHyper) -> None:
    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = tensors
    lr, beta1, beta2, eps = hyper.lr, hyper.beta1, hyper.beta2, hyper.eps
    weight_decay, decoupled, maximize = hyper.weight_decay, hyper.decoupled, hyper.maximize
    for i, (phi, grad, m, v, step) in enumerate(
        zip(params, grads, exp_avgs, exp_avg_sqs, steps, strict=True)
    ):
        step += 1
        t = int(step)
        g = grad.neg() if maximize else grad
        if weight_decay != 0:
            if decoupled:
                phi.mul_(1.0 - lr * weight_decay)  # AdamW: decay the weights themselves
            else:
                g = g.add(phi, alpha=weight_decay)  # L2 penalty: λφ joins the gradient
        m.lerp_(g, 1.0 - beta1)  # m ← β1 m + (1-β1) g        (eq. 6.15, first line)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)  # v ← β2 v + (1-β2) g²   (eq. 6.15, second line)
        if max_exp_avg_sqs is not None:
            torch.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
            v_hat = max_exp_avg_sqs[i]
        else:
            v_hat = v
        step_size = -(lr / (1.0 - beta1**t))  # -α / (1-β1^t): the bias correction of m (eq. 6.16)
        denom = (v_hat.sqrt() / (1.0 - beta2**t) ** 0.5).add_(eps)  # sqrt(ṽ) + ε       (eq. 6.16)
        phi.addcdiv_(m, denom, value=step_size)  # eq. 6.17


def _adam_multi_tensor(tensors: _AdamTensors, hyper: _AdamHyper) -> None:
    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = tensors
    lr, beta1, beta2, eps = hyper.lr, hyper.beta1, hyper.beta2, hyper.eps
    weight_decay, decoupled, maximize = hyper.weight_decay, hyper.decoupled, hyper.maximize
    g: list[Tensor] = list(torch._foreach_neg(grads)) if maximize else grads
    own = maximize  # g holds fresh tensors rather than the users' .grad
    torch._foreach_add_(steps, 1)
    step_sizes, bias2_sqrt = _bias_corrections([int(s) for s in steps], beta1, beta2, lr)
    if weight_decay != 0:
        if decoupled:
            torch._foreach_mul_(params, 1.0 - lr * weight_decay)
        elif own:
            torch._foreach_add_(g, params, alpha=weight_decay)
        else:
            g = list(torch._foreach_add(g, params, alpha=weight_decay))
    torch._foreach_lerp_(exp_avgs, g, 1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, g, g, value=1.0 - beta2)
    if max_exp_avg_sqs is not None:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        v_hat = max_exp_avg_sqs
    else:
        v_hat = exp_avg_sqs
    denom = torch._foreach_sqrt(v_hat)
    torch._foreach_div_(denom, bias2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, step_sizes)
