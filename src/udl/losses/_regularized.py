r"""Regularized and modified losses (UDL chapter 9): the L2 penalty and the modified losses of finite-step descent.

**Explicit regularization** (section 9.1) adds a term :math:`\lambda\,\mathrm{g}[\boldsymbol\phi]` to the loss.
The L2 penalty (UDL eq. 9.5) is

.. math:: \hat{\boldsymbol\phi} = \operatorname*{argmin}_{\boldsymbol\phi}
          \Bigl[\sum_i \ell_i[\mathbf{x}_i, \mathbf{y}_i] + \lambda \sum_j \phi_j^2\Bigr],

so :func:`l2_penalty` returns :math:`\sum_j\phi_j^2` and the caller multiplies it by λ; its gradient is
:math:`2\lambda\boldsymbol\phi`. torch's ``weight_decay=w`` (``SGD``, ``Adam``) adds :math:`w\boldsymbol\phi` to the
gradient, i.e. it is this penalty with :math:`\lambda = w/2`. For plain SGD that equals *decoupled* weight decay
(shrinking :math:`\boldsymbol\phi \leftarrow (1-\alpha w)\boldsymbol\phi` besides the step); for Adam it does not,
because Adam rescales the penalty's gradient with everything else (AdamW decouples it).

**Implicit regularization** (section 9.2). Gradient descent with step α does not follow the gradient flow
:math:`\partial\boldsymbol\phi/\partial t = -\partial L/\partial\boldsymbol\phi` of its loss; to second order in α
it follows the gradient flow of the *modified loss* (UDL eq. 9.8)

.. math:: \tilde L_{GD}[\boldsymbol\phi] = L[\boldsymbol\phi]
          + \frac{\alpha}{4}\Bigl\lVert\frac{\partial L}{\partial\boldsymbol\phi}\Bigr\rVert^2,

which penalizes steep regions. Its gradient :math:`\nabla L + \tfrac{\alpha}{2}\mathbf{H}\nabla L` (H the Hessian)
is computed by double backpropagation (:func:`modified_loss_gradient`). For SGD over B batches with losses
:math:`L_b` (:math:`L = \tfrac1B\sum_b L_b`) the modified loss gains a term for the batch-gradient variance
(UDL eq. 9.9, after Smith et al., 2021):

.. math:: \tilde L_{SGD} = \tilde L_{GD}
          + \frac{\alpha}{4B}\sum_{b=1}^{B}\Bigl\lVert\frac{\partial L_b}{\partial\boldsymbol\phi}
          - \frac{\partial L}{\partial\boldsymbol\phi}\Bigr\rVert^2.

:func:`udl.optim.gradient_flow` integrates :math:`\dot{\boldsymbol\phi} = -\mathbf{g}(\boldsymbol\phi)` with the
classical fourth-order Runge-Kutta method, so the continuous paths can be compared with the discrete iterates.

Example:
    >>> import torch
    >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> loss = lambda p: 0.5 * p @ A @ p
    >>> phi = torch.tensor([1.0, -1.0], dtype=torch.float64)
    >>> g = modified_loss_gradient(loss, phi, lr=0.1)     # = A φ + 0.05 A² φ
    >>> torch.allclose(g, A @ phi + 0.05 * A @ A @ phi)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

__all__ = [
    "l2_penalty",
    "modified_loss",
    "modified_loss_gradient",
    "sgd_modified_loss",
]


def l2_penalty(params: Tensor | Iterable[Tensor]) -> Tensor:
    r"""The L2 regularizer :math:`\mathrm{g}[\boldsymbol\phi] = \sum_j \phi_j^2` over every given tensor, UDL eq. 9.5.

    λ enters outside: the regularized loss is ``loss + lam * l2_penalty(params)``, whose gradient adds
    :math:`2\lambda\boldsymbol\phi`. (torch's ``weight_decay=w`` corresponds to ``lam = w / 2``.) In networks the
    penalty is usually applied to the weights only, not the biases; pass the tensors you want penalized.

    Args:
        params: one tensor or an iterable of tensors (e.g. ``[m.weight for m in linears]``).

    Returns:
        A scalar tensor, differentiable with respect to every tensor given.

    Raises:
        ValueError: no tensors were given.
    """
    tensors = [params] if isinstance(params, Tensor) else list(params)
    if not tensors:
        raise ValueError("l2_penalty needs at least one tensor")
    return torch.stack([t.square().sum() for t in tensors]).sum()


def _scalar(loss_fn: Callable[[Tensor], Tensor], phi: Tensor) -> Tensor:
    loss = loss_fn(phi)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    return loss.reshape(())


def _gradient(loss: Tensor, phi: Tensor) -> Tensor:
    """∂loss/∂φ with its graph kept (zero where the loss does not depend on φ)."""
    if not loss.requires_grad:
        return torch.zeros_like(phi)
    (grad,) = torch.autograd.grad(loss, phi, create_graph=True, allow_unused=True)
    return torch.zeros_like(phi) if grad is None else grad


def _check_lr(lr: float) -> None:
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr (the step size α) must be finite and >= 0, got {lr}")


def modified_loss(loss_fn: Callable[[Tensor], Tensor], phi: Tensor, lr: float) -> Tensor:
    r"""The modified loss of gradient descent with step α, UDL eq. 9.8.

    .. math:: \tilde L_{GD}[\boldsymbol\phi] = L[\boldsymbol\phi]
              + \frac{\alpha}{4}\Bigl\lVert\frac{\partial L}{\partial\boldsymbol\phi}\Bigr\rVert^2

    Args:
        loss_fn: L, a differentiable function of one parameter tensor returning a scalar.
        phi: where to evaluate it. If ``phi.requires_grad``, the result is differentiable with respect to it
            (the gradient term is built with ``create_graph=True``); otherwise a detached copy is used.
        lr: the step size α >= 0 (α = 0 gives L itself).

    Returns:
        A scalar tensor.
    """
    _check_lr(lr)
    with torch.enable_grad():
        x = phi if phi.requires_grad else phi.detach().requires_grad_(True)
        loss = _scalar(loss_fn, x)
        grad = _gradient(loss, x)
        value = loss + (lr / 4.0) * grad.square().sum()
    return value if phi.requires_grad else value.detach()


def modified_loss_gradient(loss_fn: Callable[[Tensor], Tensor], phi: Tensor, lr: float) -> Tensor:
    r"""The gradient of the modified loss (UDL eq. 9.8) by double backpropagation.

    .. math:: \frac{\partial\tilde L_{GD}}{\partial\boldsymbol\phi}
              = \nabla L + \frac{\alpha}{2}\,\mathbf{H}\,\nabla L,
              \qquad \mathbf{H} = \frac{\partial^2 L}{\partial\boldsymbol\phi^2}

    The first backward pass keeps its graph, so the second differentiates through it (a Hessian-vector product;
    the Hessian is never formed). For :math:`L = \tfrac12\boldsymbol\phi^T\mathbf{A}\boldsymbol\phi` this is
    :math:`\mathbf{A}\boldsymbol\phi + \tfrac{\alpha}{2}\mathbf{A}^2\boldsymbol\phi`.

    Args:
        loss_fn: L, twice differentiable, of one parameter tensor.
        phi: where to evaluate the gradient (not modified).
        lr: the step size α >= 0.

    Returns:
        A tensor shaped like ``phi``, detached.
    """
    _check_lr(lr)
    with torch.enable_grad():
        x = phi.detach().requires_grad_(True)
        value = modified_loss(loss_fn, x, lr)
        if not value.requires_grad:
            return torch.zeros_like(phi)
        (grad,) = torch.autograd.grad(value, x, allow_unused=True)
    return torch.zeros_like(phi) if grad is None else grad.detach()


def sgd_modified_loss(batch_loss_fns: Sequence[Callable[[Tensor], Tensor]], phi: Tensor, lr: float) -> Tensor:
    r"""The modified loss of SGD over the B batches of an epoch, UDL eq. 9.9.

    .. math:: \tilde L_{SGD} = L + \frac{\alpha}{4}\lVert\nabla L\rVert^2
              + \frac{\alpha}{4B}\sum_{b=1}^{B}\lVert\nabla L_b - \nabla L\rVert^2,
              \qquad L = \frac1B\sum_{b=1}^{B} L_b

    The last term is the variance of the batch gradients: SGD additionally prefers regions where the batches
    agree. With one batch (or identical batches) it equals :func:`modified_loss`.

    Args:
        batch_loss_fns: the B batch losses :math:`L_b`, each a function of φ (each the mean over its batch).
        phi: where to evaluate; differentiable with respect to it if ``phi.requires_grad``.
        lr: the step size α >= 0.

    Returns:
        A scalar tensor.
    """
    _check_lr(lr)
    if len(batch_loss_fns) == 0:
        raise ValueError("sgd_modified_loss needs at least one batch loss")
    with torch.enable_grad():
        x = phi if phi.requires_grad else phi.detach().requires_grad_(True)
        losses = [_scalar(fn, x) for fn in batch_loss_fns]
        grads = torch.stack([_gradient(loss, x) for loss in losses])  # (B, *phi.shape)
        loss, grad = torch.stack(losses).mean(), grads.mean(0)
        variance = (grads - grad).square().sum() / len(losses)
        value = loss + (lr / 4.0) * grad.square().sum() + (lr / 4.0) * variance
    return value if phi.requires_grad else value.detach()
