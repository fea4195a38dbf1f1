"""The spectral view of graph convolution (UDL §13.4, the remark on spectral methods; Kipf & Welling 2017 §2).

The normalized Laplacian L = I − D^{-1/2} A D^{-1/2} of an undirected graph is symmetric with eigenvalues in
[0, 2]; its eigenvectors U are the graph's "Fourier basis". A spectral filter g acts on node signals x (N, F) as
U g(Λ) Uᵀ x. A Chebyshev filter Σ_k θ_k T_k(L̃) x, L̃ = 2L/λ_max − I, is the same thing for a polynomial g and
needs no eigendecomposition. To first order with λ_max = 2 and θ = θ_0 = −θ_1 it is θ (I + D^{-1/2} A D^{-1/2}) x,
and Kipf's renormalization I + D^{-1/2} A D^{-1/2} → D̃^{-1/2} Ã D̃^{-1/2} gives the GCN layer: the spatial
Kipf layer *is* the spectral filter g(λ̃) = 1 − λ̃ on the graph with self-loops (:func:`kipf_spectral_response`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from udl.graph._graph import add_self_loops, to_dense_adjacency

__all__ = [
    "chebyshev_filter",
    "kipf_spectral_response",
    "laplacian",
    "laplacian_eigenbasis",
    "spectral_filter",
]


def laplacian(
    edge_index: Tensor,
    num_nodes: int,
    *,
    normalization: str | None = "sym",
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """The dense graph Laplacian: L = D − A (``normalization=None``) or I − D^{-1/2} A D^{-1/2} (``"sym"``;
    an isolated node's row is that of I). ``edge_index`` must be undirected (both directions stored)."""
    if normalization not in (None, "sym"):
        raise ValueError(f"normalization must be None or 'sym', got {normalization!r}")
    a = to_dense_adjacency(edge_index, num_nodes, dtype)
    deg = a.sum(1)
    if normalization is None:
        return torch.diag(deg) - a
    inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0)
    return torch.eye(num_nodes, dtype=dtype) - inv_sqrt[:, None] * a * inv_sqrt[None, :]


def laplacian_eigenbasis(laplacian: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric Laplacian."""
    if not torch.allclose(laplacian, laplacian.T):
        raise ValueError("laplacian_eigenbasis needs a symmetric Laplacian (an undirected graph)")
    values, vectors = torch.linalg.eigh(laplacian)
    return values, vectors


def spectral_filter(
    x: Tensor, eigenvalues: Tensor, eigenvectors: Tensor, response: Callable[[Tensor], Tensor]
) -> Tensor:
    """U g(Λ) Uᵀ x: the signal's graph Fourier transform, scaled per frequency by ``response``, transformed back."""
    return eigenvectors @ (response(eigenvalues)[:, None] * (eigenvectors.T @ x))


def chebyshev_filter(
    x: Tensor, laplacian: Tensor, coefficients: Sequence[float], lambda_max: float = 2.0
) -> Tensor:
    """Σ_k θ_k T_k(L̃) x with L̃ = 2L/λ_max − I, by the recurrence T_k = 2 L̃ T_{k−1} − T_{k−2} (no eigenvectors)."""
    if not coefficients:
        raise ValueError("chebyshev_filter needs at least one coefficient")
    scaled = 2.0 * laplacian / lambda_max - torch.eye(len(laplacian), dtype=laplacian.dtype)
    previous, current = x, scaled @ x
    out = coefficients[0] * previous
    for theta in coefficients[1:]:
        out = out + theta * current
        previous, current = current, 2 * scaled @ current - previous
    return out


def kipf_spectral_response(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """The eigenbasis (Λ̃, Ũ) of the normalized Laplacian of Ã = A + I and the response g(λ̃) = 1 − λ̃ for which
    U g(Λ̃) Uᵀ = D̃^{-1/2} Ã D̃^{-1/2} (Kipf's propagation matrix)."""
    lap = laplacian(add_self_loops(edge_index, num_nodes), num_nodes)
    values, vectors = laplacian_eigenbasis(lap)
    return values, vectors, 1 - values
