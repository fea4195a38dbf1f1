r"""The loss as a function of one flat parameter vector: lines through it, its Hessian and random subspaces of it.

UDL chapter 20 studies the loss surface :math:`L[\boldsymbol\phi]` of a trained network through low-dimensional
views of it (section 20.3): the loss along the straight line between two parameter vectors (Goodfellow et al.,
2015; fig. 20.5), the curvature (the Hessian :math:`\mathbf H = \partial^2 L / \partial\boldsymbol\phi^2`, UDL
section 6.1) seen through a random subspace (Fort & Scherlis, 2019), and the principal directions of a training
trajectory (Li et al., 2018; training restricted to a random subspace is ``udl.nn.RandomSubspace``).

Everything here works on a *flat* parameter vector (``torch.nn.utils.parameters_to_vector`` order) through
``flat_loss``, which wraps a module with ``torch.func.functional_call``; the Hessian is never formed: a
Hessian-vector product is forward-over-reverse differentiation, :math:`\mathbf H\mathbf v = \partial_\epsilon
\nabla L[\boldsymbol\phi + \epsilon\mathbf v]|_{\epsilon=0}`, at the cost of about two gradients, and the projected
Hessian :math:`\mathbf P^\top\mathbf H\mathbf P` is d of them, vectorized with ``torch.func.vmap``.

Example:
    >>> import torch
    >>> f = lambda p: (p**3).sum()
    >>> hessian_vector_product(f, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
    tensor([ 6., 12.])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vmap

__all__ = [
    "flat_loss",
    "hessian_vector_product",
    "line_losses",
    "projected_hessian",
    "random_subspace",
    "trajectory_pca",
]

FlatLoss = Callable[[Tensor], Tensor]


def flat_loss(
    model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor
) -> FlatLoss:
    """``theta -> loss_fn(model(x; theta), y)`` for a flat ``theta`` of the model's parameters (in
    ``parameters_to_vector`` order); the model's own parameters are not used or changed. Works under
    ``torch.func`` transforms (``grad``, ``jvp``, ``vmap``)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    buffers = dict(model.named_buffers())

    def loss(theta: Tensor) -> Tensor:
        if theta.shape != (sum(sizes),):
            raise ValueError(
                f"theta must be a flat vector of {sum(sizes)} parameters, got {tuple(theta.shape)}"
            )
        parts = torch.split(theta, sizes)
        params = {n: p.view(s) for n, p, s in zip(names, parts, shapes, strict=True)}
        return loss_fn(functional_call(model, (params, buffers), (x,)), y)

    return loss


def hessian_vector_product(f: FlatLoss, theta: Tensor, v: Tensor) -> Tensor:
    r"""H v for the Hessian of the scalar ``f`` at ``theta`` (n,) and a direction ``v`` (n,) (forward-over-reverse:
    the directional derivative of ∇f along v), without forming H."""
    if v.shape != theta.shape:
        raise ValueError(f"v must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}")
    return jvp(grad(f), (theta,), (v,))[1]


def projected_hessian(f: FlatLoss, theta: Tensor, basis: Tensor) -> Tensor:
    r"""The Hessian of ``f`` at ``theta`` seen in the subspace spanned by the columns of ``basis`` (n, d):
    :math:`\mathbf P^\top \mathbf H \mathbf P` (d, d), symmetrized, from d Hessian-vector products under ``vmap``.

    With an orthonormal ``basis`` (``random_subspace``) its eigenvalues interlace H's (Cauchy); the fraction of
    positive ones is Fort & Scherlis' measure of local convexity.
    """
    if basis.dim() != 2 or basis.shape[0] != theta.shape[0]:
        raise ValueError(
            f"basis must be (n, d) with n = {theta.shape[0]} parameters, got {tuple(basis.shape)}"
        )
    hv = vmap(lambda v: hessian_vector_product(f, theta, v), in_dims=1, out_dims=1)(basis)  # (n, d) = H P
    hp = basis.T @ hv
    return (hp + hp.T) / 2


def random_subspace(
    n: int, d: int, *, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> Tensor:
    """An (n, d) matrix with orthonormal columns spanning a uniformly random d-dimensional subspace of R^n (the
    Q factor of a Gaussian matrix, signs fixed so that it is Haar distributed)."""
    if not 1 <= d <= n:
        raise ValueError(f"need 1 <= d <= n, got d={d}, n={n}")
    q, r = torch.linalg.qr(torch.randn(n, d, generator=generator, dtype=dtype))
    return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))


def line_losses(f: FlatLoss, theta_a: Tensor, theta_b: Tensor, alphas: Tensor) -> Tensor:
    r"""f((1 − α) θ_a + α θ_b) for every α in ``alphas`` (K,): the loss along the straight line between two
    parameter vectors (α = 0 at θ_a, 1 at θ_b), all points in one ``vmap``. Returns (K,)."""
    if theta_a.shape != theta_b.shape or theta_a.dim() != 1 or alphas.dim() != 1:
        raise ValueError("theta_a and theta_b must be flat vectors of one length and alphas a 1-D tensor")
    points = theta_a + alphas.to(theta_a)[:, None] * (theta_b - theta_a)  # (K, n)
    return vmap(f)(points)


def trajectory_pca(snapshots: Tensor) -> tuple[Tensor, Tensor]:
    r"""Principal components of a parameter trajectory (Li et al., 2018): ``snapshots`` (T, n), one flat parameter
    vector per row, are centred on their mean and decomposed by SVD. Returns the explained-variance ratios (r,)
    (descending, summing to 1; r = min(T, n)) and the directions (r, n) (unit rows), as
    ``sklearn.decomposition.PCA``'s ``explained_variance_ratio_`` and ``components_`` (up to sign)."""
    if snapshots.dim() != 2 or snapshots.shape[0] < 2:
        raise ValueError(f"snapshots must be (T, n) with T >= 2, got {tuple(snapshots.shape)}")
    centred = snapshots - snapshots.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = s**2
    return variance / variance.sum(), vh
