"""The graph data sets: sizes, knobs (homophily, feature signal, degree spread), labels by brute force."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from tests.reference import gen

from udl.graph import degree, to_networkx
from udl.graph.datasets import (
    MOLECULE_ATOMS,
    contextual_sbm,
    edge_homophily,
    ethanol,
    karate_club,
    molecules,
    split_masks,
)


def test_karate_club() -> None:
    g = karate_club(gen(0))
    assert g.num_nodes == 34 and g.num_edges == 2 * 78
    assert int(g.y[0]) == 0 and int(g.y[33]) == 1 and int(g.y.sum()) == 17
    masks = torch.stack([g.train_mask, g.val_mask, g.test_mask])
    assert torch.equal(masks.sum(0), torch.ones(34, dtype=torch.long))
    assert g.train_mask.nonzero().squeeze(1).tolist() == [0, 33]


@pytest.mark.parametrize("homophily", [0.1, 0.5, 0.9])
def test_csbm_homophily_knob(homophily: float) -> None:
    g = contextual_sbm(4000, num_classes=3, homophily=homophily, generator=gen(1))
    assert abs(edge_homophily(g.edge_index, g.y) - homophily) < 0.03
    assert torch.equal(torch.bincount(g.y), torch.tensor([1334, 1333, 1333]))
    assert bool((g.edge_index[0] != g.edge_index[1]).all())
    reverse = g.edge_index.flip(0)
    key = lambda e: set((e[0] * 4000 + e[1]).tolist())  # noqa: E731
    assert key(g.edge_index) == key(reverse)  # undirected


def test_csbm_feature_signal_knob() -> None:
    def separation(signal: float) -> float:
        g = contextual_sbm(4000, feature_signal=signal, generator=gen(2))
        return float((g.x[g.y == 0].mean(0) - g.x[g.y == 1].mean(0)).norm())

    assert separation(0.0) < 0.15  # noise only: the class means differ by sampling noise (~√(2·16/2000))
    assert abs(separation(2.0) - 2 * separation(1.0)) < 0.3 and separation(1.0) > 0.5


def test_csbm_degree_spread_and_average() -> None:
    flat = contextual_sbm(5000, average_degree=8, generator=gen(3))
    heavy = contextual_sbm(5000, average_degree=8, degree_exponent=2.1, generator=gen(3))
    assert 7.5 < flat.num_edges / 5000 <= 8  # ~8 per node, a few duplicates removed
    assert 4 < heavy.num_edges / 5000 < 8  # hubs draw each other repeatedly: more duplicates
    d_flat, d_heavy = degree(flat.edge_index[1], 5000), degree(heavy.edge_index[1], 5000)
    assert float(d_heavy.max()) > 10 * float(d_flat.max())


def test_csbm_rejects_bad_knobs() -> None:
    for kwargs, match in (
        ({"homophily": 1.5}, "homophily"),
        ({"num_classes": 1}, "num_classes"),
        ({"degree_exponent": 1.0}, "degree_exponent"),
        ({"feature_signal": -1.0}, "feature_signal"),
    ):
        with pytest.raises(ValueError, match=match):
            contextual_sbm(100, generator=gen(0), **kwargs)  # type: ignore[arg-type]


def test_molecule_labels_follow_the_structure() -> None:
    graphs = molecules(40, generator=gen(4))
    o = MOLECULE_ATOMS.index("O")
    counts = {0: [], 1: []}
    for g in graphs:
        nxg = to_networkx(g).to_undirected()
        assert nx.is_connected(nxg)
        element = g.x.argmax(1)
        oxygens = (element == o).nonzero().squeeze(1).tolist()
        terminal_on_c = any(
            nxg.degree[v] == 1 and int(element[next(iter(nxg[v]))]) == MOLECULE_ATOMS.index("C")
            for v in oxygens
        )
        assert terminal_on_c == bool(g.y.item())
        counts[int(g.y)].append(len(oxygens))
    assert len(counts[0]) == len(counts[1]) == 20
    assert set(counts[0]) == set(counts[1]) == {1, 2}


def test_ethanol_is_c2h5oh() -> None:
    g = ethanol()
    assert g.num_nodes == 9 and g.num_edges == 16 and g.x.shape == (9, 118)
    numbers = g.x.argmax(1) + 1
    deg = degree(g.edge_index[1], 9)
    assert sorted(numbers.tolist()) == [1] * 6 + [6, 6, 8]
    valence = {1: 1, 6: 4, 8: 2}
    assert all(int(d) == valence[int(z)] for d, z in zip(deg, numbers, strict=True))


def test_split_masks() -> None:
    y = torch.arange(100) % 4
    train, val, test = split_masks(y, 5, 20, gen(0))
    assert torch.equal(torch.bincount(y[train]), torch.full((4,), 5))
    assert int(val.sum()) == 20 and int(test.sum()) == 60 and not bool((train & val).any())
    with pytest.raises(ValueError, match="num_val"):
        split_masks(y, 5, 90, gen(0))
