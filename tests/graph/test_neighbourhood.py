"""K-hop neighbourhoods against PyG's k_hop_subgraph and networkx distances; smoothness measures by formula."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from tests.reference import F64, gen
from torch_geometric.utils import k_hop_subgraph

from udl.graph import (
    dirichlet_energy,
    k_hop_mask,
    laplacian,
    rayleigh_quotient,
    to_dense_adjacency,
    to_networkx,
)
from udl.graph.datasets import contextual_sbm, karate_club


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_k_hop_equals_pyg_on_a_directed_graph(hops: int) -> None:
    ei = torch.randint(0, 60, (2, 120), generator=gen(0))
    sources = torch.tensor([0, 7, 33])
    mask = k_hop_mask(ei, 60, sources, hops)
    for i, s in enumerate(sources.tolist()):
        subset = k_hop_subgraph(s, hops, ei, num_nodes=60)[0]
        assert set(mask[i].nonzero().squeeze(1).tolist()) == set(subset.tolist())


def test_k_hop_equals_networkx_distances() -> None:
    g = karate_club(gen(0))
    nxg = to_networkx(g)
    mask = k_hop_mask(g.edge_index, 34, torch.arange(34), 2)
    for s in range(34):
        within = {m for m, d in nx.single_source_shortest_path_length(nxg, s).items() if d <= 2}
        assert set(mask[s].nonzero().squeeze(1).tolist()) == within
    with pytest.raises(ValueError, match="hops"):
        k_hop_mask(g.edge_index, 34, torch.arange(2), -1)


def test_smoothness_measures() -> None:
    g = contextual_sbm(200, generator=gen(1))
    x = torch.randn(200, 3, generator=gen(2), dtype=F64)
    lap = laplacian(g.edge_index, 200, normalization=None)
    assert float((dirichlet_energy(x, g.edge_index) - torch.trace(x.T @ lap @ x)).abs()) < 1e-9
    a = to_dense_adjacency(g.edge_index, 200, F64) + torch.eye(200, dtype=F64)
    d = a.sum(1).pow(-0.5)
    lap_tilde = torch.eye(200, dtype=F64) - d[:, None] * a * d[None, :]
    ref = torch.trace(x.T @ lap_tilde @ x) / torch.trace(x.T @ x)
    assert float((rayleigh_quotient(x, g.edge_index) - ref).abs()) < 1e-12
    # the null-space direction D̃^{1/2} 1 is perfectly smooth
    assert float(rayleigh_quotient(a.sum(1).sqrt().unsqueeze(1), g.edge_index).abs()) < 1e-12
    assert float(dirichlet_energy(torch.ones(200, 2), g.edge_index)) == 0.0
