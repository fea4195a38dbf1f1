"""What neighbour-sampling and graph-partitioning share: the Config fields of the task, the model, the full-batch
arm and the claims (:class:`ScaleRecipe`); the full-batch baseline and a mini-batch arm's accuracy and activation
memory, side by side for every seed (:func:`scale_arms`); the two verdicts and the figure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import torch

from udl.checks import at_least, in_range
from udl.experiments._recipes import seed_range
from udl.graph import (
    GCN,
    Graph,
    SampledBatch,
    fit_minibatch_node_classifier,
    fit_node_classifier,
    saved_tensor_bytes,
)
from udl.graph.datasets import csbm_node_task
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, mean_se, paired_difference
from udl.train import seed_everything


@dataclass(frozen=True)
class ScaleRecipe:
    """The Config fields both experiments share: the CSBM task, the GCN, the full-batch arm, the claims' bars."""

    num_nodes: int = 10_000
    """nodes of the contextual SBM"""
    train_fraction: float = 0.1
    """fraction of nodes labelled for training"""
    hidden: int = 64
    """hidden channels of the 2-layer mean GCN"""
    epochs: int = 10
    """maximum epochs of mini-batch training"""
    full_epochs: int = 60
    """maximum epochs of full-batch training"""
    patience: int = 20
    """early-stopping patience of full-batch training (mini-batch training: a fraction of it, at least 2)"""
    tolerance_points: float = 3.0
    """the claim: mini-batch accuracy within this many points of full-batch"""
    memory_fraction: float = 0.5
    """the claim: a mini-batch step's activation memory below this fraction of full-batch's"""
    seeds: int = 3
    """seeds (>= 2 for a standard error)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, train_fraction=(0, 0.5), memory_fraction=(0, 1), tolerance_points=(0, 100))
        at_least(self, 1, "hidden", "epochs", "full_epochs", "patience", "seeds")
        if self.num_nodes < 2000:
            raise ValueError(f"num_nodes must be >= 2000 (1,000 validation nodes), got {self.num_nodes}")


@dataclass(frozen=True)
class Arm:
    """One training run: held-out accuracy and the activation bytes of one step. (Wall-clock time is not
    recorded here: a run's results must not depend on the machine's load; ``benchmarks/graph.py`` times.)"""

    accuracy: float
    activation_bytes: int


def make_model(graph: Graph, hidden: int, layers: int, seed: int) -> GCN:
    """The 2-layer (``layers``) mean-aggregation GCN both arms train, initialized from ``seed``."""
    assert graph.x is not None and graph.y is not None
    seed_everything(seed)
    return GCN(graph.x.shape[1], hidden, int(graph.y.max()) + 1, layers=layers, conv="mean")


def full_batch_arm(
    graph: Graph, hidden: int, layers: int, epochs: int, patience: int, seed: int, run: Run
) -> Arm:
    net = make_model(graph, hidden, layers, seed)
    _, used = saved_tensor_bytes(partial(net, graph.x, graph.edge_index))
    r = fit_node_classifier(net, graph, epochs=epochs, patience=patience, run=run, name=f"full-{seed}")
    return Arm(r.test_accuracy, used)


def minibatch_arm(
    graph: Graph,
    batches: Iterable[SampledBatch | Graph],
    first: SampledBatch | Graph,
    generator: torch.Generator,
    hidden: int,
    layers: int,
    epochs: int,
    patience: int,
    seed: int,
    run: Run,
    name: str,
) -> Arm:
    """Train on ``batches`` (whose generator is ``generator``); memory measured on the batch ``first``."""
    net = make_model(graph, hidden, layers, seed)
    sub = first.graph if isinstance(first, SampledBatch) else first
    _, used = saved_tensor_bytes(partial(net, sub.x, sub.edge_index))
    r = fit_minibatch_node_classifier(
        net,
        graph,
        batches,
        epochs=epochs,
        patience=patience,
        generator=generator,
        run=run,
        name=f"{name}-{seed}",
    )
    return Arm(r.test_accuracy, used)


@dataclass(frozen=True)
class MiniBatches:
    """One seed's mini-batches: the loader, a batch ``first`` to measure memory on, the loader's generator and
    what else the seed's log line records."""

    loader: Iterable[SampledBatch | Graph]
    first: SampledBatch | Graph
    generator: torch.Generator
    logged: dict[str, float]


def scale_arms(
    cfg: ScaleRecipe,
    run: Run,
    label: str,
    layers: int,
    patience: int,
    batches: Callable[[Graph, int], MiniBatches],
) -> tuple[list[Arm], list[Arm]]:
    """For every seed s: the CSBM task drawn from s, the full-batch arm, then the mini-batch arm (``patience``)
    on ``batches(graph, s)``, and one log line; returns the full-batch and the mini-batch arms."""
    full: list[Arm] = []
    mini: list[Arm] = []
    with run.progress(cfg.seeds, "seeds") as bar:
        for i, s in enumerate(seed_range(cfg)):
            graph = csbm_node_task(
                cfg.num_nodes, train_fraction=cfg.train_fraction, generator=torch.Generator().manual_seed(s)
            )
            full.append(full_batch_arm(graph, cfg.hidden, layers, cfg.full_epochs, cfg.patience, s, run))
            b = batches(graph, s)
            mini.append(
                minibatch_arm(
                    graph,
                    b.loader,
                    b.first,
                    b.generator,
                    cfg.hidden,
                    layers,
                    cfg.epochs,
                    patience,
                    s,
                    run,
                    label,
                )
            )
            run.log(
                s,
                full_test_accuracy=full[-1].accuracy,
                **{f"{label}_test_accuracy": mini[-1].accuracy},
                memory_ratio=mini[-1].activation_bytes / full[-1].activation_bytes,
                **b.logged,
            )
            bar.update(i + 1)
    return full, mini


def near_full_batch_verdict(full: list[float], minibatch: list[float], tolerance: float) -> Verdict:
    """Mini-batch accuracy is within ``tolerance`` (a fraction) of full-batch: with d = full − mini-batch per
    seed, holds if mean(d) + 2 SE < tolerance, fails if mean(d) ≥ tolerance, else not established."""
    c = paired_difference(full, minibatch)
    if c.diff >= tolerance:
        return Verdict.FAILS
    return Verdict.HOLDS if c.n >= 2 and c.diff + 2 * c.se < tolerance else Verdict.NOT_ESTABLISHED


def memory_verdict(ratios: list[float], fraction: float) -> Verdict:
    """Every seed's mini-batch / full-batch activation-memory ratio is below ``fraction``."""
    return Verdict.of(max(ratios) < fraction)


def report(
    run: Run,
    label: str,
    name: str,
    full: list[Arm],
    mini: list[Arm],
    tolerance_points: float,
    memory_fraction: float,
    description: str,
) -> None:
    """The two claims, the summary and the figure of a mini-batch arm against full-batch training."""
    fa, ma = [a.accuracy for a in full], [a.accuracy for a in mini]
    ratios = [m.activation_bytes / f.activation_bytes for m, f in zip(mini, full, strict=True)]
    seeds = len(full)
    run.claim(
        f"{name}-accuracy-near-full-batch",
        f"Training on {description} reaches the full-batch test accuracy within {tolerance_points:g} points "
        f"({seeds} seeds, paired: full − {label} + 2 SE below the tolerance)",
        holds=near_full_batch_verdict(fa, ma, tolerance_points / 100),
        measured=paired_difference(fa, ma).to_json(),
        expected=f"full − {label} + 2 SE < {tolerance_points / 100:g}",
    )
    run.claim(
        f"{name}-saves-memory",
        f"A {label} step keeps under {memory_fraction:.0%} of a full-batch step's activation memory (bytes saved "
        f"for backward; every one of {seeds} seeds)",
        holds=memory_verdict(ratios, memory_fraction),
        measured={"ratios": ratios, "full_bytes": [a.activation_bytes for a in full]},
        expected=f"max ratio < {memory_fraction}",
    )
    run.summary(
        full_accuracy=mean_se(fa).mean,
        **{f"{name}_accuracy": mean_se(ma).mean, f"{name}_memory_ratio": mean_se(ratios).mean},
    )
    fig, axes = subplots(1, 2, width=4.4)
    ax = axes[0, 0]
    ax.bar(["full batch", label], [mean_se(fa).mean, mean_se(ma).mean], color=["#6b7280", "#3b5ba5"])
    ax.set(ylabel="test accuracy", ylim=(0, 1), title=f"Held-out accuracy ({seeds} seeds)")
    ax = axes[0, 1]
    ax.bar(["full batch", label], [1.0, mean_se(ratios).mean], color=["#6b7280", "#3b5ba5"])
    ax.set(ylabel="activation memory per step (relative)", title="Memory")
    run.figure(name, fig)
