r"""1-D (and D-D) linear regression: the book's first model (UDL ch. 2) and its gradient descent (UDL section 6.1).

The model is

.. math:: y = \mathrm{f}[\mathbf{x}, \boldsymbol\phi] = \phi_0 + \phi_1 x_1 + \dots + \phi_{D} x_{D}
   \qquad \text{(UDL eq. 2.4 for } D = 1\text{)}

and the parameters are stored in the book's order, ``phi = [φ0, φ1, ..., φD]`` (offset first), shape ``(D+1,)``.
Inputs ``x`` are ``(I,)`` for one input dimension or ``(I, D)``; targets ``y`` are ``(I,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "fit_linear_regression",
    "gradient_descent_linear_regression",
    "least_squares_gradient",
    "least_squares_loss",
    "loss_surface",
]


def _as_matrix(x: Tensor) -> Tensor:
    # (I,) -> (I, 1); (I, D) unchanged.
    if x.dim() == 1:
        return x.unsqueeze(-1)
    if x.dim() == 2:
        return x
    raise ValueError(f"x must have shape (I,) or (I, D), got {tuple(x.shape)}")


def _design_matrix(x: Tensor) -> Tensor:
    """``[1, x]``: the (I, D+1) matrix whose product with phi is the model output."""
    x = _as_matrix(x)
    ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
    return torch.cat([ones, x], dim=1)  # (I, D+1)


def _check(phi: Tensor, x: Tensor, y: Tensor) -> Tensor:
    X = _design_matrix(x)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match x, got {tuple(y.shape)}")
    if phi.shape != (X.shape[1],):
        raise ValueError(f"phi must have shape ({X.shape[1]},) = [φ0, φ1, ...], got {tuple(phi.shape)}")
    return X


def least_squares_loss(phi: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r"""Least-squares loss of linear regression, UDL eq. 2.5.

    .. math:: L[\boldsymbol\phi] = \sum_{i=1}^{I} \left(\mathrm{f}[x_i, \boldsymbol\phi] - y_i\right)^2
              = \sum_{i=1}^{I} \left(\phi_0 + \phi_1 x_i - y_i\right)^2

    This is the book's **sum** over the I training pairs, not the mean that ``torch.nn.MSELoss`` uses by default:
    ``least_squares_loss == I * mse_loss(f, y)`` (equivalently ``mse_loss(f, y, reduction="sum")``). The minimizer
    is the same; the gradient, and hence a sensible learning rate, scales with I.

    Args:
        phi: parameters ``[φ0, φ1, ..., φD]``, shape (D+1,).
        x: inputs, shape (I,) or (I, D).
        y: targets, shape (I,).

    Returns:
        Scalar tensor. ``I = 0`` gives 0.
    """
    X = _check(phi, x, y)
    residual = X @ phi - y  # (I,)
    return (residual**2).sum()


def least_squares_gradient(phi: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r"""Analytic gradient of the least-squares loss (UDL section 6.1.1).

    .. math:: \frac{\partial L}{\partial \boldsymbol\phi} = \sum_{i=1}^{I}
              \begin{bmatrix} 2(\phi_0 + \phi_1 x_i - y_i) \\ 2 x_i (\phi_0 + \phi_1 x_i - y_i) \end{bmatrix}
              = 2\,\mathbf{X}^T(\mathbf{X}\boldsymbol\phi - \mathbf{y})

    where :math:`\mathbf{X} = [\mathbf{1}, \mathbf{x}]` is the design matrix.

    Args:
        phi: parameters ``[φ0, φ1, ..., φD]``, shape (D+1,).
        x: inputs, shape (I,) or (I, D).
        y: targets, shape (I,).

    Returns:
        Gradient with the shape of ``phi``.
    """
    X = _check(phi, x, y)
    return 2.0 * X.T @ (X @ phi - y)


def fit_linear_regression(x: Tensor, y: Tensor, *, bias: bool = True) -> Tensor:
    r"""Closed-form least-squares fit, the minimizer :math:`\hat{\boldsymbol\phi}` of UDL eq. 2.5 (eq. 2.6).

    Solves :math:`\min_{\boldsymbol\phi} \lVert \mathbf{X}\boldsymbol\phi - \mathbf{y}\rVert^2` with
    ``torch.linalg.lstsq`` on the design matrix :math:`\mathbf{X} = [\mathbf{1}, \mathbf{x}]` (the normal equations
    :math:`\mathbf{X}^T\mathbf{X}\boldsymbol\phi = \mathbf{X}^T\mathbf{y}`, solved stably). When the problem is
    rank-deficient (fewer points than parameters, repeated or collinear inputs) the CPU ``gelsd`` driver returns
    the minimum-norm solution, as ``numpy.linalg.lstsq`` does.

    Args:
        x: inputs, shape (I,) or (I, D).
        y: targets, shape (I,).
        bias: fit the offset φ0. With ``bias=False`` the line is forced through the origin and φ0 is returned
            as exactly 0, so the result always has the layout ``[φ0, φ1, ..., φD]``.

    Returns:
        ``phi`` of shape (D+1,), in the dtype of ``x``.
    """
    X = _design_matrix(x)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match x, got {tuple(y.shape)}")
    A = X if bias else X[:, 1:]
    driver = "gelsd" if A.device.type == "cpu" else None  # minimum-norm on rank deficiency (CPU only)
    solution = torch.linalg.lstsq(A, y.unsqueeze(-1).to(A.dtype), driver=driver).solution.squeeze(-1)
    if bias:
        return solution
    return torch.cat([solution.new_zeros(1), solution])


def gradient_descent_linear_regression(
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    steps: int,
    phi_init: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Full-batch gradient descent on the least-squares loss (UDL eq. 6.3, fig. 6.1).

    .. math:: \boldsymbol\phi \leftarrow \boldsymbol\phi - \alpha \frac{\partial L}{\partial \boldsymbol\phi},
              \qquad \frac{\partial L}{\partial \boldsymbol\phi}
              = 2\,\mathbf{X}^T(\mathbf{X}\boldsymbol\phi - \mathbf{y})

    Because L is the *sum* of squared residuals (eq. 2.5), the iteration converges exactly when
    :math:`0 < \alpha < 1/\lambda_{\max}(\mathbf{X}^T\mathbf{X})`; a larger ``lr`` diverges.

    Args:
        x: inputs, shape (I,) or (I, D).
        y: targets, shape (I,).
        lr: learning rate (step size) :math:`\alpha`.
        steps: number of updates (0 returns the initial point).
        phi_init: starting ``[φ0, φ1, ..., φD]``; zeros when ``None``.

    Returns:
        ``(phi, path)``: the final parameters, shape (D+1,), and every iterate including the start,
        shape (steps+1, D+1), so ``path[0] == phi_init`` and ``path[-1] == phi``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    X = _design_matrix(x)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match x, got {tuple(y.shape)}")
    if phi_init is None:
        phi = X.new_zeros(X.shape[1])
    else:
        if phi_init.shape != (X.shape[1],):
            raise ValueError(f"phi_init must have shape ({X.shape[1]},), got {tuple(phi_init.shape)}")
        phi = phi_init.detach().to(X.dtype).clone()
    path = X.new_empty(steps + 1, X.shape[1])  # (steps+1, D+1)
    path[0] = phi
    XtX, Xty = X.T @ X, X.T @ y  # gradient = 2 (XᵀX φ − Xᵀy): O(D²) per step instead of O(I·D)
    for t in range(steps):
        phi = phi - lr * 2.0 * (XtX @ phi - Xty)  # UDL eq. 6.3
        path[t + 1] = phi
    return phi, path


def loss_surface(x: Tensor, y: Tensor, phi0_grid: Tensor, phi1_grid: Tensor) -> Tensor:
    r"""The loss L[φ0, φ1] of UDL eq. 2.5 on a grid of parameter values, for the loss-surface figure (UDL section 2.2).

    Vectorized through the quadratic form
    :math:`L = I\phi_0^2 + \phi_1^2\sum x_i^2 + \sum y_i^2 + 2\phi_0\phi_1\sum x_i - 2\phi_0\sum y_i
    - 2\phi_1\sum x_i y_i`, so memory is O(grid) whatever the number of data points. (Near an exact fit this
    subtracts large numbers; use float64 if the minimum value itself matters.)

    Args:
        x: 1-D inputs, shape (I,).
        y: targets, shape (I,).
        phi0_grid: values of the offset φ0, shape (P0,).
        phi1_grid: values of the slope φ1, shape (P1,).

    Returns:
        Shape (P1, P0): entry ``[j, i]`` is ``L[phi0_grid[i], phi1_grid[j]]`` — matplotlib's convention, so
        ``plt.contour(phi0_grid, phi1_grid, L)`` draws it with φ0 on the horizontal axis.
    """
    if x.dim() != 1 or y.shape != x.shape:
        raise ValueError(f"x and y must both have shape (I,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if phi0_grid.dim() != 1 or phi1_grid.dim() != 1:
        raise ValueError(
            f"phi0_grid and phi1_grid must be 1-D, got {tuple(phi0_grid.shape)} and {tuple(phi1_grid.shape)}"
        )
    phi0, phi1 = torch.meshgrid(phi0_grid, phi1_grid, indexing="xy")  # each (P1, P0)
    n = x.shape[0]
    sx, sy, sxx, syy, sxy = x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()
    return n * phi0**2 + sxx * phi1**2 + syy + 2.0 * phi0 * phi1 * sx - 2.0 * phi0 * sy - 2.0 * phi1 * sxy
