"""Training recipes for graph tasks on udl's loop (:func:`udl.train.train`): transductive node classification
(UDL §13.6–13.7: the whole graph in every step, the loss on the labelled nodes) and inductive graph
classification (mini-batches of graphs as block-diagonal graphs, §13.5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.graph._graph import Graph, batch_graphs
from udl.graph._sampling import SampledBatch
from udl.optim import Adam
from udl.train import EarlyStopping, OptimizerStep, RunLike, minibatches, train

__all__ = [
    "GraphFitResult",
    "accuracy",
    "fit_graph_classifier",
    "fit_minibatch_node_classifier",
    "fit_node_classifier",
    "saved_tensor_bytes",
]


@dataclass(frozen=True)
class GraphFitResult:
    """Accuracies of the model that training ended with (the best validation epoch with early stopping)."""

    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    epochs: int
    """epochs trained"""
    best_epoch: int | None
    """early stopping's best epoch (None without early stopping)"""


def accuracy(logits: Tensor, y: Tensor, mask: Tensor | None = None) -> float:
    """The fraction of (masked) rows whose arg-max equals the label."""
    if mask is not None:
        logits, y = logits[mask], y[mask]
    return float((logits.argmax(-1) == y).float().mean()) if len(y) else float("nan")


def fit_node_classifier(
    model: nn.Module,
    graph: Graph,
    *,
    epochs: int,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    patience: int | None = None,
    run: RunLike | None = None,
    name: str = "gcn",
) -> GraphFitResult:
    """Full-batch semi-supervised training (Kipf & Welling's recipe): Adam on the cross-entropy of the training
    nodes, ``model(x, edge_index)`` over the whole graph each step; with ``patience`` early stopping on the
    validation error restores the best epoch. The graph needs ``x``, ``y`` and the three masks."""
    if graph.x is None or graph.y is None or graph.train_mask is None or graph.val_mask is None:
        raise ValueError("fit_node_classifier needs a graph with x, y, train_mask and val_mask")
    x, edge_index, y = graph.x, graph.edge_index, graph.y
    train_mask, val_mask = graph.train_mask, graph.val_mask
    test_mask = graph.test_mask if graph.test_mask is not None else ~(train_mask | val_mask)
    optimizer = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    update = OptimizerStep(optimizer)

    def step(_: object) -> dict[str, Tensor]:
        loss = F.cross_entropy(model(x, edge_index)[train_mask], y[train_mask])
        update(loss)
        return {"loss": loss.detach()}

    def evaluate() -> dict[str, float]:
        return {"val_error": 1 - accuracy(model(x, edge_index), y, val_mask)}

    stopper = EarlyStopping(patience) if patience is not None else None
    result = train(
        step,
        lambda epoch: [None],
        epochs=epochs,
        state={"model": model, "optimizer": optimizer},
        run=run,
        name=name,
        log_every=max(1, epochs // 20),
        evaluate=evaluate,
        early_stopping=stopper,
    )
    model.eval()
    with torch.no_grad():
        logits = model(x, edge_index)
    return GraphFitResult(
        accuracy(logits, y, train_mask),
        accuracy(logits, y, val_mask),
        accuracy(logits, y, test_mask),
        result.epochs,
        result.best_at,
    )


def _graph_accuracy(model: nn.Module, graphs: Sequence[Graph]) -> float:
    b = batch_graphs(graphs)
    assert b.x is not None and b.y is not None
    return accuracy(model(b.x, b.edge_index, b.batch, len(graphs)), b.y)


def fit_graph_classifier(
    model: nn.Module,
    train_graphs: Sequence[Graph],
    val_graphs: Sequence[Graph],
    test_graphs: Sequence[Graph],
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 0.005,
    patience: int | None = None,
    generator: torch.Generator,
    run: RunLike | None = None,
    name: str = "graph-classifier",
) -> GraphFitResult:
    """Inductive graph classification: Adam on mini-batches of ``batch_size`` training graphs, each batch one
    block-diagonal graph; ``model(x, edge_index, batch, num_graphs)`` -> (G, classes) logits, labels ``y`` (1,)
    per graph. Early stopping (``patience``) on the validation graphs' error."""
    optimizer = Adam(model.parameters(), lr=lr)
    update = OptimizerStep(optimizer)
    index = torch.arange(len(train_graphs))

    def step(batch: tuple[Tensor]) -> dict[str, Tensor]:
        graphs = [train_graphs[int(i)] for i in batch[0]]
        b = batch_graphs(graphs)
        assert b.x is not None and b.y is not None
        loss = F.cross_entropy(model(b.x, b.edge_index, b.batch, len(graphs)), b.y)
        update(loss)
        return {"loss": loss.detach()}

    stopper = EarlyStopping(patience) if patience is not None else None
    result = train(
        step,
        lambda epoch: minibatches(index, batch_size=batch_size, generator=generator),
        epochs=epochs,
        state={"model": model, "optimizer": optimizer, "generator": generator},
        run=run,
        name=name,
        log_every=max(1, epochs // 20),
        evaluate=lambda: {"val_error": 1 - _graph_accuracy(model, val_graphs)},
        early_stopping=stopper,
    )
    model.eval()
    with torch.no_grad():
        train_acc, val_acc, test_acc = (
            _graph_accuracy(model, gs) for gs in (train_graphs, val_graphs, test_graphs)
        )
    return GraphFitResult(train_acc, val_acc, test_acc, result.epochs, result.best_at)


def saved_tensor_bytes(fn: Callable[[], Tensor]) -> tuple[Tensor, int]:
    """Run ``fn`` (a forward pass) and count the bytes of the distinct tensors autograd saves for its backward
    pass: the activation memory a training step holds at its peak, whatever the allocator. Returns fn's result
    and the byte count."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: Tensor) -> Tensor:
        if t.layout == torch.strided:
            storage = t.untyped_storage()
            seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


Batch = SampledBatch | Graph


def _seed_terms(batch: Batch) -> tuple[Graph, Tensor | slice]:
    """The sub-graph a batch runs on and the rows the loss is taken on: a sampled batch's seeds, or a
    cluster batch's training nodes."""
    if isinstance(batch, SampledBatch):
        return batch.graph, slice(0, batch.batch_size)
    if batch.train_mask is None:
        raise ValueError("a cluster batch needs a train_mask")
    return batch, batch.train_mask


def fit_minibatch_node_classifier(
    model: nn.Module,
    graph: Graph,
    batches: Iterable[Batch],
    *,
    epochs: int,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    patience: int | None = None,
    generator: torch.Generator,
    run: RunLike | None = None,
    name: str = "minibatch-gcn",
) -> GraphFitResult:
    """Mini-batch node classification: Adam steps on the batches of a :class:`NeighbourLoader` (loss on each
    batch's seed nodes, which should be training nodes) or a :class:`ClusterLoader` (loss on the batch's
    training nodes); evaluation on the full graph (inference needs no activations kept). ``generator`` is the
    loader's, checkpointed with the model."""
    if graph.x is None or graph.y is None or graph.train_mask is None or graph.val_mask is None:
        raise ValueError("fit_minibatch_node_classifier needs a graph with x, y, train_mask and val_mask")
    x, edge_index, y = graph.x, graph.edge_index, graph.y
    optimizer = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    update = OptimizerStep(optimizer)

    def step(batch: Batch) -> dict[str, Tensor]:
        sub, rows = _seed_terms(batch)
        assert sub.x is not None and sub.y is not None
        loss = F.cross_entropy(model(sub.x, sub.edge_index)[rows], sub.y[rows])
        update(loss)
        return {"loss": loss.detach()}

    stopper = EarlyStopping(patience) if patience is not None else None
    result = train(
        step,
        batches,
        epochs=epochs,
        state={"model": model, "optimizer": optimizer, "generator": generator},
        run=run,
        name=name,
        evaluate=lambda: {"val_error": 1 - accuracy(model(x, edge_index), y, graph.val_mask)},
        early_stopping=stopper,
    )
    model.eval()
    with torch.no_grad():
        logits = model(x, edge_index)
    test_mask = graph.test_mask if graph.test_mask is not None else ~(graph.train_mask | graph.val_mask)
    return GraphFitResult(
        accuracy(logits, y, graph.train_mask),
        accuracy(logits, y, graph.val_mask),
        accuracy(logits, y, test_mask),
        result.epochs,
        result.best_at,
    )
