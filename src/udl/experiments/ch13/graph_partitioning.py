"""Cluster-GCN (Chiang et al. 2019; UDL §13.7.1's alternative to sampling): partition the graph, train on the
sub-graphs induced by a few parts at a time.

Protocol. Each seed draws the contextual SBM node task of ``neighbour-sampling``
(:func:`udl.graph.datasets.csbm_node_task`). udl's own partitioner (:func:`udl.graph.partition_graph`:
peripheral-BFS recursive bisection refined by balanced label propagation; no METIS in the library — the benchmark
and tests compare its cut with ``pymetis``) splits it into ``num_parts`` parts; each epoch the parts are shuffled
and ``parts_per_batch`` of them form a batch (:class:`udl.graph.ClusterLoader`); edges between parts of one batch
are kept, edges to other batches dropped. The same 2-layer mean GCN trains full-batch and on the cluster batches
(Adam, early stopping on the validation error, paired by seed). Memory: the bytes autograd saves in one step.

Claims: Cluster-GCN reaches the full-batch accuracy within ``tolerance_points``, at under ``memory_fraction`` of
its activation memory. The fraction of edges the partition cuts, and a random partition's, are reported (a CSBM
is an expander: every partition into many parts cuts most edges; ``benchmarks/graph.py`` compares the cut with
METIS's).

Measured at quick (3 seeds, 10,000 nodes, 40 parts, 4 per batch): Cluster-GCN 83.3% vs full batch 84.3% (gap
1.0 ± 0.4 points), at 10% of the activation memory; the partition cuts 74.8% of the edges, a random one 97.5%.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.experiments._checks import at_least, in_range
from udl.experiments.ch13._scale import (
    full_batch_arm,
    memory_verdict,
    minibatch_arm,
    near_full_batch_verdict,
    report,
)
from udl.graph import ClusterLoader, edge_cut, partition_graph
from udl.graph.datasets import csbm_node_task
from udl.report import Run
from udl.stats import mean_se

__all__ = ["Config", "memory_verdict", "near_full_batch_verdict", "run"]

CHAPTER = 13
SECTION = "13.7.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Cluster-GCN on udl's own graph partition: full-batch accuracy at a fraction of the memory"
CONTEXT = (
    "Instead of sampling neighbours, a large graph can be cut into densely connected parts and trained on a few "
    "parts at a time: most edges stay inside a batch, and each step holds only the batch's activations "
    "(section 13.7.1)."
)


@dataclass(frozen=True)
class Config:
    num_nodes: int = 10_000
    """nodes of the contextual SBM"""
    train_fraction: float = 0.1
    """fraction of nodes labelled for training"""
    hidden: int = 64
    """hidden channels of the 2-layer mean GCN"""
    num_parts: int = 40
    """parts of the partition"""
    parts_per_batch: int = 4
    """parts per mini-batch"""
    epochs: int = 20
    """maximum epochs of Cluster-GCN training"""
    full_epochs: int = 60
    """maximum epochs of full-batch training"""
    patience: int = 20
    """early-stopping patience of full-batch training (cluster batches: half of it, at least 2)"""
    tolerance_points: float = 3.0
    """the claim: Cluster-GCN accuracy within this many points of full-batch"""
    memory_fraction: float = 0.5
    """the claim: a cluster step's activation memory below this fraction of full-batch's"""
    seeds: int = 3
    """seeds (>= 2 for a standard error)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, train_fraction=(0, 0.5), memory_fraction=(0, 1), tolerance_points=(0, 100))
        at_least(
            self, 1, "hidden", "num_parts", "parts_per_batch", "epochs", "full_epochs", "patience", "seeds"
        )
        if self.parts_per_batch > self.num_parts:
            raise ValueError(
                f"parts_per_batch must be <= num_parts, got {self.parts_per_batch} > {self.num_parts}"
            )
        if self.num_nodes < 2000:
            raise ValueError(f"num_nodes must be >= 2000 (1,000 validation nodes), got {self.num_nodes}")


PRESETS = {
    "smoke": Config(num_nodes=2000, epochs=2, full_epochs=4, patience=4, seeds=2, hidden=16, num_parts=8),
    "quick": Config(),
    "full": Config(
        num_nodes=200_000, num_parts=400, parts_per_batch=8, epochs=40, full_epochs=200, patience=40, seeds=5
    ),
}


def run(cfg: Config, run: Run) -> None:
    full, cluster, cut, random_cut = [], [], [], []
    with run.progress(cfg.seeds, "seeds") as bar:
        for i, s in enumerate(range(cfg.seed, cfg.seed + cfg.seeds)):
            graph = csbm_node_task(
                cfg.num_nodes, train_fraction=cfg.train_fraction, generator=torch.Generator().manual_seed(s)
            )
            full.append(full_batch_arm(graph, cfg.hidden, 2, cfg.full_epochs, cfg.patience, s, run))
            g = torch.Generator().manual_seed(s)
            parts = partition_graph(graph.edge_index, graph.num_nodes, cfg.num_parts, generator=g)
            random_parts = torch.randint(0, cfg.num_parts, (graph.num_nodes,), generator=g)
            cut.append(edge_cut(graph.edge_index, parts) / graph.num_edges)
            random_cut.append(edge_cut(graph.edge_index, random_parts) / graph.num_edges)
            loader = ClusterLoader(graph, parts, parts_per_batch=cfg.parts_per_batch, generator=g)
            first = next(
                iter(
                    ClusterLoader(
                        graph,
                        parts,
                        parts_per_batch=cfg.parts_per_batch,
                        generator=torch.Generator().manual_seed(s),
                    )
                )
            )
            cluster.append(
                minibatch_arm(
                    graph,
                    loader,
                    first,
                    g,
                    cfg.hidden,
                    2,
                    cfg.epochs,
                    max(2, cfg.patience // 2),
                    s,
                    run,
                    "cluster",
                )
            )
            run.log(
                s,
                full_test_accuracy=full[-1].accuracy,
                cluster_test_accuracy=cluster[-1].accuracy,
                memory_ratio=cluster[-1].activation_bytes / full[-1].activation_bytes,
                cut_fraction=cut[-1],
                random_cut_fraction=random_cut[-1],
            )
            bar.update(i + 1)
    run.summary(cut_fraction=mean_se(cut).mean, random_cut_fraction=mean_se(random_cut).mean)
    description = f"Cluster-GCN batches ({cfg.parts_per_batch} of {cfg.num_parts} parts)"
    report(
        run, "cluster", "cluster-gcn", full, cluster, cfg.tolerance_points, cfg.memory_fraction, description
    )
