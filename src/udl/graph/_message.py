"""Message passing primitives: scatter reductions over edges, the edge softmax, and sparse aggregation.

Every layer of udl.graph is written with these (``index_add_``, ``scatter_reduce`` and ``torch.sparse``); none
loops over nodes in Python. Messages flow along ``edge_index[0]`` (source) → ``edge_index[1]`` (target).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = [
    "Propagation",
    "adjacency_matrix",
    "aggregate",
    "edge_softmax",
    "gcn_normalization",
    "scatter_max",
    "scatter_mean",
    "scatter_sum",
]


def scatter_sum(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """out[i] = Σ_{e: index[e] = i} src[e] (rows of ``src``; ``index_add_``)."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """The mean of the rows sent to each index (0 where none arrive)."""
    count = torch.zeros(dim_size, dtype=src.dtype, device=src.device).index_add_(
        0, index, torch.ones(len(index), dtype=src.dtype, device=src.device)
    )
    return scatter_sum(src, index, dim_size) / count.clamp(min=1).view(-1, *([1] * (src.dim() - 1)))


def scatter_max(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    """The element-wise maximum of the rows sent to each index (0 where none arrive)."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    return out.scatter_reduce(0, expanded, src, reduce="amax", include_self=False)


def edge_softmax(scores: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """Softmax of edge scores over the edges that share a target: α_e = exp(s_e) / Σ_{e': index[e']=index[e]}
    exp(s_e'), per column (head). The book's Softmask[S, A + I] (UDL §13.8.6) in edge form; the largest score
    per target is subtracted first, so large scores do not overflow."""
    peak = scatter_max(scores.detach(), index, num_nodes).index_select(0, index)
    weights = (scores - peak).exp()
    return weights / scatter_sum(weights, index, num_nodes).index_select(0, index)


def adjacency_matrix(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The sparse (CSR) propagation matrix M with M[target, source] = weight, so ``M @ x`` sums each node's
    incoming messages (for an undirected graph M = A, the book's adjacency; ``x`` rows are nodes).

    Built by sorting the edges by target: no COO coalescing, duplicates add up in the product.
    """
    target, order = edge_index[1].sort(stable=True)
    counts = torch.bincount(target, minlength=num_nodes)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    values = (
        torch.ones(len(order), dtype=dtype, device=edge_index.device)
        if edge_weight is None
        else edge_weight[order]
    )
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it is what torch.sparse offers
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, edge_index[0][order], values, (num_nodes, num_nodes))


class Propagation(NamedTuple):
    """A sparse propagation matrix M (CSR, M[target, source] = weight) with its transpose, kept so the
    backward pass of ``M @ x`` (which needs Mᵀ @ grad) does not re-sort the edges at every step."""

    matrix: Tensor
    transpose: Tensor

    @classmethod
    def of(
        cls,
        edge_index: Tensor,
        num_nodes: int,
        edge_weight: Tensor | None = None,
        *,
        dtype: torch.dtype = torch.float32,
    ) -> Propagation:
        """M and Mᵀ of the weighted edges (weights default to 1: M = A for an undirected graph)."""
        return cls(
            adjacency_matrix(edge_index, num_nodes, edge_weight, dtype=dtype),
            adjacency_matrix(edge_index.flip(0), num_nodes, edge_weight, dtype=dtype),
        )


class _SparseProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:
        ctx.transpose = transpose
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse.mm(ctx.transpose, grad), None, None


def aggregate(x: Tensor, propagation: Propagation) -> Tensor:
    """M @ x (each node's weighted sum of incoming messages), differentiable in ``x`` (the weights are fixed)."""
    m, mt = propagation
    if m.dtype != x.dtype:
        m, mt = m.to(x.dtype), mt.to(x.dtype)
    return _SparseProduct.apply(x, m, mt)


def gcn_normalization(
    edge_index: Tensor, num_nodes: int, *, add_self_loops: bool = True, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """Kipf & Welling's edge weights 1/√(d̃_source d̃_target) with d̃ the in-degree after adding self-loops: the
    entries of D̃^{-1/2} Ã D̃^{-1/2} (UDL §13.8.4). Returns the (possibly extended) edge index and the weights.

    Existing self-loops are dropped before one loop per node is added (as PyG's ``gcn_norm``).
    """
    if add_self_loops:
        keep = edge_index[0] != edge_index[1]
        loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
        edge_index = torch.cat([edge_index[:, keep], loops], dim=1)
    deg = torch.zeros(num_nodes, dtype=dtype, device=edge_index.device).index_add_(
        0, edge_index[1], torch.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
    )
    inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0)
    return edge_index, inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]
