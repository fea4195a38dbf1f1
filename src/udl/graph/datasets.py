"""Graph data sets made locally: Zachary's karate club, contextual stochastic block models, synthetic
molecule-like graphs with a graph label, and the book's ethanol example (UDL §13.5).

Every generator takes an explicit ``torch.Generator`` and is vectorized (the CSBM samples 10⁶ nodes and 10⁷ edges
in seconds).
"""

from __future__ import annotations

import torch
from torch import Tensor

from udl.graph._graph import Graph, from_networkx, to_undirected

__all__ = [
    "MOLECULE_ATOMS",
    "contextual_sbm",
    "csbm_node_task",
    "edge_homophily",
    "ethanol",
    "karate_club",
    "molecules",
    "split_masks",
]


def split_masks(
    y: Tensor, per_class: int, num_val: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Semi-supervised masks (Kipf & Welling's protocol): ``per_class`` training nodes of each class, ``num_val``
    validation nodes from the rest, every other node in the test set. Drawn from ``generator``."""
    n = len(y)
    order = torch.randperm(n, generator=generator)
    ranked = y[order]
    # the position of each node among the shuffled nodes of its class: keep the first per_class of each class
    one_hot = torch.nn.functional.one_hot(ranked, int(y.max()) + 1)
    rank = (one_hot.cumsum(0) * one_hot).sum(1) - 1
    train = torch.zeros(n, dtype=torch.bool)
    train[order[rank < per_class]] = True
    rest = order[~train[order]]
    if num_val >= len(rest):
        raise ValueError(f"num_val must be < the {len(rest)} nodes left after training, got {num_val}")
    val = torch.zeros(n, dtype=torch.bool)
    val[rest[:num_val]] = True
    return train, val, ~(train | val)


def karate_club(generator: torch.Generator | None = None) -> Graph:
    """Zachary's karate club (34 members, 78 friendships; networkx's copy): ``x`` the identity (one-hot node ids,
    as Kipf & Welling), ``y`` the club each member joined after the split (0 Mr. Hi, 1 Officer). The training
    mask holds the two leaders (nodes 0 and 33), the validation mask 6 random others, the rest are test nodes."""
    import networkx as nx

    g = nx.karate_club_graph()
    graph = from_networkx(g)
    y = torch.tensor([int(g.nodes[n]["club"] != "Mr. Hi") for n in g.nodes])
    train = torch.zeros(34, dtype=torch.bool)
    train[[0, 33]] = True
    others = torch.arange(1, 33)[torch.randperm(32, generator=generator)]
    val = torch.zeros(34, dtype=torch.bool)
    val[others[:6]] = True
    return Graph(
        graph.edge_index, x=torch.eye(34), y=y, train_mask=train, val_mask=val, test_mask=~(train | val)
    )


def contextual_sbm(
    num_nodes: int,
    *,
    num_classes: int = 2,
    average_degree: float = 10.0,
    homophily: float = 0.8,
    feature_signal: float = 1.0,
    num_features: int = 16,
    degree_exponent: float | None = None,
    generator: torch.Generator,
) -> Graph:
    """A contextual stochastic block model (Deshpande et al. 2018), optionally degree-corrected.

    Nodes get balanced classes y. About ``num_nodes · average_degree / 2`` undirected edges are drawn: each picks
    a source node, and with probability ``homophily`` a target of the same class, else of another class
    (``homophily`` is the expected fraction of edges inside a class, :func:`edge_homophily`). With
    ``degree_exponent`` = α (> 1), nodes are picked in proportion to weights θ ~ Pareto(α): degrees then vary by
    orders of magnitude (a few hubs), else they are nearly Poisson. Features x_n = feature_signal · μ_{y_n} + ε_n
    with ε ~ N(0, I) and class means μ_c of unit norm drawn at random: ``feature_signal`` = 0 makes the features
    pure noise. Self-loops and duplicates are removed (with heavy-tailed degrees hubs draw each other repeatedly, so the
    realized average degree falls below ``average_degree``); edges are stored in both directions.
    """
    if num_nodes < num_classes or num_classes < 2:
        raise ValueError(
            f"need num_classes >= 2 and num_nodes >= num_classes, got {num_nodes}, {num_classes}"
        )
    if not 0 <= homophily <= 1:
        raise ValueError(f"homophily must be in [0, 1], got {homophily}")
    if not average_degree > 0 or feature_signal < 0 or num_features < 1:
        raise ValueError(
            f"average_degree must be > 0, feature_signal >= 0, num_features >= 1; got {average_degree}, "
            f"{feature_signal}, {num_features}"
        )
    if degree_exponent is not None and not degree_exponent > 1:
        raise ValueError(f"degree_exponent must be > 1 or None, got {degree_exponent}")
    g = generator
    y = torch.arange(num_nodes) % num_classes
    y = y[torch.randperm(num_nodes, generator=g)]
    if degree_exponent is None:
        theta = torch.ones(num_nodes, dtype=torch.float64)
    else:  # Pareto by the inverse CDF: P(θ > t) = t^{-(α-1)} for t >= 1
        u = torch.rand(num_nodes, generator=g, dtype=torch.float64).clamp(min=1e-12)
        theta = u.pow(-1.0 / (degree_exponent - 1))
    # nodes sorted by class; cumulative weights inside each class let us sample "a node of class c ∝ θ"
    order = torch.argsort(y, stable=True)
    cum = theta[order].cumsum(0)
    counts = torch.bincount(y, minlength=num_classes)
    ends = counts.cumsum(0)
    class_end = cum[ends - 1]
    class_start = torch.cat([cum.new_zeros(1), class_end[:-1]])

    def sample_in(classes: Tensor) -> Tensor:
        u = torch.rand(len(classes), generator=g, dtype=torch.float64)
        target = class_start[classes] + u * (class_end[classes] - class_start[classes])
        pos = torch.searchsorted(cum, target).clamp(max=num_nodes - 1)
        return order[pos]

    num_edges = round(num_nodes * average_degree / 2)
    source = order[
        torch.searchsorted(cum, torch.rand(num_edges, generator=g, dtype=torch.float64) * cum[-1]).clamp(
            max=num_nodes - 1
        )
    ]
    same = torch.rand(num_edges, generator=g) < homophily
    shift = torch.randint(1, num_classes, (num_edges,), generator=g)
    target_class = torch.where(same, y[source], (y[source] + shift) % num_classes)
    target = sample_in(target_class)
    keep = source != target
    edge_index = to_undirected(torch.stack([source[keep], target[keep]]), num_nodes)
    means = torch.randn(num_classes, num_features, generator=g)
    means = means / means.norm(dim=1, keepdim=True)
    x = feature_signal * means[y] + torch.randn(num_nodes, num_features, generator=g)
    return Graph(edge_index, x=x, y=y)


def edge_homophily(edge_index: Tensor, y: Tensor) -> float:
    """The fraction of edges that join two nodes of one class."""
    return float((y[edge_index[0]] == y[edge_index[1]]).float().mean())


MOLECULE_ATOMS = ("C", "N", "O")
"""node feature columns of :func:`molecules` (one-hot element)"""


def molecules(
    num_graphs: int, *, min_atoms: int = 6, max_atoms: int = 16, generator: torch.Generator
) -> list[Graph]:
    """Synthetic molecule-like graphs with a graph label (for graph classification).

    Each molecule is a random tree of C and N atoms (atom i > 0 bonds to a random earlier atom) with one
    ring-closing bond, plus one or two O atoms. Label 1 ("alcohol-like"): at least one O is terminal, bonded to a
    single C; label 0: every O bridges two backbone atoms (an ether-like O). Both classes have the same atom
    counts, so the label depends on the structure (the O's degree and neighbour), not on what atoms are present.
    ``x`` is the one-hot element (:data:`MOLECULE_ATOMS`), ``y`` a (1,) long tensor; labels alternate 0, 1.
    """
    if not 4 <= min_atoms <= max_atoms:
        raise ValueError(f"need 4 <= min_atoms <= max_atoms, got {min_atoms}, {max_atoms}")
    g = generator
    out = []
    for i in range(num_graphs):  # one molecule per iteration; the atoms of a molecule are drawn as tensors
        label = i % 2
        n = int(torch.randint(min_atoms, max_atoms + 1, (1,), generator=g))
        elements = (torch.rand(n, generator=g) < 0.25).long()  # 0 C, 1 N
        elements[0] = 0
        parent = (torch.rand(n - 1, generator=g) * torch.arange(1, n)).long()
        bonds = [torch.stack([torch.arange(1, n), parent])]
        a, b = torch.randperm(n, generator=g)[:2]
        bonds.append(torch.tensor([[int(a)], [int(b)]]))  # the ring-closing bond
        num_o = int(torch.randint(1, 3, (1,), generator=g))
        carbons = (elements == 0).nonzero().squeeze(1)
        for k in range(num_o):
            o = n + k
            if label == 1 and k == 0:
                c = carbons[torch.randint(len(carbons), (1,), generator=g)]
                bonds.append(torch.tensor([[o], [int(c)]]))
            else:
                u, v = torch.randperm(n, generator=g)[:2]
                bonds.append(torch.tensor([[o, o], [int(u), int(v)]]))
        elements = torch.cat([elements, torch.full((num_o,), 2)])
        edge_index = to_undirected(torch.cat(bonds, dim=1), n + num_o)
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        x = torch.nn.functional.one_hot(elements, len(MOLECULE_ATOMS)).float()
        out.append(Graph(edge_index, x=x, y=torch.tensor([label])))
    return out


def ethanol() -> Graph:
    """The book's ethanol example (UDL §13.5, fig. 13.2): C₂H₅OH as 9 nodes and 8 bonds. Nodes 0, 1 are the
    carbons, 2 the oxygen, 3–8 the hydrogens (three on C0, two on C1, one on O); ``x`` is the one-hot atomic
    number (118 columns, the book's encoding of the element), ``y`` is None (the book's target is a property of
    the molecule to be learned)."""
    bonds = [(0, 1), (1, 2), (0, 3), (0, 4), (0, 5), (1, 6), (1, 7), (2, 8)]
    edge_index = to_undirected(torch.tensor(bonds).T, 9)
    numbers = torch.tensor([6, 6, 8, 1, 1, 1, 1, 1, 1])
    x = torch.nn.functional.one_hot(numbers - 1, 118).float()
    return Graph(edge_index, x=x)


def csbm_node_task(
    num_nodes: int,
    *,
    num_classes: int = 4,
    homophily: float = 0.7,
    feature_signal: float = 0.7,
    average_degree: float = 10.0,
    degree_exponent: float | None = None,
    train_fraction: float = 0.1,
    labels_per_class: int | None = None,
    num_val: int = 1000,
    generator: torch.Generator,
) -> Graph:
    """A :func:`contextual_sbm` with a node-classification split (:func:`split_masks`): ``labels_per_class``
    labelled nodes per class (the semi-supervised setting) or, if None, ``train_fraction`` of the nodes (balanced
    over classes; the large-graph task, where mini-batches of training nodes make sense); ``num_val`` validation
    nodes; the rest test nodes. The graph and then the split are drawn from ``generator``."""
    if labels_per_class is None and not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    graph = contextual_sbm(
        num_nodes,
        num_classes=num_classes,
        homophily=homophily,
        feature_signal=feature_signal,
        average_degree=average_degree,
        degree_exponent=degree_exponent,
        generator=generator,
    )
    assert graph.y is not None
    per_class = labels_per_class or max(1, int(train_fraction * num_nodes / num_classes))
    train, val, test = split_masks(graph.y, per_class, num_val, generator)
    return Graph(graph.edge_index, x=graph.x, y=graph.y, train_mask=train, val_mask=val, test_mask=test)
