"""Graph convolutional layers (UDL §13.4, §13.8) with PyG's signatures: ``layer(x, edge_index)``.

Rows are nodes: ``x`` is (N, F), the transpose of the book's H ∈ R^{D×N}, so the book's Ω H A becomes
``A @ x @ Ωᵀ``. Each layer is the *linear* part of a book layer (β 1ᵀ + Ω H M for a propagation matrix M); the
activation a[·] is applied by the model, as in PyG. Aggregation over neighbours is a sparse matrix product
(``torch.sparse.mm`` with a CSR matrix built from ``edge_index``) or, for attention, ``index_add_`` over edges.

``cached=True`` keeps the propagation matrix of the first call (a transductive task on one fixed graph), as PyG's
``GCNConv(cached=True)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.graph._message import (
    Propagation,
    aggregate,
    edge_softmax,
    gcn_normalization,
    scatter_max,
    scatter_mean,
    scatter_sum,
)

__all__ = [
    "DiagonalEnhancedConv",
    "GATConv",
    "KipfConv",
    "MeanConv",
    "ResidualGCNBlock",
    "SumConv",
    "global_add_pool",
    "global_max_pool",
    "global_mean_pool",
]


class _Propagation(nn.Module):
    """A layer whose aggregation is a fixed sparse matrix of the graph (optionally cached)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool, cached: bool) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels, self.cached = in_channels, out_channels, cached
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        self._matrix: Propagation | None = None

    def matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Propagation:
        """The propagation matrix M (N, N) and its transpose, sparse CSR."""
        raise NotImplementedError

    def propagate(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if self._matrix is not None and self.cached:
            m = self._matrix
        else:
            m = self.matrix(edge_index, len(x), x.dtype)
            if self.cached:
                self._matrix = m
        return aggregate(x, m)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


class SumConv(_Propagation):
    """Sum aggregation (UDL §13.4.3, eqs. 13.6–13.8): h'_n = β + Ω (h_n + Σ_{m∈ne[n]} h_m), i.e. the book's
    H_{k+1} = a[β 1ᵀ + Ω H (A + I)] before the activation. ``self_loops=False`` drops the h_n term (Ω H A)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        self_loops: bool = True,
        cached: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, bias, cached)
        self.self_loops = self_loops

    def matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Propagation:
        return Propagation.of(edge_index, num_nodes, dtype=dtype)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        agg = self.propagate(x, edge_index)  # (N, F): Σ_{m∈ne[n]} h_m
        return self.lin(agg + x if self.self_loops else agg)


class MeanConv(_Propagation):
    """Mean aggregation (UDL §13.8.3): h'_n = β + Ω · mean_{m ∈ ne[n] ∪ {n}} h_m, the book's
    H_{k+1} = a[β 1ᵀ + Ω H (A + I) D̃^{-1}] with D̃ the degree matrix of A + I. ``include_self=False`` averages
    the neighbours only (GraphSAGE's neighbour term, PyG's ``SAGEConv`` with ``root_weight=False``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        include_self: bool = True,
        cached: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, bias, cached)
        self.include_self = include_self

    def matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Propagation:
        if self.include_self:
            loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
            edge_index = torch.cat([edge_index, loops], dim=1)
        deg = torch.bincount(edge_index[1], minlength=num_nodes).clamp(min=1).to(dtype)
        return Propagation.of(edge_index, num_nodes, 1.0 / deg[edge_index[1]])

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.lin(self.propagate(x, edge_index))


class DiagonalEnhancedConv(_Propagation):
    """Diagonal enhancement (UDL §13.8.1): h'_n = β + Ω ((1 + ε) h_n + Σ_{m∈ne[n]} h_m), the book's
    H_{k+1} = a[β 1ᵀ + Ω H (A + (1 + ε) I)] with a learned ε (``train_eps``; PyG's ``GINConv`` with a linear
    ``nn``). ε = 0 is :class:`SumConv`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        eps: float = 0.0,
        train_eps: bool = True,
        bias: bool = True,
        cached: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, bias, cached)
        e = torch.tensor([float(eps)])
        if train_eps:
            self.eps = nn.Parameter(e)
        else:
            self.register_buffer("eps", e)

    def matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Propagation:
        return Propagation.of(edge_index, num_nodes, dtype=dtype)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.lin(self.propagate(x, edge_index) + (1 + self.eps) * x)


class KipfConv(_Propagation):
    """Kipf normalization (UDL §13.8.4; Kipf & Welling 2017): h'_n = β + Σ_{m ∈ ne[n] ∪ {n}} Ω h_m / √(d̃_n d̃_m),
    the book's H_{k+1} = a[β 1ᵀ + Ω H D̃^{-1/2} (A + I) D̃^{-1/2}] with d̃ = 1 + degree.

    Parameters are named as PyG's ``GCNConv`` (``lin.weight`` without bias, then ``bias``), so its state dict
    loads into this layer. ``add_self_loops=False`` uses D^{-1/2} A D^{-1/2}.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        add_self_loops: bool = True,
        cached: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, False, cached)
        self.add_self_loops = add_self_loops
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.xavier_uniform_(self.lin.weight)  # glorot, as GCNConv

    def matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Propagation:
        edge_index, weight = gcn_normalization(
            edge_index, num_nodes, add_self_loops=self.add_self_loops, dtype=dtype
        )
        return Propagation.of(edge_index, num_nodes, weight)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        out = self.propagate(self.lin(x), edge_index)  # transform first: fewer channels to aggregate
        return out if self.bias is None else out + self.bias


class GATConv(nn.Module):
    """Graph attention (UDL §13.8.6; Veličković et al. 2018), multi-head, with PyG ``GATConv``'s parameters.

    Per head: h'_n = Ω h_n (the book's H' = β 1ᵀ + Ω H without the bias), scores
    s_mn = LeakyReLU(aᵀ_src h'_m + aᵀ_dst h'_n) (= LeakyReLU(φᵀ [h'_m; h'_n]) with φ = [a_src; a_dst]), weights
    α_mn = softmax of s_mn over m ∈ ne[n] ∪ {n} (the book's Softmask[S, A + I]), output Σ_m α_mn h'_m. Heads are
    concatenated (``concat``) or averaged, then the bias added. ``dropout`` drops attention weights in training.
    ``return_attention=True`` also returns ``(edge_index, α)`` with the self-loops added (α: (E', heads)), as
    PyG's ``return_attention_weights``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, heads) < 1:
            raise ValueError(
                f"in_channels, out_channels and heads must be >= 1, got {in_channels, out_channels, heads}"
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.out_channels, self.heads, self.concat = (
            in_channels,
            out_channels,
            heads,
            concat,
        )
        self.negative_slope, self.dropout, self.add_self_loops = negative_slope, dropout, add_self_loops
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        total = heads * out_channels if concat else out_channels
        self.bias = nn.Parameter(torch.zeros(total)) if bias else None
        for p in (self.lin.weight, self.att_src, self.att_dst):
            fan = p.shape[-2] + p.shape[-1]
            bound = math.sqrt(6.0 / fan)
            nn.init.uniform_(p, -bound, bound)

    def forward(
        self, x: Tensor, edge_index: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        n, h, c = len(x), self.heads, self.out_channels
        if self.add_self_loops:
            keep = edge_index[0] != edge_index[1]
            loops = torch.arange(n, device=x.device).expand(2, n)
            edge_index = torch.cat([edge_index[:, keep], loops], dim=1)
        src, dst = edge_index
        z = self.lin(x).view(n, h, c)  # (N, H, C)
        a_src, a_dst = (z * self.att_src).sum(-1), (z * self.att_dst).sum(-1)  # (N, H)
        # index_select, not t[idx]: its backward is one index_add_, not a generic index_put_
        scores = F.leaky_relu(
            a_src.index_select(0, src) + a_dst.index_select(0, dst), self.negative_slope
        )  # (E, H)
        alpha = edge_softmax(scores, dst, n)  # (E, H)
        weights = F.dropout(alpha, self.dropout, self.training) if self.dropout > 0 else alpha
        out = scatter_sum(z.index_select(0, src) * weights.unsqueeze(-1), dst, n)  # (N, H, C)
        out = out.reshape(n, h * c) if self.concat else out.mean(1)
        if self.bias is not None:
            out = out + self.bias
        return (out, (edge_index, alpha)) if return_attention else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"


class ResidualGCNBlock(nn.Module):
    """A residual GCN layer (UDL §13.8.2): h' = h + a[norm(KipfConv(h))]: the block's input is added to its
    transformed aggregate, so information from earlier layers (and the gradient) bypasses the aggregation.
    ``norm=True`` puts a LayerNorm over channels before the activation."""

    def __init__(self, channels: int, *, norm: bool = True, cached: bool = False) -> None:
        super().__init__()
        self.conv = KipfConv(channels, channels, cached=cached)
        self.norm = nn.LayerNorm(channels) if norm else nn.Identity()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return x + F.relu(self.norm(self.conv(x, edge_index)))


def _size(batch: Tensor, size: int | None) -> int:
    return int(batch.max()) + 1 if size is None and batch.numel() else (size or 0)


def global_add_pool(x: Tensor, batch: Tensor | None, size: int | None = None) -> Tensor:
    """Sum readout per graph: (N, F), batch (N,) -> (G, F) (one graph if ``batch`` is None)."""
    if batch is None:
        return x.sum(0, keepdim=True)
    return scatter_sum(x, batch, _size(batch, size))


def global_mean_pool(x: Tensor, batch: Tensor | None, size: int | None = None) -> Tensor:
    """Mean readout per graph (UDL eq. 13.2's H_K 1/N): (N, F) -> (G, F)."""
    if batch is None:
        return x.mean(0, keepdim=True)
    return scatter_mean(x, batch, _size(batch, size))


def global_max_pool(x: Tensor, batch: Tensor | None, size: int | None = None) -> Tensor:
    """Element-wise maximum readout per graph: (N, F) -> (G, F)."""
    if batch is None:
        return x.max(0, keepdim=True).values
    return scatter_max(x, batch, _size(batch, size))
