"""Graph attention versus graph convolution when edges are noisy (UDL §13.8.6).

Protocol. For each edge-noise level (the fraction 1 − h of edges that join nodes of different classes, h the
homophily in ``homophilies``) and seed, a contextual SBM (``num_nodes`` nodes, 3 classes, features with class
means ``feature_signal`` from 0) with a semi-supervised split (20 labels per class, 200 validation nodes). A
2-layer Kipf GCN and a 2-layer GAT (``heads`` heads averaged, LeakyReLU scores, edge softmax; otherwise the same
recipe: Adam, dropout 0.5, early stopping on the validation error) start from the same seed (paired arms).

The book's motivation for attention: the Kipf weights 1/√(d̃_m d̃_n) are fixed by the graph, attention weights
are computed from the node embeddings, so the model can learn to give a neighbour from another class less weight.
Claims: at the noisiest level GAT beats GCN (where attention helps is reported per level in the measurements),
and the trained GAT's first layer puts more attention on same-class edges than on cross-class ones. Check: the
attention weights into every node sum to one.

Measured at quick (3 seeds, 1,000 nodes): attention does not help here. GAT − GCN is −0.5 ± 0.4 points at
h = 0.9, −3.8 ± 1.6 at h = 0.6 and −4.1 ± 2.4 at h = 0.45 (fails); the trained first layer's attention on
same-class edges exceeds that on cross-class edges by only 0.0024 ± 0.0015 (mean weights 0.092 vs 0.089; all 3
seeds agree, short of 2 SE: not established). With 60 labels the extra attention parameters are hard to fit, and
in a CSBM the noisy edges are statistically indistinguishable from the clean ones except through the features,
which the first layer sees at a low signal-to-noise ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.checks import at_least, in_range
from udl.experiments._recipes import claim_comparison, seed_range
from udl.experiments.ch13._node import node_test_accuracy
from udl.graph import GCN, GATConv, scatter_sum
from udl.graph.datasets import csbm_node_task
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, mean_se, paired_difference
from udl.train import seed_everything

CHAPTER = 13
SECTION = "13.8.6"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "GAT vs GCN as a growing fraction of edges join different classes; where attention helps"
CONTEXT = (
    "Graph attention (section 13.8.6) replaces the fixed aggregation weights of a GCN by weights computed "
    "from the node embeddings and normalized over each neighbourhood by a softmax, so a network can learn "
    "which neighbours to listen to."
)


@dataclass(frozen=True)
class Config:
    num_nodes: int = 1000
    """nodes of each contextual SBM"""
    homophilies: tuple[float, ...] = (0.9, 0.6, 0.45)
    """expected fractions of same-class edges, from clean to noisy (the last is the claim's level)"""
    feature_signal: float = 1.5
    """distance of the feature class means from 0 (unit-variance noise)"""
    hidden: int = 16
    """hidden channels (per head for the GAT)"""
    heads: int = 4
    """GAT attention heads"""
    epochs: int = 100
    """maximum epochs"""
    patience: int = 30
    """early-stopping patience"""
    lr: float = 0.01
    """Adam learning rate"""
    seeds: int = 3
    """seeds (>= 2 for a standard error)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        if not self.homophilies:
            raise ValueError("homophilies must name at least one level")
        in_range(self, homophilies=(0, 1), feature_signal=(0, 100), closed_low=True)
        in_range(self, lr=(0, 1))
        at_least(self, 1, "hidden", "heads", "epochs", "patience", "seeds")
        if self.num_nodes < 3 * 20 + 200 + 10:
            raise ValueError(
                f"num_nodes must be >= 270 (60 labels, 200 validation nodes), got {self.num_nodes}"
            )


PRESETS = {
    "smoke": Config(num_nodes=300, homophilies=(0.9, 0.5), epochs=5, patience=3, seeds=2, hidden=8, heads=2),
    "quick": Config(),
    "full": Config(
        num_nodes=5000, homophilies=(0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4), epochs=300, patience=100, seeds=10
    ),
}


def attention_helps(gat: list[float], gcn: list[float]) -> Comparison:
    """Does GAT's test accuracy exceed GCN's (gat − gcn, paired by seed; holds at > 2 SE)?"""
    return paired_difference(gat, gcn)


def attention_selects(same: list[float], cross: list[float]) -> Comparison:
    """Does the mean attention on same-class edges exceed that on cross-class edges (same − cross, paired by seed;
    holds at > 2 SE)?"""
    return paired_difference(same, cross)


def run(cfg: Config, run: Run) -> None:
    levels = list(cfg.homophilies)
    acc = {a: [[0.0] * cfg.seeds for _ in levels] for a in ("gcn", "gat")}
    same_attention = [0.0] * cfg.seeds
    cross_attention = [0.0] * cfg.seeds
    worst_sum = 0.0
    with run.progress(cfg.seeds * len(levels), "graphs") as bar:
        for i, s in enumerate(seed_range(cfg)):
            for j, h in enumerate(levels):
                g = torch.Generator().manual_seed(1000 * s + j)
                graph = csbm_node_task(
                    cfg.num_nodes,
                    num_classes=3,
                    homophily=h,
                    feature_signal=cfg.feature_signal,
                    labels_per_class=20,
                    num_val=200,
                    generator=g,
                )
                x, y = graph.x, graph.y
                assert x is not None and y is not None
                for arm in ("gcn", "gat"):
                    seed_everything(s)
                    model = GCN(
                        x.shape[1],
                        cfg.hidden,
                        3,
                        conv="gat" if arm == "gat" else "kipf",
                        heads=cfg.heads,
                        dropout=0.5,
                        cached=True,
                    )
                    acc[arm][j][i] = node_test_accuracy(model, graph, cfg, run, f"{arm}-{h}-{s}")
                    if arm == "gat" and j == len(levels) - 1:
                        layer = model.layers[0]
                        assert isinstance(layer, GATConv)
                        with torch.no_grad():
                            _, (edges, alpha) = layer(x, graph.edge_index, return_attention=True)
                        totals = scatter_sum(alpha, edges[1], graph.num_nodes)
                        worst_sum = max(worst_sum, float((totals - 1).abs().max()))
                        real = edges[0] != edges[1]
                        same = (y[edges[0]] == y[edges[1]]) & real
                        cross = (y[edges[0]] != y[edges[1]]) & real
                        same_attention[i] = float(alpha[same].mean())
                        cross_attention[i] = float(alpha[cross].mean())
                bar.update(i * len(levels) + j + 1)
    for j, h in enumerate(levels):
        run.log(j, homophily=h, **{f"{a}_test_accuracy": mean_se(acc[a][j]).mean for a in acc})

    run.check(
        "attention-sums-to-one",
        "The trained GAT's attention weights into every node (its neighbours and itself) sum to one",
        error=worst_sum,
        tolerance=1e-5,
    )
    noisy = levels[-1]
    helps = attention_helps(acc["gat"][-1], acc["gcn"][-1])
    per_level = {
        f"h={h:g}": paired_difference(acc["gat"][j], acc["gcn"][j]).to_json() for j, h in enumerate(levels)
    }
    claim_comparison(
        run,
        "attention-helps-with-noisy-edges",
        f"When {1 - noisy:.0%} of edges join different classes, a GAT classifies held-out nodes better than a "
        f"Kipf GCN ({cfg.seeds} seeds, paired; bar 2 SE)",
        helps,
        expected="accuracy gain > 2 SE",
        gat_minus_gcn_by_homophily=per_level,
    )
    selects = attention_selects(same_attention, cross_attention)
    claim_comparison(
        run,
        "attention-prefers-same-class-edges",
        f"At homophily {noisy:g}, the trained GAT's first layer gives same-class edges more attention than "
        f"cross-class edges on average ({cfg.seeds} seeds, paired; bar 2 SE)",
        selects,
        expected="mean α(same) − mean α(cross) > 2 SE",
    )
    run.summary(
        **{
            f"gat_minus_gcn_h{h:g}": paired_difference(acc["gat"][j], acc["gcn"][j]).diff
            for j, h in enumerate(levels)
        }
    )

    fig, axes = subplots(1, 2, width=4.8)
    ax = axes[0, 0]
    noise = [1 - h for h in levels]
    for arm in acc:
        stats = [mean_se(v) for v in acc[arm]]
        ax.errorbar(
            noise,
            [st.mean for st in stats],
            yerr=[0 if st.n < 2 else st.se for st in stats],
            marker="o",
            label=arm,
        )
    ax.set(xlabel="fraction of cross-class edges", ylabel="test accuracy", title="GAT vs GCN", ylim=(0, 1))
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.bar(
        ["same class", "cross class"],
        [mean_se(same_attention).mean, mean_se(cross_attention).mean],
        color=["#2e9e6a", "#b3261e"],
    )
    ax.set(ylabel="mean attention weight", title=f"GAT layer 1 at homophily {noisy:g}")
    run.figure("graph-attention", fig)
