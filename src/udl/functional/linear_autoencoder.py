r"""The linear autoencoder's loss and its critical points (Baldi & Hornik, 1989; UDL section 20.3.2).

A linear network with one hidden layer of k < d units, :math:`\hat{\mathbf x} = \mathbf W_2\mathbf W_1\mathbf x`
(:math:`\mathbf W_1` k×d, :math:`\mathbf W_2` d×k), trained by least squares to reconstruct its input, has loss

.. math:: L[\mathbf W_1, \mathbf W_2] = \frac{1}{2N}\sum_i \|\mathbf x_i - \mathbf W_2\mathbf W_1\mathbf x_i\|^2
          = \tfrac12 \operatorname{tr}\bigl((\mathbf I - \mathbf W_2\mathbf W_1)\boldsymbol\Sigma
            (\mathbf I - \mathbf W_2\mathbf W_1)^\top\bigr),
          \qquad \boldsymbol\Sigma = \tfrac1N\sum_i \mathbf x_i\mathbf x_i^\top .

With Σ's eigenvalues λ₁ > … > λ_d distinct and eigenvectors u_j, Baldi & Hornik show that the critical points
are, up to W₁ → C W₁, W₂ → W₂ C⁻¹, the projections onto the span of a subset I of at most k eigenvectors
(:math:`\mathbf W_1 = [\mathbf U_I^\top; \mathbf 0]`, :math:`\mathbf W_2 = [\mathbf U_I, \mathbf 0]`), with loss
½ Σ_{j∉I} λ_j; only I = {1, …, k} (the principal subspace, PCA) is a minimum, every other one is a saddle: the
loss has no bad local minima although it is not convex. The number of descent directions (negative Hessian
eigenvalues, the Morse index) is the number of pairs (i ∈ I, j ∉ I) with λ_j > λ_i — turning u_i toward u_j
lowers the loss — plus (k − |I|)(d − |I|): each unused hidden unit can take up any unselected direction.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "LinearAutoencoderCriticalPoint",
    "linear_autoencoder_critical_points",
    "linear_autoencoder_loss",
]


class LinearAutoencoderCriticalPoint(NamedTuple):
    subset: tuple[int, ...]
    """indices j of the eigenvectors u_j spanned (eigenvalues in descending order, 0-based)"""
    w1: Tensor
    """(k, d) encoder"""
    w2: Tensor
    """(d, k) decoder"""
    loss: float
    """½ Σ_{j∉I} λ_j"""
    morse_index: int
    """the number of negative Hessian eigenvalues: #{(i ∈ I, j ∉ I): λ_j > λ_i} + (k − |I|)(d − |I|)"""


def linear_autoencoder_loss(w1: Tensor, w2: Tensor, second_moment: Tensor) -> Tensor:
    """½ tr((I − W₂W₁) Σ (I − W₂W₁)ᵀ) for W₁ (..., k, d), W₂ (..., d, k) and the data's second moment Σ (d, d)
    (= (1/2N) Σᵢ ‖xᵢ − W₂W₁xᵢ‖² for Σ = XᵀX / N); leading dimensions batch. Returns (...)."""
    d = second_moment.shape[-1]
    if (
        second_moment.shape != (d, d)
        or w1.shape[-1] != d
        or w2.shape[-2] != d
        or w1.shape[-2] != w2.shape[-1]
    ):
        raise ValueError(
            f"need W1 (..., k, d), W2 (..., d, k) and Σ (d, d); got {tuple(w1.shape)}, {tuple(w2.shape)}, "
            f"{tuple(second_moment.shape)}"
        )
    r = torch.eye(d, dtype=w1.dtype, device=w1.device) - w2 @ w1  # (..., d, d)
    return 0.5 * (r @ second_moment * r).sum((-2, -1))


def linear_autoencoder_critical_points(second_moment: Tensor, k: int) -> list[LinearAutoencoderCriticalPoint]:
    """Every critical point of the k-unit linear autoencoder for Σ (d, d) symmetric with distinct eigenvalues:
    one per subset I of at most k of its eigenvectors (Σ_{m≤k} C(d, m) of them), the principal one first among
    those of size k."""
    d = second_moment.shape[0]
    if second_moment.shape != (d, d) or not 1 <= k < d:
        raise ValueError(f"need a square Σ (d, d) and 1 <= k < d, got {tuple(second_moment.shape)}, k={k}")
    lam, u = torch.linalg.eigh(second_moment)
    lam, u = lam.flip(0), u.flip(1)  # descending
    if (lam[:-1] - lam[1:]).min() <= 1e-12 * lam.abs().max():
        raise ValueError("Σ's eigenvalues must be distinct (else the critical points form continua)")
    points = []
    for size in range(k + 1):
        for subset in itertools.combinations(range(d), size):
            w1 = torch.zeros(k, d, dtype=second_moment.dtype, device=second_moment.device)
            w2 = torch.zeros(d, k, dtype=second_moment.dtype, device=second_moment.device)
            w1[:size], w2[:, :size] = u[:, list(subset)].T, u[:, list(subset)]
            rest = [j for j in range(d) if j not in subset]
            index = sum(1 for i in subset for j in rest if lam[j] > lam[i]) + (k - size) * (d - size)
            points.append(LinearAutoencoderCriticalPoint(subset, w1, w2, 0.5 * float(lam[rest].sum()), index))
    return points
