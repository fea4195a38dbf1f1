"""Graph data: validation, conversions (dense, networkx, PyG Data), batching, self-loops and degrees."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from tests.reference import gen
from torch_geometric.data import Batch, Data
from torch_geometric.utils import add_self_loops as pyg_add_self_loops
from torch_geometric.utils import degree as pyg_degree
from torch_geometric.utils import to_undirected as pyg_to_undirected

from udl.graph import (
    Graph,
    add_self_loops,
    batch_graphs,
    coalesce,
    datasets,
    degree,
    from_dense_adjacency,
    from_networkx,
    from_pyg,
    permute_nodes,
    remove_self_loops,
    to_dense_adjacency,
    to_networkx,
    to_pyg,
    to_undirected,
)


def _random_edges(n: int = 12, e: int = 30, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, n, (2, e), generator=gen(seed))


@pytest.mark.parametrize(
    ("edge_index", "error", "match"),
    [
        (torch.zeros(2, 3), TypeError, "torch.long"),
        ([[0, 1], [1, 0]], TypeError, "torch.Tensor"),
        (torch.zeros(3, 2, dtype=torch.long), ValueError, r"shape \(2, E\)"),
        (torch.tensor([[0, 5], [1, 0]]), ValueError, r"outside \[0, 4\): edge 1 is \(5, 0\)"),
        (torch.tensor([[0, -1], [1, 0]]), ValueError, "outside"),
    ],
)
def test_bad_graphs_raise_one_clear_error(edge_index, error, match) -> None:
    with pytest.raises(error, match=match):
        Graph(edge_index, x=torch.zeros(4, 2))


def test_bad_node_tensors_are_refused() -> None:
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="x must be a tensor with 3 rows"):
        Graph(ei, x=torch.zeros(2, 1), num_nodes=3)
    with pytest.raises(ValueError, match="train_mask must be a bool tensor"):
        Graph(ei, x=torch.zeros(2, 1), train_mask=torch.ones(2))
    with pytest.raises(ValueError, match="edge_attr must be a tensor with 2 rows"):
        Graph(ei, edge_attr=torch.zeros(3, 1))


def test_num_nodes_defaults() -> None:
    assert Graph(torch.tensor([[0, 6], [1, 0]])).num_nodes == 7
    assert Graph(torch.zeros(2, 0, dtype=torch.long), x=torch.zeros(5, 1)).num_nodes == 5
    assert Graph(torch.zeros(2, 0, dtype=torch.long)).num_nodes == 0


def test_dense_roundtrip_and_counts() -> None:
    ei = coalesce(_random_edges(), 12)
    a = to_dense_adjacency(ei, 12)
    assert torch.equal(from_dense_adjacency(a), ei)
    assert float(a.sum()) == ei.shape[1]
    dup = torch.tensor([[0, 0], [1, 1]])
    assert float(to_dense_adjacency(dup, 2)[0, 1]) == 2.0  # duplicates count


def test_networkx_roundtrip() -> None:
    g = nx.karate_club_graph()
    graph = from_networkx(g)
    assert graph.num_nodes == 34 and graph.num_edges == 2 * g.number_of_edges()
    back = to_networkx(graph)
    assert set(back.edges) == {(u, v) for u, v in g.edges} | {(v, u) for u, v in g.edges}


def test_pyg_roundtrip() -> None:
    g = datasets.karate_club(gen(0))
    data = to_pyg(g)
    assert isinstance(data, Data) and data.num_nodes == 34
    assert torch.equal(data.edge_index, g.edge_index) and torch.equal(data.train_mask, g.train_mask)
    back = from_pyg(data)
    assert torch.equal(back.x, g.x) and torch.equal(back.y, g.y) and back.num_nodes == 34
    with pytest.raises(TypeError, match="edge_index"):
        from_pyg(object())


def test_batching_equals_pyg_batch() -> None:
    graphs = datasets.molecules(6, generator=gen(1))
    ours = batch_graphs(graphs)
    theirs = Batch.from_data_list([to_pyg(g) for g in graphs])
    assert torch.equal(ours.edge_index, theirs.edge_index)
    assert (
        torch.equal(ours.batch, theirs.batch)
        and torch.equal(ours.x, theirs.x)
        and torch.equal(ours.y, theirs.y)
    )
    assert ours.num_graphs == 6
    # block diagonal: no edge crosses graphs
    assert torch.equal(ours.batch[ours.edge_index[0]], ours.batch[ours.edge_index[1]])
    with pytest.raises(ValueError, match="at least one graph"):
        batch_graphs([])


def test_self_loops_degree_undirected_equal_pyg() -> None:
    ei = _random_edges(seed=2)
    assert torch.equal(add_self_loops(ei, 12), pyg_add_self_loops(ei, num_nodes=12)[0])
    assert torch.equal(degree(ei[1], 12), pyg_degree(ei[1], 12))
    assert torch.equal(to_undirected(ei, 12), pyg_to_undirected(ei, num_nodes=12))
    no_loops, _ = remove_self_loops(add_self_loops(ei, 12))
    assert bool((no_loops[0] != no_loops[1]).all())


def test_permutation_is_eq_13_1() -> None:
    g = datasets.karate_club(gen(0))
    perm = torch.randperm(34, generator=gen(5))
    h = permute_nodes(g, perm)
    p = torch.eye(34)[:, perm]  # P with column i = e_{perm[i]}: X' = XP, A' = PᵀAP (nodes as columns)
    a = to_dense_adjacency(g.edge_index, 34)
    assert torch.equal(to_dense_adjacency(h.edge_index, 34), p.T @ a @ p)
    assert torch.equal(h.x.T, g.x.T @ p) and torch.equal(h.y, g.y[perm])
    with pytest.raises(ValueError, match="permutation"):
        permute_nodes(g, torch.zeros(34, dtype=torch.long))
