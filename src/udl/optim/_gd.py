r"""Full-batch gradient descent and the bracketing line search, UDL section 6.1.

Gradient descent repeats (UDL eq. 6.3)

.. math:: \boldsymbol\phi \leftarrow \boldsymbol\phi - \alpha\,\frac{\partial L}{\partial \boldsymbol\phi}

with a fixed step size α (:func:`gradient_descent`), or with α chosen at every step by a line search along the
downhill direction (:func:`gd_with_line_search`, with the bracketing search :func:`line_search` of UDL fig. 6.10
and notebooks 6.1-6.2). Gradients come from autograd, so ``loss_fn`` is any differentiable function of one
parameter tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from udl.optim._common import check_real

__all__ = ["Trajectory", "gd_with_line_search", "gradient_descent", "line_search"]


class Trajectory(NamedTuple):
    """The iterates of a descent method.

    Attributes:
        path: every iterate including the start, shape (steps+1, *params.shape); ``path[-1]`` is the result.
        losses: the loss at every iterate, shape (steps+1,).
        step_sizes: the step size α used at each update, shape (steps,).
    """

    path: Tensor
    losses: Tensor
    step_sizes: Tensor


def _check_start(params: Tensor, steps: int) -> Tensor:
    if not isinstance(params, Tensor) or not params.is_floating_point():
        raise ValueError(f"params must be a floating-point tensor, got {params!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    return params.detach().clone()


def _loss(loss_fn: Callable[[Tensor], Tensor], phi: Tensor) -> Tensor:
    loss = loss_fn(phi)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    return loss.reshape(())


def _loss_and_gradient(loss_fn: Callable[[Tensor], Tensor], phi: Tensor) -> tuple[Tensor, Tensor]:
    """L[φ] and ∂L/∂φ by autograd (zero where L does not depend on φ)."""
    with torch.enable_grad():
        x = phi.detach().requires_grad_(True)
        loss = _loss(loss_fn, x)
        if not loss.requires_grad:
            return loss.detach(), torch.zeros_like(phi)
        (grad,) = torch.autograd.grad(loss, x, allow_unused=True)
    return loss.detach(), torch.zeros_like(phi) if grad is None else grad


def gradient_descent(
    loss_fn: Callable[[Tensor], Tensor], params: Tensor, lr: float, steps: int
) -> Trajectory:
    r"""Full-batch gradient descent with a fixed step size, UDL eq. 6.3.

    .. math:: \boldsymbol\phi_{t+1} = \boldsymbol\phi_t - \alpha\,
        \frac{\partial L}{\partial \boldsymbol\phi}\Big|_{\boldsymbol\phi_t}

    On a quadratic :math:`L = \tfrac12\boldsymbol\phi^T\mathbf{A}\boldsymbol\phi - \mathbf{b}^T\boldsymbol\phi`
    (A symmetric positive definite) the error contracts as :math:`\boldsymbol\phi_t - \boldsymbol\phi^* =
    (\mathbf{I} - \alpha\mathbf{A})^t(\boldsymbol\phi_0 - \boldsymbol\phi^*)`, which converges exactly when
    :math:`0 < \alpha < 2/\lambda_{\max}(\mathbf{A})`.

    Args:
        loss_fn: maps a tensor shaped like ``params`` to a scalar loss L[φ]; differentiated with autograd.
        params: the starting point :math:`\boldsymbol\phi_0` (not modified).
        lr: step size α >= 0.
        steps: number of updates (0 returns just the start).

    Returns:
        A :class:`Trajectory` (path, losses, step_sizes); ``step_sizes`` is ``lr`` repeated.

    Raises:
        ValueError: a negative or non-finite ``lr``, negative ``steps``, non-float ``params``, non-scalar loss.
    """
    alpha = check_real("lr", lr)
    if alpha < 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    phi = _check_start(params, steps)
    path = phi.new_empty(steps + 1, *phi.shape)
    losses = phi.new_empty(steps + 1)
    path[0] = phi
    for t in range(steps):
        loss, grad = _loss_and_gradient(loss_fn, phi)
        losses[t] = loss
        phi = phi - alpha * grad  # UDL eq. 6.3
        path[t + 1] = phi
    with torch.no_grad():
        losses[steps] = _loss(loss_fn, phi)
    return Trajectory(path, losses, phi.new_full((steps,), alpha))


def line_search(
    f: Callable[[float], float | Tensor],
    a: float,
    d: float,
    *,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> float:
    r"""Minimize a 1-D function on [a, d] by bracketing, as in UDL fig. 6.10 and the book's notebook 6.1.

    Keep four points a < b < c < d with b and c at the thirds of the bracket, and shrink it:

    1. if f(a) is the lowest of the four, the minimum is near a: halve the bracket towards a, d ← (a + d)/2;
    2. else if f(b) < f(c), a minimum lies in [a, c]: discard the outer part beyond the larger value, d ← c;
    3. otherwise a minimum lies in [b, d]: a ← b.

    Then place b and c at the thirds of the new bracket and repeat until it is narrower than ``tol``. Each round
    shrinks the bracket to 2/3 (rule 1: 1/2) of its width and costs two new evaluations. For a unimodal f (one
    minimum, e.g. convex) the returned point is within ``tol`` of the minimizer; otherwise it is a local
    minimum or an end of [a, d].

    Args:
        f: the function, of a float; tensors are converted with ``float``.
        a: left end of the search interval (for a line search, usually the current point, step 0).
        d: right end, > a (the largest step considered).
        tol: stop when the bracket is narrower than this (> 0).
        max_iter: the most rounds; the midpoint of the current bracket is returned when they run out.

    Returns:
        The midpoint of the final bracket, (b + c)/2 = (a + d)/2.

    Raises:
        ValueError: ``a >= d``, a non-positive ``tol``, a negative ``max_iter``, non-finite ends.
    """
    lo, hi = check_real("a", a), check_real("d", d)
    if not lo < hi:
        raise ValueError(f"the search interval needs a < d, got a={a}, d={d}")
    if check_real("tol", tol) <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")

    def value(x: float) -> float:
        return float(f(x))

    f_lo, f_hi = value(lo), value(hi)
    for _ in range(max_iter):
        if hi - lo < tol:
            break
        third = (hi - lo) / 3.0
        b, c = lo + third, lo + 2.0 * third
        f_b, f_c = value(b), value(c)
        if f_lo <= min(f_b, f_c, f_hi):  # rule 1: a is lowest, so look closer to a
            hi = lo + (hi - lo) / 2.0
            f_hi = value(hi)
        elif f_b < f_c:  # rule 2: the minimum is not in (c, d]
            hi, f_hi = c, f_c
        else:  # rule 3: the minimum is not in [a, b)
            lo, f_lo = b, f_b
    return (lo + hi) / 2.0


def gd_with_line_search(
    loss_fn: Callable[[Tensor], Tensor],
    params: Tensor,
    steps: int,
    *,
    max_step: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> Trajectory:
    r"""Gradient descent whose step size is found by :func:`line_search` at every step (UDL notebook 6.2).

    At each iterate the downhill direction is :math:`-\mathbf{g}`, :math:`\mathbf{g} = \partial L/\partial
    \boldsymbol\phi`, and

    .. math:: \alpha_t = \operatorname*{argmin}_{0 \le \alpha \le \alpha_{\max}}
        L[\boldsymbol\phi_t - \alpha\,\mathbf{g}], \qquad
        \boldsymbol\phi_{t+1} = \boldsymbol\phi_t - \alpha_t\,\mathbf{g}

    (to within ``tol``). On a quadratic with Hessian A the exact minimizer along the line is
    :math:`\alpha_t = \mathbf{g}^T\mathbf{g} / \mathbf{g}^T\mathbf{A}\mathbf{g}` (steepest descent with exact line
    search), provided it lies in :math:`[0, \alpha_{\max}]`.

    Args:
        loss_fn: maps a tensor shaped like ``params`` to a scalar loss; differentiated with autograd.
        params: the starting point (not modified).
        steps: number of updates.
        max_step: :math:`\alpha_{\max}` > 0, the right end of the search interval [0, α_max].
        tol: bracket width at which each line search stops.
        max_iter: the most bracketing rounds per line search.

    Returns:
        A :class:`Trajectory` (path, losses, step_sizes) with the chosen :math:`\alpha_t` as ``step_sizes``.
    """
    if check_real("max_step", max_step) <= 0:
        raise ValueError(f"max_step must be > 0, got {max_step}")
    phi = _check_start(params, steps)
    path = phi.new_empty(steps + 1, *phi.shape)
    losses = phi.new_empty(steps + 1)
    alphas = phi.new_empty(steps)
    path[0] = phi
    for t in range(steps):
        loss, grad = _loss_and_gradient(loss_fn, phi)
        losses[t] = loss

        def along(alpha: float, phi: Tensor = phi, grad: Tensor = grad) -> float:
            with torch.no_grad():
                return float(_loss(loss_fn, phi - alpha * grad))

        alpha = line_search(along, 0.0, float(max_step), tol=tol, max_iter=max_iter)
        alphas[t] = alpha
        phi = phi - alpha * grad
        path[t + 1] = phi
    with torch.no_grad():
        losses[steps] = _loss(loss_fn, phi)
    return Trajectory(path, losses, alphas)
