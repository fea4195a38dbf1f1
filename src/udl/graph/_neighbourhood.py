"""K-hop neighbourhoods (UDL §13.7.1: a K-layer GCN's output at a node depends on its K-hop neighbourhood, which
in many graphs is most of the graph — the graph expansion problem) and smoothness measures of node
representations (over-smoothing, §13.8)."""

from __future__ import annotations

import torch
from torch import Tensor

from udl.graph._message import Propagation, aggregate, gcn_normalization

__all__ = ["dirichlet_energy", "k_hop_mask", "rayleigh_quotient"]


def k_hop_mask(edge_index: Tensor, num_nodes: int, sources: Tensor, hops: int) -> Tensor:
    """(len(sources), N) bool: node m is within ``hops`` edges of ``sources[i]`` (following edges backwards, from
    target to source: the nodes whose messages can reach the source in ``hops`` layers; the same for an
    undirected graph). Computed for all sources at once as ((A + I)ᵀ)^K applied to one-hot columns."""
    if hops < 0:
        raise ValueError(f"hops must be >= 0, got {hops}")
    reach = torch.zeros(num_nodes, len(sources), dtype=torch.float32)
    reach[sources, torch.arange(len(sources))] = 1.0
    prop = Propagation.of(edge_index.flip(0), num_nodes)  # reach[m] gathers from the nodes m sends to
    for _ in range(hops):
        reach = ((aggregate(reach, prop) + reach) > 0).float()
    return reach.T.bool()


def dirichlet_energy(x: Tensor, edge_index: Tensor) -> Tensor:
    """E(H) = ½ Σ_{(m,n) ∈ edges} ‖h_m − h_n‖² (each undirected edge stored twice counts once): zero iff the
    representation is constant on every connected component."""
    src, dst = edge_index
    return 0.5 * (x[src] - x[dst]).pow(2).sum()


def rayleigh_quotient(x: Tensor, edge_index: Tensor, *, add_self_loops: bool = True) -> Tensor:
    """tr(Hᵀ L̃ H) / tr(Hᵀ H) with L̃ = I − D̃^{-1/2} Ã D̃^{-1/2} the normalized Laplacian of the graph with
    self-loops (Kipf's propagation is I − L̃): a scale-free smoothness in [0, 2], falling to 0 as repeated
    propagation collapses H onto L̃'s null space (over-smoothing)."""
    n = len(x)
    edges, weight = gcn_normalization(edge_index, n, add_self_loops=add_self_loops, dtype=x.dtype)
    smoothed = aggregate(x, Propagation.of(edges, n, weight, dtype=x.dtype))
    return ((x * x).sum() - (x * smoothed).sum()) / (x * x).sum()
