"""Mini-batches of nodes for graphs too large for full-batch training (UDL §13.7.1): GraphSAGE-style neighbour
sampling (Hamilton et al. 2017) and induced subgraphs.

A K-layer network's output at a node needs its K-hop neighbourhood, which soon covers the whole graph (the graph
expansion problem). Neighbour sampling keeps, at hop k, at most ``fanouts[k]`` incoming neighbours of each node
reached so far, so a batch of B output nodes touches at most B·Π fanouts nodes whatever the graph's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.graph._graph import Graph

__all__ = ["CSR", "NeighbourLoader", "SampledBatch", "induced_subgraph", "sample_neighbours"]


@dataclass(frozen=True)
class CSR:
    """Incoming edges grouped by target: the sources of node v are ``sources[pointer[v]:pointer[v + 1]]``."""

    pointer: Tensor
    sources: Tensor

    @classmethod
    def of(cls, edge_index: Tensor, num_nodes: int) -> CSR:
        target, order = edge_index[1].sort(stable=True)
        counts = torch.bincount(target, minlength=num_nodes)
        return cls(torch.cat([counts.new_zeros(1), counts.cumsum(0)]), edge_index[0][order].contiguous())

    @property
    def num_nodes(self) -> int:
        return len(self.pointer) - 1


def _expand(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenated ranges [starts[i], starts[i] + counts[i]) without a Python loop."""
    total = int(counts.sum())
    offsets = torch.arange(total) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    return torch.repeat_interleave(starts, counts) + offsets


@dataclass(frozen=True)
class SampledBatch:
    """A sampled computation graph: ``node_ids`` (global ids, the ``batch_size`` seed nodes first), the sampled
    edges in local ids, and the sub-graph's features and labels. A model's outputs for the seeds are
    ``model(batch.graph.x, batch.graph.edge_index)[:batch.batch_size]``."""

    graph: Graph
    node_ids: Tensor
    batch_size: int


def sample_neighbours(
    csr: CSR,
    seeds: Tensor,
    fanouts: Sequence[int],
    *,
    generator: torch.Generator,
    scratch: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample a K-hop computation graph around ``seeds`` (K = ``len(fanouts)``).

    At hop k every node first reached at hop k − 1 (the seeds at hop 0) keeps all its incoming edges if it has at
    most ``fanouts[k]``, else ``fanouts[k]`` edges drawn uniformly with replacement, duplicates merged (GraphSAGE
    samples with replacement); −1 keeps every edge. Returns the node ids (seeds first, then new nodes in order
    of discovery) and the sampled edges in local ids (source, target). ``scratch`` is an optional (N,) long
    buffer filled with −1 (reused across batches; left filled with −1).
    """
    n = csr.num_nodes
    local = torch.full((n,), -1, dtype=torch.long) if scratch is None else scratch
    nodes = [seeds]
    local[seeds] = torch.arange(len(seeds))
    count = len(seeds)
    frontier = seeds
    sources, targets = [], []
    for fanout in fanouts:
        if fanout == 0 or fanout < -1:
            raise ValueError(f"fanouts must be >= 1 or -1 (all neighbours), got {fanout}")
        start = csr.pointer[frontier]
        degree = csr.pointer[frontier + 1] - start
        take_all = degree <= fanout if fanout > 0 else torch.ones_like(degree, dtype=torch.bool)
        full = _expand(start[take_all], degree[take_all])
        full_target = torch.repeat_interleave(frontier[take_all], degree[take_all])
        many = ~take_all
        if bool(many.any()):
            draws = torch.rand(int(many.sum()), fanout, generator=generator)
            picked = start[many, None] + (draws * degree[many, None]).long()  # (M, fanout) edge positions
            picked = torch.unique(picked.reshape(-1))  # duplicates merged; positions identify target too
            # each position's target: the frontier node whose edge range holds it
            owners = torch.searchsorted(csr.pointer, picked, right=True) - 1
            positions = torch.cat([full, picked])
            edge_target = torch.cat([full_target, owners])
        else:
            positions, edge_target = full, full_target
        edge_source = csr.sources[positions]
        fresh = torch.unique(edge_source[local[edge_source] < 0])
        local[fresh] = torch.arange(count, count + len(fresh))
        count += len(fresh)
        nodes.append(fresh)
        sources.append(local[edge_source])
        targets.append(local[edge_target])
        frontier = fresh
    node_ids = torch.cat(nodes)
    local[node_ids] = -1
    empty = torch.zeros(0, dtype=torch.long)
    edge_index = torch.stack(
        [torch.cat(sources) if sources else empty, torch.cat(targets) if targets else empty]
    )
    return node_ids, edge_index


def induced_subgraph(graph: Graph, nodes: Tensor, csr_by_source: CSR | None = None) -> Graph:
    """The sub-graph on ``nodes`` (global ids; their order gives the local ids) with every edge between two of
    them, and their ``x``/``y``/masks. With ``csr_by_source`` (a :class:`CSR` of the *reversed* edges, i.e.
    grouped by source) only the chosen nodes' edges are read, not all E."""
    n = graph.num_nodes
    local = torch.full((n,), -1, dtype=torch.long)
    local[nodes] = torch.arange(len(nodes))
    if csr_by_source is None:
        src, dst = graph.edge_index
    else:
        start = csr_by_source.pointer[nodes]
        positions = _expand(start, csr_by_source.pointer[nodes + 1] - start)
        src = torch.repeat_interleave(nodes, csr_by_source.pointer[nodes + 1] - start)
        dst = csr_by_source.sources[positions]
    keep = (local[src] >= 0) & (local[dst] >= 0)
    edge_index = torch.stack([local[src[keep]], local[dst[keep]]])
    fields = {}
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        value = getattr(graph, name)
        if value is not None and len(value) == n:
            fields[name] = value[nodes]
    return Graph(edge_index, num_nodes=len(nodes), **fields)


class NeighbourLoader:
    """Seeded mini-batches of sampled computation graphs (PyG's ``NeighborLoader`` in spirit).

    Each epoch shuffles ``input_nodes`` (a bool mask or ids; default every node) with ``generator`` and yields a
    :class:`SampledBatch` per ``batch_size`` of them, sampled by :func:`sample_neighbours` with ``fanouts``
    (one per layer, the first for the seeds' own neighbours). Deterministic given the generator's state.
    """

    def __init__(
        self,
        graph: Graph,
        fanouts: Sequence[int],
        *,
        batch_size: int,
        generator: torch.Generator,
        input_nodes: Tensor | None = None,
        shuffle: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not fanouts or any(f == 0 or f < -1 for f in fanouts):
            raise ValueError(f"fanouts must be one entry >= 1 (or -1: all) per layer, got {list(fanouts)}")
        self.graph, self.fanouts, self.batch_size = graph, list(fanouts), batch_size
        self.generator, self.shuffle = generator, shuffle
        if input_nodes is None:
            input_nodes = torch.arange(graph.num_nodes)
        elif input_nodes.dtype == torch.bool:
            input_nodes = input_nodes.nonzero().squeeze(1)
        self.input_nodes = input_nodes
        self.csr = CSR.of(graph.edge_index, graph.num_nodes)
        self._scratch = torch.full((graph.num_nodes,), -1, dtype=torch.long)

    def __len__(self) -> int:
        return -(-len(self.input_nodes) // self.batch_size)

    def __iter__(self) -> Iterator[SampledBatch]:
        order = (
            self.input_nodes[torch.randperm(len(self.input_nodes), generator=self.generator)]
            if self.shuffle
            else self.input_nodes
        )
        for seeds in order.split(self.batch_size):
            node_ids, edge_index = sample_neighbours(
                self.csr, seeds, self.fanouts, generator=self.generator, scratch=self._scratch
            )
            g = self.graph
            fields = {
                name: value[node_ids]
                for name in ("x", "y", "train_mask", "val_mask", "test_mask")
                if (value := getattr(g, name)) is not None and len(value) == g.num_nodes
            }
            yield SampledBatch(Graph(edge_index, num_nodes=len(node_ids), **fields), node_ids, len(seeds))
