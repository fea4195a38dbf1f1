r"""Adversarial examples in the L∞ ball: FGSM and PGD (UDL section 9.3.4, adversarial training).

Section 9.3.4 describes adversarial training as the extreme form of input noise: "the optimization algorithm
actively searches for small perturbations of the input that cause large changes to the output" — worst-case
additive noise. For a loss L(f[x, φ], y) and a budget ε, the worst-case perturbation in the L∞ ball solves

.. math:: \boldsymbol\delta^* = \operatorname*{argmax}_{\|\boldsymbol\delta\|_\infty \le \epsilon}
          L\bigl(\mathbf{f}[\mathbf{x} + \boldsymbol\delta, \boldsymbol\phi], y\bigr),

and adversarial training minimises :math:`\sum_i L(\mathbf{f}[\mathbf{x}_i + \boldsymbol\delta_i^*,
\boldsymbol\phi], y_i)` (Madry et al., 2018). Two standard approximations of δ*:

- **FGSM** (Goodfellow et al., 2015): one step to the corner of the ball that a linearisation of L favours,
  :math:`\mathbf{x}' = \mathbf{x} + \epsilon\,\mathrm{sign}(\nabla_{\mathbf{x}} L)`;
- **PGD** (Madry et al., 2018): T steps of signed gradient ascent of size α, each projected back onto the ball
  (element-wise clipping to [x − ε, x + ε]), optionally from a uniform random start inside the ball.

For a linear model the linearisation is exact and FGSM is already optimal for a binary classifier
(:math:`\boldsymbol\delta^* = -\epsilon\,\mathrm{sign}(\mathbf{w}_y - \mathbf{w}_{\bar y})`, the margin drops by
:math:`\epsilon\|\mathbf{w}_y - \mathbf{w}_{\bar y}\|_1`).

Both functions leave the model's mode and parameters (and their ``.grad``) untouched: they differentiate with
``torch.autograd.grad`` with respect to the input only. Put the model in eval mode first if it has dropout or
batch norm and you want the attack against the deterministic network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["fgsm", "input_gradient", "pgd"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def input_gradient(
    model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = nn.functional.cross_entropy
) -> Tensor:
    r""":math:`\nabla_{\mathbf{x}} L(\mathbf{f}[\mathbf{x}], y)` for a batch, without touching parameter grads.

    ``loss_fn(model(x), y)`` must be a scalar; with a mean over the batch each example's gradient is scaled by
    1/N, which changes no sign.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _check_eps(eps: float) -> None:
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")


def _clamp(x: Tensor, bounds: tuple[float, float] | None) -> Tensor:
    return x if bounds is None else x.clamp(bounds[0], bounds[1])


def fgsm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    loss_fn: LossFn = nn.functional.cross_entropy,
    *,
    clamp: tuple[float, float] | None = None,
) -> Tensor:
    r"""Fast gradient sign method: :math:`\mathbf{x}' = \mathbf{x} + \epsilon\,\mathrm{sign}(\nabla_{\mathbf{x}}
    L(\mathbf{f}[\mathbf{x}], y))` (Goodfellow et al., 2015).

    Args:
        model: the classifier f (used as is: call ``model.eval()`` first for the deterministic network).
        x: (N, ...) inputs.
        y: targets for ``loss_fn`` (class indices for the default cross-entropy).
        eps: ε >= 0, the L∞ budget.
        loss_fn: ``loss_fn(model(x), y)`` → scalar loss to increase.
        clamp: optional (low, high) valid input range applied after the step (images in [0, 1]); ``None``
            (MNIST-1D signals are unbounded).

    Returns:
        The detached adversarial inputs, with :math:`\|\mathbf{x}' - \mathbf{x}\|_\infty \le \epsilon`.
        Coordinates whose gradient is exactly 0 are not moved (sign 0).
    """
    _check_eps(eps)
    grad = input_gradient(model, x, y, loss_fn)
    return _clamp(x.detach() + eps * grad.sign(), clamp)


def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    loss_fn: LossFn = nn.functional.cross_entropy,
    *,
    clamp: tuple[float, float] | None = None,
) -> Tensor:
    r"""Projected gradient descent (ascent on the loss) in the L∞ ball (Madry et al., 2018):

    .. math::
        \mathbf{x}^{(0)} = \mathbf{x} + \mathbf{u},\; \mathbf{u}\sim U[-\epsilon, \epsilon]^D \;\text{(or }
        \mathbf{x}\text{)}, \qquad
        \mathbf{x}^{(t+1)} = \Pi_{\epsilon}\bigl[\mathbf{x}^{(t)} + \alpha\,\mathrm{sign}(\nabla_{\mathbf{x}}
        L(\mathbf{f}[\mathbf{x}^{(t)}], y))\bigr],

    where :math:`\Pi_\epsilon` clips each coordinate to :math:`[x_d - \epsilon, x_d + \epsilon]` (the Euclidean
    projection onto the L∞ ball). Returns the last iterate. With ``random_start=False``, ``steps=1`` and
    ``alpha=eps`` this is exactly :func:`fgsm`.

    Args:
        model: the classifier f (used as is).
        x: (N, ...) clean inputs.
        y: targets for ``loss_fn``.
        eps: ε >= 0, the L∞ budget.
        alpha: step size α > 0 (commonly 2.5 ε / steps).
        steps: T >= 1.
        random_start: start from a uniform draw in the ball instead of x.
        generator: source of the random start (``None``: torch's global generator); the draw is made on the
            generator's device and moved to ``x``'s.
        loss_fn: ``loss_fn(model(x), y)`` → scalar loss to increase.
        clamp: optional (low, high) valid input range, enforced after every step.

    Returns:
        Detached adversarial inputs with :math:`\|\mathbf{x}' - \mathbf{x}\|_\infty \le \epsilon`.
    """
    _check_eps(eps)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = x.detach()
    low, high = x - eps, x + eps
    x_adv = x
    if random_start and eps > 0:
        device = generator.device if generator is not None else x.device
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)
        x_adv = _clamp(x + eps * (2.0 * u - 1.0), clamp)
    for _ in range(steps):
        grad = input_gradient(model, x_adv, y, loss_fn)
        x_adv = torch.minimum(torch.maximum(x_adv + alpha * grad.sign(), low), high)  # Π_ε
        x_adv = _clamp(x_adv, clamp)
    return x_adv
