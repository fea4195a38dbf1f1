"""The node-classification protocol the chapter 13 experiments share (gcn-node-classification, graph-attention,
over-smoothing): full-batch training by ``udl.graph.fit_node_classifier`` with the Config's ``epochs``, ``lr``
and early-stopping ``patience``, scored by held-out test accuracy."""

from __future__ import annotations

from typing import Protocol

from torch import nn

from udl.graph import Graph, fit_node_classifier
from udl.report import Run

__all__ = ["NodeTraining", "node_test_accuracy"]


class NodeTraining(Protocol):
    """A Config with the training fields of the protocol."""

    @property
    def epochs(self) -> int: ...

    @property
    def lr(self) -> float: ...

    @property
    def patience(self) -> int: ...


def node_test_accuracy(
    model: nn.Module, graph: Graph, cfg: NodeTraining, run: Run | None, name: str
) -> float:
    """Train ``model`` on ``graph``'s training nodes (early stopping on its validation nodes) and return the
    accuracy on its test nodes."""
    result = fit_node_classifier(
        model, graph, epochs=cfg.epochs, lr=cfg.lr, patience=cfg.patience, run=run, name=name
    )
    return result.test_accuracy
