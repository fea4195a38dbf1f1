"""Graph data (UDL §13.1–13.2) in PyTorch Geometric's conventions.

A graph with N nodes and E directed edges is held as

- ``edge_index``: (2, E) ``torch.long``; edge e runs from ``edge_index[0, e]`` (source) to ``edge_index[1, e]``
  (target) and messages flow source → target (PyG's ``flow="source_to_target"``); an undirected edge is stored
  once in each direction;
- ``x``: (N, F) node embeddings (the book's columns of X ∈ R^{D×N}, here rows: X^T);
- ``edge_attr``: (E, F_e) edge embeddings, ``y``: node or graph labels, ``train_mask``/``val_mask``/``test_mask``:
  (N,) booleans, ``batch``: (N,) the graph each node belongs to in a mini-batch (:func:`batch_graphs`).

The book's adjacency matrix (§13.2.1) is ``to_dense_adjacency``: A[m, n] = 1 when an edge joins m and n. The
book's node permutation X' = XP, A' = PᵀAP (UDL eq. 13.1) is :func:`permute_nodes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "Graph",
    "add_self_loops",
    "batch_graphs",
    "check_edge_index",
    "coalesce",
    "degree",
    "from_dense_adjacency",
    "from_networkx",
    "from_pyg",
    "permute_nodes",
    "remove_self_loops",
    "to_dense_adjacency",
    "to_networkx",
    "to_pyg",
    "to_undirected",
]


def check_edge_index(edge_index: Any, num_nodes: int) -> None:
    """Raise one clear error unless ``edge_index`` is a (2, E) long tensor of node ids in [0, num_nodes).

    Raises:
        TypeError: not a tensor, or not ``torch.long``.
        ValueError: wrong shape, negative ``num_nodes``, or an id out of range (the first bad edge is named).
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"edge_index must be a torch.Tensor of shape (2, E), got {type(edge_index).__name__}")
    if edge_index.dtype != torch.long:
        raise TypeError(f"edge_index must have dtype torch.long (int64), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if num_nodes < 0:
        raise ValueError(f"num_nodes must be >= 0, got {num_nodes}")
    if edge_index.numel():
        bad = (edge_index < 0) | (edge_index >= num_nodes)
        if bool(bad.any()):
            e = int(bad.any(0).nonzero()[0])
            raise ValueError(
                f"edge_index has node ids outside [0, {num_nodes}): edge {e} is "
                f"{tuple(int(v) for v in edge_index[:, e])}"
            )


@dataclass
class Graph:
    """One graph (or a mini-batch of graphs as one block-diagonal graph) in PyG's layout (see the module doc).

    ``num_nodes`` defaults to ``len(x)`` (or 1 + the largest id in ``edge_index``). Every tensor is checked on
    construction: a bad ``edge_index`` or a per-node tensor of the wrong length raises one ValueError/TypeError.
    """

    edge_index: Tensor
    x: Tensor | None = None
    edge_attr: Tensor | None = None
    y: Tensor | None = None
    train_mask: Tensor | None = None
    val_mask: Tensor | None = None
    test_mask: Tensor | None = None
    batch: Tensor | None = None
    num_nodes: int = -1

    def __post_init__(self) -> None:
        if self.num_nodes < 0:
            if self.x is not None:
                self.num_nodes = len(self.x)
            elif isinstance(self.edge_index, Tensor) and self.edge_index.numel():
                self.num_nodes = int(self.edge_index.max()) + 1
            else:
                self.num_nodes = 0
        check_edge_index(self.edge_index, self.num_nodes)
        n, e = self.num_nodes, self.edge_index.shape[1]
        for name, length in (("x", n), ("edge_attr", e), ("batch", n)):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, Tensor) or value.dim() == 0 or len(value) != length
            ):
                raise ValueError(f"{name} must be a tensor with {length} rows, got {_shape(value)}")
        for name in ("train_mask", "val_mask", "test_mask"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, Tensor) or value.dtype != torch.bool or value.shape != (n,)
            ):
                raise ValueError(f"{name} must be a bool tensor of shape ({n},), got {_shape(value)}")

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_graphs(self) -> int:
        return 1 if self.batch is None else (int(self.batch.max()) + 1 if self.num_nodes else 0)

    def to(self, device: torch.device | str) -> Graph:
        """A copy with every tensor on ``device``."""
        moved: dict[str, Any] = {
            f.name: v.to(device) for f in fields(self) if isinstance(v := getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)


def _shape(value: Any) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def degree(index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """How often each node id occurs in ``index`` (``degree(edge_index[1], N)``: in-degrees), like PyG's
    ``torch_geometric.utils.degree``."""
    return torch.zeros(num_nodes, dtype=dtype, device=index.device).index_add_(
        0, index, torch.ones(len(index), dtype=dtype, device=index.device)
    )


def remove_self_loops(edge_index: Tensor, edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Drop the edges n → n (and their attributes)."""
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], None if edge_attr is None else edge_attr[keep]


def add_self_loops(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Append one edge n → n per node (after the existing edges, as PyG does); existing loops are kept."""
    loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
    return torch.cat([edge_index, loops], dim=1)


def coalesce(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Sort the edges by (source, target) and drop duplicates."""
    key = torch.unique(edge_index[0] * num_nodes + edge_index[1])
    return torch.stack([key // num_nodes, key % num_nodes])


def to_undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Both directions of every edge, sorted and without duplicates."""
    return coalesce(torch.cat([edge_index, edge_index.flip(0)], dim=1), num_nodes)


def to_dense_adjacency(edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The adjacency matrix A (UDL §13.2.1): A[source, target] counts the edges source → target.

    For an undirected graph A is symmetric and equals the book's A (A[m, n] = 1 iff m and n are joined).
    """
    check_edge_index(edge_index, num_nodes)
    a = torch.zeros(num_nodes * num_nodes, dtype=dtype, device=edge_index.device)
    a.index_add_(
        0,
        edge_index[0] * num_nodes + edge_index[1],
        torch.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device),
    )
    return a.view(num_nodes, num_nodes)


def from_dense_adjacency(adjacency: Tensor) -> Tensor:
    """The edge index of the non-zero entries of a square adjacency matrix (row = source), sorted."""
    if adjacency.dim() != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(f"adjacency must be a square matrix, got shape {tuple(adjacency.shape)}")
    return adjacency.nonzero().T.contiguous()


def permute_nodes(graph: Graph, permutation: Tensor) -> Graph:
    """Relabel the nodes: new node i is old node ``permutation[i]`` (UDL eq. 13.1: X' = XP, A' = PᵀAP).

    Node tensors are reordered, edge ids are mapped; edges keep their order (so ``edge_attr`` is unchanged).
    """
    n = graph.num_nodes
    if permutation.shape != (n,) or not torch.equal(permutation.sort().values, torch.arange(n)):
        raise ValueError(
            f"permutation must be a permutation of 0..{n - 1}, got shape {tuple(permutation.shape)}"
        )
    inverse = torch.empty_like(permutation)
    inverse[permutation] = torch.arange(n)
    per_node = {"x", "y", "train_mask", "val_mask", "test_mask", "batch"}
    changes: dict[str, Any] = {"edge_index": inverse[graph.edge_index]}
    for name in per_node:
        value = getattr(graph, name)
        if value is not None and (name != "y" or len(value) == n):
            changes[name] = value[permutation]
    return replace(graph, **changes)


def batch_graphs(graphs: Sequence[Graph]) -> Graph:
    """Many graphs as one block-diagonal graph: node ids shifted, tensors concatenated, ``batch`` (N,) naming
    each node's graph (PyG's ``Batch.from_data_list``). Graph-level ``y`` (one row per graph) is stacked."""
    if not graphs:
        raise ValueError("batch_graphs needs at least one graph")
    sizes = torch.tensor([g.num_nodes for g in graphs])
    offsets = torch.cumsum(sizes, 0) - sizes
    edge_index = torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets, strict=True)], dim=1)
    batch = torch.repeat_interleave(torch.arange(len(graphs)), sizes)
    out: dict[str, Any] = {}
    for name in ("x", "edge_attr", "y", "train_mask", "val_mask", "test_mask"):
        values = [getattr(g, name) for g in graphs]
        if all(v is None for v in values):
            continue
        if any(v is None for v in values):
            raise ValueError(f"batch_graphs: {name} is set on some graphs and not on others")
        out[name] = torch.cat([v.reshape(1) if v.dim() == 0 else v for v in values])
    return Graph(edge_index, batch=batch, num_nodes=int(sizes.sum()), **out)


def to_networkx(graph: Graph) -> Any:
    """A ``networkx.DiGraph`` with nodes 0..N−1 and one edge per column of ``edge_index`` (duplicates merge)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(graph.num_nodes))
    g.add_edges_from(graph.edge_index.T.tolist())
    return g


def from_networkx(g: Any) -> Graph:
    """A networkx graph as a :class:`Graph`: nodes numbered in ``g.nodes`` order; an undirected graph's edges in
    both directions (as PyG's ``from_networkx``)."""
    index = {node: i for i, node in enumerate(g.nodes)}
    pairs = [(index[u], index[v]) for u, v in g.edges]
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T
    if not g.is_directed():
        edge_index = to_undirected(edge_index, len(index))
    return Graph(edge_index.contiguous(), num_nodes=len(index))


_FIELDS = ("edge_index", "x", "edge_attr", "y", "train_mask", "val_mask", "test_mask", "batch")


def to_pyg(graph: Graph) -> Any:
    """The graph as ``torch_geometric.data.Data`` (imported here, so udl never needs PyG to import)."""
    from torch_geometric.data import Data

    return Data(num_nodes=graph.num_nodes, **{k: v for k in _FIELDS if (v := getattr(graph, k)) is not None})


def from_pyg(data: Any) -> Graph:
    """A :class:`Graph` from anything with PyG ``Data``'s attributes (``edge_index``, ``x``, ``num_nodes``...)."""
    if not hasattr(data, "edge_index"):
        raise TypeError(f"from_pyg needs an object with an edge_index attribute, got {type(data).__name__}")
    return Graph(
        num_nodes=int(data.num_nodes), **{k: v for k in _FIELDS if (v := getattr(data, k, None)) is not None}
    )
