"""Graph partitioning for Cluster-GCN-style training (Chiang et al. 2019; UDL §13.7.1's "partition the graph").

udl's own partitioner (no METIS in the library; ``pymetis`` is a test and benchmark reference only):

1. **BFS ordering** (the Cuthill–McKee idea): a level-synchronous breadth-first search (restarted in every
   unvisited component) orders the nodes so that each node's neighbours sit near it in the order; a child is
   placed by the position of its earliest parent. Each level is one vectorized step. The search starts from a
   pseudo-peripheral node (the last node a first search reached), so the order sweeps across the graph.
2. **Recursive bisection**: the order is cut in two (in proportion to the parts wanted on each side), and each
   half's own sub-graph is ordered and cut again, down to ``num_parts`` pieces of equal size — a sweep-line
   bisection that gives compact regions with short boundaries on graphs with geometry (meshes, road networks).
3. **Refinement** by balanced label propagation: up to ``rounds`` times (until nothing moves), a random half
   of the nodes each move to the part most of their neighbours are in, if that gains cut edges and the
   destination stays under (1 + ``imbalance``)·N/k nodes (moves ranked by gain, admitted per part until it is full).

Every step is a tensor operation over nodes or edges (no per-node Python loop); it scales to 10⁶ nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from udl.graph._graph import Graph
from udl.graph._sampling import CSR, _expand, induced_subgraph

__all__ = ["ClusterLoader", "bfs_order", "edge_cut", "partition_graph"]


def bfs_order(
    edge_index: Tensor, num_nodes: int, *, generator: torch.Generator, start: int | None = None
) -> Tensor:
    """A breadth-first ordering of all nodes: from ``start`` (default a random node), then every remaining
    component from a random node of it."""
    csr = CSR.of(edge_index.flip(0), num_nodes)  # grouped by source: a node's out-neighbours
    position = torch.full((num_nodes,), -1, dtype=torch.long)
    placed = 0
    candidates = torch.randperm(num_nodes, generator=generator)
    if start is not None:
        candidates = torch.cat([torch.tensor([start]), candidates[candidates != start]])
    cursor = 0
    while placed < num_nodes:
        # the next unvisited node in the random order: scanned in chunks, the cursor only moves forward
        while True:
            unvisited = (position[candidates[cursor : cursor + 4096]] < 0).nonzero()
            if len(unvisited):
                cursor += int(unvisited[0])
                break
            cursor += 4096
        frontier = candidates[cursor : cursor + 1]
        position[frontier] = placed
        placed += 1
        while len(frontier):
            begin = csr.pointer[frontier]
            counts = csr.pointer[frontier + 1] - begin
            children = csr.sources[_expand(begin, counts)]
            parents = torch.repeat_interleave(position[frontier], counts)
            new = position[children] < 0
            children, parents = children[new], parents[new]
            if not len(children):
                break
            key = torch.full((num_nodes,), num_nodes, dtype=torch.long)
            key.scatter_reduce_(0, children, parents, reduce="amin")  # each child's earliest parent
            fresh = torch.unique(children)
            fresh = fresh[torch.argsort(key[fresh] * num_nodes + fresh)]
            position[fresh] = torch.arange(placed, placed + len(fresh))
            placed += len(fresh)
            frontier = fresh
    order = torch.empty(num_nodes, dtype=torch.long)
    order[position] = torch.arange(num_nodes)
    return order


def _peripheral_order(edge_index: Tensor, num_nodes: int, generator: torch.Generator) -> Tensor:
    """A BFS order started from a pseudo-peripheral node: the last node reached by a BFS from a random node
    (about as far from the rest as any), so the order sweeps across the graph instead of growing rings."""
    first = bfs_order(edge_index, num_nodes, generator=generator)
    far = first[-1]
    # a second search from the far node: put it first in the random restart order
    return bfs_order(edge_index, num_nodes, generator=generator, start=int(far))


def _bisect(
    edge_index: Tensor, nodes: Tensor, first: int, count: int, parts: Tensor, generator: torch.Generator
) -> None:
    """Recursive bisection: ``edge_index`` is the sub-graph on ``nodes`` (local ids); split it along a peripheral
    BFS order in proportion count//2 : count − count//2 and recurse into each half's own sub-graph, giving parts
    ``first .. first + count − 1``."""
    if count == 1:
        parts[nodes] = first
        return
    n = len(nodes)
    order = _peripheral_order(edge_index, n, generator)
    left = count // 2
    cut = n * left // count
    for half, start, k in ((order[:cut], first, left), (order[cut:], first + left, count - left)):
        sub = induced_subgraph(Graph(edge_index, num_nodes=n), half)
        _bisect(sub.edge_index, nodes[half], start, k, parts, generator)


def edge_cut(edge_index: Tensor, parts: Tensor) -> int:
    """Edges (columns of ``edge_index``) whose ends lie in different parts; for an undirected graph stored in
    both directions, halve it for the undirected cut."""
    return int((parts[edge_index[0]] != parts[edge_index[1]]).sum())


def partition_graph(
    edge_index: Tensor,
    num_nodes: int,
    num_parts: int,
    *,
    generator: torch.Generator,
    rounds: int = 40,
    imbalance: float = 0.05,
) -> Tensor:
    """(N,) part ids in [0, num_parts): BFS chunks refined by balanced label propagation (module docstring)."""
    if not 1 <= num_parts <= num_nodes:
        raise ValueError(f"num_parts must be in [1, num_nodes={num_nodes}], got {num_parts}")
    if rounds < 0 or imbalance < 0:
        raise ValueError(f"rounds and imbalance must be >= 0, got {rounds}, {imbalance}")
    parts = torch.zeros(num_nodes, dtype=torch.long)
    _bisect(edge_index, torch.arange(num_nodes), 0, num_parts, parts, generator)
    capacity = int((1 + imbalance) * num_nodes / num_parts) + 1
    src, dst = edge_index
    for _ in range(rounds):
        # neighbour counts per (node, part) over the edges into each node
        key = dst * num_parts + parts[src]
        pairs, counts = torch.unique(key, return_counts=True)
        node, part = pairs // num_parts, pairs % num_parts
        best = torch.zeros(num_nodes, dtype=torch.long).scatter_reduce_(0, node, counts, reduce="amax")
        here = torch.zeros(num_nodes, dtype=torch.long)
        own = part == parts[node]
        here[node[own]] = counts[own]
        # the best part of each node (ties: the lowest part id among the best)
        is_best = counts == best[node]
        target = torch.full((num_nodes,), num_parts, dtype=torch.long).scatter_reduce_(
            0, node[is_best], part[is_best], reduce="amin"
        )
        gain = best - here
        awake = torch.rand(num_nodes, generator=generator) < 0.5
        movers = ((gain > 0) & awake & (target < num_parts)).nonzero().squeeze(1)
        if not len(movers):
            break
        movers = movers[torch.argsort(-gain[movers], stable=True)]
        dest = target[movers]
        sizes = torch.bincount(parts, minlength=num_parts)
        # rank of each mover among those heading to the same part (by gain): admit while the part has room
        by_dest = torch.argsort(dest, stable=True)
        dest_sorted = dest[by_dest]
        first = torch.searchsorted(dest_sorted, dest_sorted)
        rank = torch.empty_like(dest)
        rank[by_dest] = torch.arange(len(dest)) - first
        admitted = rank < (capacity - sizes[dest]).clamp(min=0)
        parts[movers[admitted]] = dest[admitted]
    return parts


class ClusterLoader:
    """Cluster-GCN mini-batches: each epoch the parts are shuffled and taken ``parts_per_batch`` at a time; a
    batch is the sub-graph induced by their nodes (edges between the chosen parts kept, edges to other parts
    dropped). ``parts`` comes from :func:`partition_graph` (or any partitioner)."""

    def __init__(
        self, graph: Graph, parts: Tensor, *, parts_per_batch: int, generator: torch.Generator
    ) -> None:
        if parts.shape != (graph.num_nodes,):
            raise ValueError(
                f"parts must have one entry per node ({graph.num_nodes}), got {tuple(parts.shape)}"
            )
        if parts_per_batch < 1:
            raise ValueError(f"parts_per_batch must be >= 1, got {parts_per_batch}")
        self.graph, self.parts_per_batch, self.generator = graph, parts_per_batch, generator
        self.num_parts = int(parts.max()) + 1
        self.members = CSR.of(torch.stack([torch.arange(graph.num_nodes), parts]), self.num_parts)
        self.by_source = CSR.of(graph.edge_index.flip(0), graph.num_nodes)

    def __len__(self) -> int:
        return -(-self.num_parts // self.parts_per_batch)

    def __iter__(self) -> Iterator[Graph]:
        order = torch.randperm(self.num_parts, generator=self.generator)
        for chosen in order.split(self.parts_per_batch):
            start = self.members.pointer[chosen]
            nodes = self.members.sources[_expand(start, self.members.pointer[chosen + 1] - start)]
            yield induced_subgraph(self.graph, nodes, self.by_source)
