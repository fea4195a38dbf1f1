"""Neighbour sampling and partitioning: sampled edges are real, fan-outs hold, full fan-outs give the exact
K-hop computation graph (PyG's k_hop_subgraph), seeded runs repeat; the partitioner against pymetis."""

from __future__ import annotations

import warnings

import networkx as nx
import pymetis
import pytest
import torch
from tests.reference import gen
from torch_geometric.utils import k_hop_subgraph

from udl.graph import (
    CSR,
    ClusterLoader,
    NeighbourLoader,
    bfs_order,
    edge_cut,
    from_networkx,
    induced_subgraph,
    partition_graph,
    sample_neighbours,
)
from udl.graph.datasets import contextual_sbm


def _graph(n: int = 500):
    return contextual_sbm(n, average_degree=12, degree_exponent=2.2, generator=gen(0))


def test_sampled_edges_are_real_and_fanouts_hold() -> None:
    g = _graph()
    csr = CSR.of(g.edge_index, g.num_nodes)
    seeds = torch.tensor([3, 10, 99, 250])
    fanouts = [5, 3]
    nodes, ei = sample_neighbours(csr, seeds, fanouts, generator=gen(1))
    assert torch.equal(nodes[:4], seeds) and len(torch.unique(nodes)) == len(nodes)
    real = set((g.edge_index[0] * 500 + g.edge_index[1]).tolist())
    sampled = nodes[ei[0]] * 500 + nodes[ei[1]]
    assert set(sampled.tolist()) <= real
    indegree = torch.bincount(ei[1], minlength=len(nodes))
    deg = torch.bincount(g.edge_index[1], minlength=500)
    # the seeds: all their neighbours if they have <= 5, else 1..5 distinct ones
    for i, s in enumerate(seeds.tolist()):
        assert indegree[i] == deg[s] if deg[s] <= 5 else 1 <= indegree[i] <= 5
    assert int(indegree.max()) <= 5


def test_full_fanouts_give_the_k_hop_computation_graph() -> None:
    g = _graph(300)
    csr = CSR.of(g.edge_index, g.num_nodes)
    seeds = torch.tensor([0, 5])
    nodes, ei = sample_neighbours(csr, seeds, [-1, -1], generator=gen(2))
    subset, sub_ei, _, _ = k_hop_subgraph(seeds, 2, g.edge_index, num_nodes=300)
    assert set(nodes.tolist()) == set(subset.tolist())
    # every edge into a node within 1 hop of the seeds is present (k_hop_subgraph also keeps edges among the
    # outer ring, which a 2-layer network never uses)
    ours = set((nodes[ei[0]] * 300 + nodes[ei[1]]).tolist())
    inner = set(k_hop_subgraph(seeds, 1, g.edge_index, num_nodes=300)[0].tolist())
    needed = {int(s) * 300 + int(t) for s, t in g.edge_index.T.tolist() if t in inner}
    assert ours == needed and ours <= set((sub_ei[0] * 300 + sub_ei[1]).tolist())


def test_sampling_is_uniform_over_neighbours() -> None:
    star = torch.stack([torch.arange(1, 41), torch.zeros(40, dtype=torch.long)])  # 40 leaves -> node 0
    csr = CSR.of(star, 41)
    counts = torch.zeros(41)
    g = gen(3)
    for _ in range(400):
        nodes, _ = sample_neighbours(csr, torch.tensor([0]), [4], generator=g)
        counts[nodes[1:]] += 1
    # each leaf included with probability 1 − (39/40)^4 ≈ 0.096: 38.5 of 400 on average, s.d. ≈ 5.9
    assert float((counts[1:] - 38.5).abs().max()) < 6 * 5.9


def test_loader_is_seeded_and_covers_the_inputs() -> None:
    g = _graph()
    mask = torch.zeros(500, dtype=torch.bool)
    mask[:123] = True
    runs = []
    for _ in range(2):
        loader = NeighbourLoader(g, [4, 4], batch_size=50, generator=gen(4), input_nodes=mask)
        runs.append([b.node_ids for b in loader])
    assert len(loader) == 3 and all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    seeds = torch.cat([ids[: min(50, 123 - 50 * i)] for i, ids in enumerate(runs[0])])
    assert sorted(seeds.tolist()) == list(range(123))
    batch = next(iter(NeighbourLoader(g, [4, 4], batch_size=50, generator=gen(4))))
    assert torch.equal(batch.graph.x, g.x[batch.node_ids]) and batch.batch_size == 50
    with pytest.raises(ValueError, match="fanouts"):
        NeighbourLoader(g, [4, 0], batch_size=5, generator=gen(0))


def test_induced_subgraph_with_and_without_csr_agree() -> None:
    g = _graph()
    nodes = torch.randperm(500, generator=gen(5))[:120]
    a = induced_subgraph(g, nodes)
    b = induced_subgraph(g, nodes, CSR.of(g.edge_index.flip(0), 500))
    key = lambda e: set((e[0] * 120 + e[1]).tolist())  # noqa: E731
    assert key(a.edge_index) == key(b.edge_index)
    brute = {(i, j) for i, u in enumerate(nodes.tolist()) for j, v in enumerate(nodes.tolist())}
    real = {(int(s), int(t)) for s, t in g.edge_index.T.tolist()}
    expected = {i * 120 + j for i, j in brute if (int(nodes[i]), int(nodes[j])) in real}
    assert key(a.edge_index) == expected


def test_bfs_order_is_a_permutation_with_levels() -> None:
    g = from_networkx(nx.path_graph(10))
    order = bfs_order(g.edge_index, 10, generator=gen(0), start=0)
    assert order.tolist() == list(range(10))
    two = from_networkx(nx.disjoint_union(nx.cycle_graph(5), nx.cycle_graph(7)))
    assert sorted(bfs_order(two.edge_index, 12, generator=gen(1)).tolist()) == list(range(12))


def _metis_cut(g, k: int) -> int:
    csr = CSR.of(g.edge_index.flip(0), g.num_nodes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _, membership = pymetis.part_graph(k, xadj=csr.pointer.numpy(), adjncy=csr.sources.numpy())
    return edge_cut(g.edge_index, torch.tensor(membership))


@pytest.mark.parametrize(
    ("name", "k", "within"),
    [("grid", 8, 2.0), ("csbm", 8, 1.2)],
)
def test_partition_is_balanced_and_near_metis(name: str, k: int, within: float) -> None:
    if name == "grid":
        g = from_networkx(nx.grid_2d_graph(40, 40))
    else:
        g = contextual_sbm(4000, num_classes=8, homophily=0.9, generator=gen(6))
    parts = partition_graph(g.edge_index, g.num_nodes, k, generator=gen(7))
    sizes = torch.bincount(parts, minlength=k)
    assert int(sizes.max()) <= 1.05 * g.num_nodes / k + 1
    ours, metis = edge_cut(g.edge_index, parts), _metis_cut(g, k)
    random_cut = edge_cut(g.edge_index, torch.randint(0, k, (g.num_nodes,), generator=gen(8)))
    assert ours <= within * metis and ours < 0.2 * random_cut
    with pytest.raises(ValueError, match="num_parts"):
        partition_graph(g.edge_index, g.num_nodes, 0, generator=gen(0))


def test_cluster_loader_covers_every_node_once_per_epoch() -> None:
    g = _graph()
    parts = partition_graph(g.edge_index, 500, 10, generator=gen(9))
    loader = ClusterLoader(g, parts, parts_per_batch=3, generator=gen(10))
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    total = sum(b.num_nodes for b in batches)
    assert total == 500
    inside = sum(b.num_edges for b in batches)
    within_batches = edge_cut(g.edge_index, parts)  # edges cut by the partition are a superset of those lost
    assert g.num_edges - inside <= within_batches
