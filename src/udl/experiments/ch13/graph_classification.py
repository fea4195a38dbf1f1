"""Inductive graph classification (UDL §13.5–13.6): held-out molecules, invariance and equivariance.

Protocol. Each seed draws ``num_train`` + ``num_val`` + ``num_test`` synthetic molecules
(:func:`udl.graph.datasets.molecules`): C/N trees with a ring bond and one or two O atoms; the label says whether an
O is terminal on a carbon (alcohol-like) or every O bridges two atoms (ether-like). Both classes have the same atom
counts, so only the bonds tell them apart. A graph classifier (``layers`` sum-aggregation layers, §13.4.3, ReLU,
mean readout, linear head: the book's ethanol network of §13.5 with a softmax output) trains on mini-batches of
block-diagonal graphs with Adam, early stopping on the validation molecules; the same network on the molecules
with their bonds removed (a bag of atoms) is the baseline, paired by seed.

Checks (float64, at every preset): the classifier's output is invariant to a random relabelling of each
molecule's nodes, its node embeddings are equivariant (UDL eqs. 13.1, 13.5), a batch of graphs gives each graph's
own output (block-diagonal batching), and on the book's ethanol molecule the classifier equals the book's layer
formula H_{k+1} = a[β_k 1ᵀ + Ω_k H_k (A + I)] followed by the mean readout H_K 1/N.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import networkx as nx
import torch

from udl.checks import at_least, in_range
from udl.experiments._recipes import seed_range
from udl.graph import (
    Graph,
    GraphClassifier,
    SumConv,
    batch_graphs,
    fit_graph_classifier,
    permute_nodes,
    to_dense_adjacency,
    to_networkx,
)
from udl.graph.datasets import MOLECULE_ATOMS, ethanol, molecules
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, mean_se, paired_difference
from udl.train import seed_everything

CHAPTER = 13
SECTION = "13.5"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Graph classification of synthetic molecules: held-out accuracy, permutation invariance, equivariance"
)
CONTEXT = (
    "A graph-level task maps a whole graph (a molecule) to one label: graph layers make node embeddings, a "
    "readout averages them, and a linear layer predicts (section 13.5, the ethanol example). The model is "
    "inductive: it is trained on some graphs and applied to new ones, and its output cannot depend on how the "
    "nodes are numbered."
)

F64 = torch.float64


@dataclass(frozen=True)
class Config:
    num_train: int = 600
    """training molecules per seed"""
    num_val: int = 200
    """validation molecules (early stopping)"""
    num_test: int = 400
    """held-out test molecules"""
    layers: int = 3
    """graph layers of the classifier"""
    hidden: int = 32
    """hidden channels"""
    epochs: int = 60
    """maximum epochs"""
    patience: int = 20
    """early-stopping patience (epochs)"""
    batch_size: int = 32
    """molecules per mini-batch"""
    lr: float = 0.005
    """Adam learning rate"""
    accuracy_floor: float = 0.9
    """the claim: held-out accuracy above this"""
    seeds: int = 3
    """seeds (>= 2 for a standard error)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), accuracy_floor=(0, 1))
        at_least(
            self,
            1,
            "num_train",
            "num_val",
            "num_test",
            "layers",
            "hidden",
            "epochs",
            "patience",
            "batch_size",
            "seeds",
        )


PRESETS = {
    "smoke": Config(num_train=64, num_val=32, num_test=32, epochs=3, patience=2, seeds=2, hidden=16),
    "quick": Config(),
    "full": Config(num_train=4000, num_val=1000, num_test=2000, epochs=200, patience=40, seeds=5),
}


def held_out_verdict(gcn: list[float], bag: list[float], floor: float) -> Verdict:
    """The GCN beats the bag of atoms on held-out molecules (paired, > 2 SE) and its mean accuracy − 2 SE is
    above ``floor`` (fails if the mean itself is not above it)."""
    s = mean_se(gcn)
    if s.mean <= floor:
        above: bool | Verdict = False
    else:
        above = Verdict.NOT_ESTABLISHED if s.n < 2 or s.mean - 2 * s.se <= floor else True
    return all_of(paired_difference(gcn, bag).verdict, above)


def _strip(graphs: list[Graph]) -> list[Graph]:
    return [replace(g, edge_index=torch.zeros(2, 0, dtype=torch.long)) for g in graphs]


def _checks(run: Run) -> None:
    torch.manual_seed(0)
    model = GraphClassifier(len(MOLECULE_ATOMS), 8, 2, layers=3).double()
    graphs = molecules(6, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    invariance = equivariance = 0.0
    with torch.no_grad():
        for graph in graphs:
            assert graph.x is not None
            perm = torch.randperm(graph.num_nodes, generator=g)
            moved = permute_nodes(graph, perm)
            assert moved.x is not None
            x, xp = graph.x.double(), moved.x.double()
            invariance = max(
                invariance, float((model(xp, moved.edge_index) - model(x, graph.edge_index)).abs().max())
            )
            e, ep = model.node_embeddings(x, graph.edge_index), model.node_embeddings(xp, moved.edge_index)
            equivariance = max(equivariance, float((ep - e[perm]).abs().max()))
        b = batch_graphs(graphs)
        assert b.x is not None
        batched = model(b.x.double(), b.edge_index, b.batch, len(graphs))
        single = torch.cat([model(gr.x.double(), gr.edge_index) for gr in graphs if gr.x is not None])
        batching = float((batched - single).abs().max())
    run.check(
        "output-permutation-invariant",
        "Relabelling a molecule's nodes leaves the classifier's logits unchanged (6 molecules, float64)",
        error=invariance,
        tolerance=1e-12,
    )
    run.check(
        "embeddings-permutation-equivariant",
        "Relabelling a molecule's nodes permutes the node embeddings H_K the same way (6 molecules, float64)",
        error=equivariance,
        tolerance=1e-12,
    )
    run.check(
        "batch-is-block-diagonal",
        "A block-diagonal batch of 6 molecules gives each molecule's own logits (float64)",
        error=batching,
        tolerance=1e-12,
    )

    # the book's ethanol network (§13.5) written as matrices, nodes as columns
    eth = ethanol()
    assert eth.x is not None
    net = GraphClassifier(118, 4, 2, layers=2).double()
    a_i = to_dense_adjacency(eth.edge_index, 9, F64) + torch.eye(9, dtype=F64)
    with torch.no_grad():
        h = eth.x.double().T  # (118, 9): X
        for conv in net.convs:
            assert isinstance(conv, SumConv)
            h = torch.relu(conv.lin.bias[:, None] + conv.lin.weight @ h @ a_i)  # a[β1ᵀ + Ω H (A + I)]
        book = net.head.weight @ h @ torch.full((9, 1), 1 / 9, dtype=F64) + net.head.bias[:, None]  # H_K 1/N
        err = float((net(eth.x.double(), eth.edge_index) - book.T).abs().max())
    run.check(
        "ethanol-network-is-the-book-formula",
        "On ethanol (9 atoms) the classifier equals H_{k+1} = a[β_k1ᵀ + Ω_kH_k(A + I)], then the mean readout "
        "and a linear layer (UDL §13.5), float64",
        error=err,
        tolerance=1e-12,
    )


def run(cfg: Config, run: Run) -> None:
    _checks(run)
    gcn, bag, curves = [], [], []
    with run.progress(cfg.seeds, "seeds") as bar:
        for i, s in enumerate(seed_range(cfg)):
            g = torch.Generator().manual_seed(s)
            data = molecules(cfg.num_train + cfg.num_val + cfg.num_test, generator=g)
            order = torch.randperm(len(data), generator=g).tolist()
            data = [data[j] for j in order]
            tr, va, te = (
                data[: cfg.num_train],
                data[cfg.num_train : cfg.num_train + cfg.num_val],
                data[cfg.num_train + cfg.num_val :],
            )
            results = []
            for name, sets in (("gcn", (tr, va, te)), ("bag", tuple(_strip(list(x)) for x in (tr, va, te)))):
                seed_everything(s)
                model = GraphClassifier(len(MOLECULE_ATOMS), cfg.hidden, 2, layers=cfg.layers)
                r = fit_graph_classifier(
                    model,
                    *sets,
                    epochs=cfg.epochs,
                    batch_size=cfg.batch_size,
                    lr=cfg.lr,
                    patience=cfg.patience,
                    generator=torch.Generator().manual_seed(s),
                    run=run,
                    name=f"{name}-{s}",
                )
                results.append(r)
            gcn.append(results[0].test_accuracy)
            bag.append(results[1].test_accuracy)
            curves.append(results[0])
            run.log(s, gcn_test_accuracy=gcn[-1], bag_test_accuracy=bag[-1])
            bar.update(i + 1)

    comparison = paired_difference(gcn, bag)
    run.claim(
        "held-out-molecules",
        f"Trained on {cfg.num_train} molecules, a {cfg.layers}-layer GCN classifies held-out molecules above "
        f"{cfg.accuracy_floor:.0%} accuracy (mean − 2 SE) and beats the same network without bonds, which sees only "
        f"the atoms ({cfg.seeds} seeds, paired; bar 2 SE)",
        holds=held_out_verdict(gcn, bag, cfg.accuracy_floor),
        measured={
            "gcn": mean_se(gcn).to_json(),
            "bag_of_atoms": mean_se(bag).to_json(),
            "difference": comparison.to_json(),
        },
        expected=f"GCN mean − 2 SE > {cfg.accuracy_floor}; GCN − bag > 2 SE",
    )
    run.summary(gcn_test_accuracy=mean_se(gcn).mean, bag_test_accuracy=mean_se(bag).mean)

    fig, axes = subplots(1, 2, width=4.6)
    ax = axes[0, 0]
    ax.bar(["GCN", "bag of atoms"], [mean_se(gcn).mean, mean_se(bag).mean], color=["#3b5ba5", "#6b7280"])
    ax.axhline(0.5, color="#b3261e", linestyle=":", linewidth=1, label="chance")
    ax.set(ylabel="held-out accuracy", ylim=(0, 1), title=f"Synthetic molecules ({cfg.seeds} seeds)")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    eth = ethanol()
    gx = to_networkx(eth).to_undirected()
    assert eth.x is not None
    symbols = {1: "H", 6: "C", 8: "O"}
    labels = {n: symbols[int(eth.x[n].argmax()) + 1] for n in range(9)}
    nx.draw_networkx(
        gx, pos=nx.kamada_kawai_layout(gx), ax=ax, labels=labels, node_color="#e07b39", node_size=350
    )
    ax.set(title="The book's ethanol graph (§13.5)")
    ax.axis("off")
    run.figure("graph-classification", fig)
