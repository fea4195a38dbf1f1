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

from udl.checks import at_least
from udl.experiments.ch13._scale import (
    MiniBatches,
    ScaleRecipe,
    memory_verdict,
    near_full_batch_verdict,
    report,
    scale_arms,
)
from udl.graph import ClusterLoader, Graph, edge_cut, partition_graph
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
class Config(ScaleRecipe):
    """The shared fields (cluster batches' patience: half of ``patience``, at least 2) and the partition."""

    epochs: int = 20
    """maximum epochs of Cluster-GCN training"""
    num_parts: int = 40
    """parts of the partition"""
    parts_per_batch: int = 4
    """parts per mini-batch"""

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, 1, "num_parts", "parts_per_batch")
        if self.parts_per_batch > self.num_parts:
            raise ValueError(
                f"parts_per_batch must be <= num_parts, got {self.parts_per_batch} > {self.num_parts}"
            )


PRESETS = {
    "smoke": Config(num_nodes=2000, epochs=2, full_epochs=4, patience=4, seeds=2, hidden=16, num_parts=8),
    "quick": Config(),
    "full": Config(
        num_nodes=200_000, num_parts=400, parts_per_batch=8, epochs=40, full_epochs=200, patience=40, seeds=5
    ),
}


def run(cfg: Config, run: Run) -> None:
    cut: list[float] = []
    random_cut: list[float] = []

    def batches(graph: Graph, s: int) -> MiniBatches:
        g = torch.Generator().manual_seed(s)
        parts = partition_graph(graph.edge_index, graph.num_nodes, cfg.num_parts, generator=g)
        random_parts = torch.randint(0, cfg.num_parts, (graph.num_nodes,), generator=g)
        cut.append(edge_cut(graph.edge_index, parts) / graph.num_edges)
        random_cut.append(edge_cut(graph.edge_index, random_parts) / graph.num_edges)

        def loader(generator: torch.Generator) -> ClusterLoader:
            return ClusterLoader(graph, parts, parts_per_batch=cfg.parts_per_batch, generator=generator)

        main, first = loader(g), next(iter(loader(torch.Generator().manual_seed(s))))
        return MiniBatches(main, first, g, {"cut_fraction": cut[-1], "random_cut_fraction": random_cut[-1]})

    full, cluster = scale_arms(cfg, run, "cluster", 2, max(2, cfg.patience // 2), batches)
    run.summary(cut_fraction=mean_se(cut).mean, random_cut_fraction=mean_se(random_cut).mean)
    description = f"Cluster-GCN batches ({cfg.parts_per_batch} of {cfg.num_parts} parts)"
    report(
        run, "cluster", "cluster-gcn", full, cluster, cfg.tolerance_points, cfg.memory_fraction, description
    )
