"""Neighbour sampling (UDL §13.7.1; GraphSAGE, Hamilton et al. 2017): mini-batch training of a GCN on a graph
too large for full-batch training, at a fraction of the memory.

Protocol. Each seed draws a contextual SBM node task (:func:`udl.graph.datasets.csbm_node_task`: ``num_nodes``
nodes, 4 classes, ``train_fraction`` of them labelled, 1,000 validation nodes). A 2-layer mean-aggregation GCN
(§13.8.3, the aggregation GraphSAGE samples for: the mean of sampled neighbours estimates the mean of all) is
trained (a) full-batch for ``full_epochs`` epochs and (b) on :class:`udl.graph.NeighbourLoader` batches of
``batch_size`` training nodes with ``fanouts`` neighbours per layer for ``epochs`` epochs, both with Adam and
early stopping on the validation error, from the same initialization (paired by seed). Memory: the bytes autograd
saves for backward in one step (:func:`udl.graph.saved_tensor_bytes`; the activation memory at a step's peak),
full graph vs the first sampled batch. Time per epoch is reported.

Measured at quick (3 seeds, 10,000 nodes): sampled 84.8% vs full batch 84.3% test accuracy (full − sampled
−0.5 ± 0.07 points), a sampled step holding 36% of the full-batch activation memory (the batch reaches ~3,650 of
the 10,000 nodes: the graph expansion problem at two hops).

The 10⁶-node graph trained end to end is ``benchmarks/graph.py --million`` (peak RSS and time per epoch there).
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
from udl.graph import Graph, NeighbourLoader
from udl.report import Run

CHAPTER = 13
SECTION = "13.7.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
__all__ = ["Config", "memory_verdict", "near_full_batch_verdict", "run"]

SUMMARY = (
    "GraphSAGE neighbour sampling: accuracy of full-batch training at a fraction of the activation memory"
)
CONTEXT = (
    "Full-batch GCN training holds every node's activations at every layer. Section 13.7.1 trains on batches "
    "of nodes instead; since a K-hop neighbourhood soon covers the graph, the neighbours are sampled: at each "
    "layer only a few neighbours of every node are kept."
)


@dataclass(frozen=True)
class Config(ScaleRecipe):
    """The shared fields (sampled training's patience: a quarter of ``patience``, at least 2) and the sampler."""

    fanouts: tuple[int, ...] = (10, 5)
    """neighbours sampled per node at each layer (the first for the batch nodes); the length is the depth"""
    batch_size: int = 128
    """training nodes per sampled batch"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.fanouts or any(f < 1 for f in self.fanouts):
            raise ValueError(f"fanouts must be one integer >= 1 per layer, got {self.fanouts}")
        at_least(self, 1, "batch_size")


PRESETS = {
    "smoke": Config(num_nodes=2000, epochs=2, full_epochs=4, patience=4, seeds=2, hidden=16, batch_size=64),
    "quick": Config(),
    "full": Config(num_nodes=200_000, epochs=20, full_epochs=200, patience=40, seeds=5),
}


def run(cfg: Config, run: Run) -> None:
    def batches(graph: Graph, s: int) -> MiniBatches:
        def loader() -> NeighbourLoader:
            g = torch.Generator().manual_seed(s)
            return NeighbourLoader(
                graph, cfg.fanouts, batch_size=cfg.batch_size, generator=g, input_nodes=graph.train_mask
            )

        main, first = loader(), next(iter(loader()))
        return MiniBatches(main, first, main.generator, {"sampled_batch_nodes": first.graph.num_nodes})

    full, sampled = scale_arms(cfg, run, "sampled", len(cfg.fanouts), max(2, cfg.patience // 4), batches)
    description = f"sampled neighbourhoods (fan-outs {list(cfg.fanouts)}, batches of {cfg.batch_size})"
    report(run, "sampled", "sampling", full, sampled, cfg.tolerance_points, cfg.memory_fraction, description)
