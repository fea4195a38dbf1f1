"""The MNIST-1D classifier recipe that the chapter 8-11 experiments share (notebook 8.1's protocol).

Notebook 8.1 trains on the default MNIST-1D split (4000 train / 1000 test, generation seed 42) with SGD (learning
rate 0.05, momentum 0.9), StepLR (every 10 epochs, gamma 0.5), batch 100, 50 epochs and the cross-entropy loss;
chapters 9-11 reuse it with other models or data. An experiment's ``Config`` inherits :class:`MNIST1DRecipe`
(overriding defaults where its notebook differs) and trains each model with :func:`train_classifier`, which wraps
``udl.train.fit`` (progress bar, checkpoints, resume, non-finite guard) around ``udl.optim.SGD`` +
``udl.optim.StepDecay`` (equal to torch's, bit for bit). The training half alone, :class:`ClassifierRecipe`, serves
classifiers of other data (the 8x8 digits of chapter 10).

Everything here is protocol, not library: the data, models and loop it uses are public udl parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.axes import Axes
from torch import nn

from udl.checks import in_range
from udl.data import MNIST1D, MNIST1DConfig, load_mnist1d
from udl.experiments._recipes import TrainingRecipe, fit_recipe, seed_range
from udl.optim import SGD, StepDecay
from udl.train import (
    FitResult,
    RunLike,
    StackedMLP,
    SweepResult,
    classification_metrics,
    error_rates,
    train_sweep,
)

__all__ = [
    "ClassifierRecipe",
    "MNIST1DRecipe",
    "Split",
    "classifier_evaluator",
    "load_split",
    "plot_learning_curves",
    "seed_range",
    "sweep_classifiers",
    "train_classifier",
]


@dataclass(frozen=True)
class ClassifierRecipe(TrainingRecipe):
    """The training half of the recipe, for any classifier and data set: SGD(lr, momentum) + StepLR(step_size,
    gamma) on the cross-entropy, ``seeds`` runs; the defaults are notebook 8.1's (50 epochs of batches of 100,
    learning rate 0.05, momentum 0.9, the rate halved every 10 epochs)."""

    lr: float = 0.05
    """SGD learning rate (notebook 8.1: 0.05)"""
    momentum: float = 0.9
    """SGD momentum (notebook 8.1: 0.9)"""
    step_size: int = 10
    """StepLR: epochs between learning-rate decays (notebook 8.1: 10)"""
    gamma: float = 0.5
    """StepLR: multiplicative decay (notebook 8.1: 0.5)"""
    seeds: int = 3
    """training runs per arm (seeds seed, seed+1, ...), paired by seed across arms"""

    def __post_init__(self) -> None:
        super().__post_init__()
        in_range(self, gamma=(0, 1))
        if min(self.step_size, self.seeds) < 1:
            raise ValueError(f"step_size and seeds must be >= 1, got {self.step_size} and {self.seeds}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")


@dataclass(frozen=True)
class MNIST1DRecipe(ClassifierRecipe):
    """The recipe on notebook 8.1's data; an experiment's Config inherits it (and may override defaults)."""

    num_samples: int = 5000
    """MNIST-1D examples in all, train + test (at least 10; the published set: 5000)"""
    train_split: float = 0.8
    """fraction of the examples used for training, in (0, 1); both parts must be non-empty"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.mnist1d_config()  # num_samples, train_split and data_seed must make a data set: checked up front

    def mnist1d_config(self) -> MNIST1DConfig:
        return MNIST1DConfig(num_samples=self.num_samples, train_split=self.train_split, seed=self.data_seed)


@dataclass(frozen=True)
class Split:
    """The recipe's data on the run's device: train and test tensors, and the generated data set itself."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    data: MNIST1D

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_train, self.y_train

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_test, self.y_test

    def evaluator(self) -> Callable[[nn.Module], dict[str, float]]:
        """:func:`classifier_evaluator` on the split's training and test sets."""
        return classifier_evaluator(self.train, self.test)


def load_split(cfg: MNIST1DRecipe, device: torch.device | str = "cpu", **overrides: Any) -> Split:
    """MNIST-1D as the recipe generates it (``overrides``: other MNIST1DConfig fields, e.g. label noise)."""
    data = load_mnist1d(cfg.mnist1d_config(), **overrides)
    return Split(
        data.x_train.to(device), data.y_train.to(device), data.x_test.to(device), data.y_test.to(device), data
    )


def classifier_evaluator(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    **extra: tuple[torch.Tensor, torch.Tensor],
) -> Callable[[nn.Module], dict[str, float]]:
    """Per-epoch metrics: ``train_error``, ``test_loss``, ``test_error`` and ``<name>_loss``/``<name>_error`` for
    every extra split (e.g. ``val=(x_val, y_val)``)."""

    def evaluate(model: nn.Module) -> dict[str, float]:
        out = {"train_error": classification_metrics(model, *train)["error"]}
        for split, (x, y) in {"test": test, **extra}.items():
            m = classification_metrics(model, x, y)
            out[f"{split}_loss"], out[f"{split}_error"] = m["loss"], m["error"]
        return out

    return evaluate


def train_classifier(
    model: nn.Module,
    cfg: ClassifierRecipe,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    weight_decay: float = 0.0,
    **fit_args: Any,
) -> FitResult:
    """Train ``model`` on ``data`` with the recipe: SGD(lr, momentum, weight_decay) + StepLR(step_size, gamma) by
    :func:`~udl.experiments._recipes.fit_recipe` (batch_size, epochs, checkpoints every ``checkpoint_every``
    epochs); ``fit_args``: ``run``, ``name``, ``generator`` and optionally ``evaluate``, as for fit_recipe."""
    optimizer = SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=weight_decay)
    scheduler = StepDecay(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    return fit_recipe(model, loss_fn, optimizer, scheduler, cfg, data, **fit_args)


def sweep_classifiers(
    hidden: Sequence[Sequence[int]],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    seeds: Sequence[int],
    order_seed: int,
    run: RunLike,
    name: str,
    description: str,
    shared_order: bool = True,
    evaluations: int = 10,
    checkpoints: int = 5,
) -> SweepResult:
    """Many MNIST-1D classifier MLPs (one per entry of ``hidden``) trained by ``udl.train.train_sweep`` with
    SGD(lr, momentum), on ``train`` (shared (N, 40) or per member (M, N, 40)), with ``train_error`` and
    ``test_error`` about ``evaluations`` times and a checkpoint about ``checkpoints`` times per run, and a
    progress bar in ‰ of the optimizer steps."""
    x_train, y_train = train

    def evaluate(model: StackedMLP) -> dict[str, torch.Tensor]:
        return {"train_error": error_rates(model, x_train, y_train), "test_error": error_rates(model, *test)}

    with run.progress(1000, f"{description} (‰ of steps)") as bar:
        return train_sweep(
            hidden,
            train,
            in_features=x_train.shape[-1],
            out_features=10,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            momentum=momentum,
            seeds=seeds,
            shared_order=shared_order,
            order_seed=order_seed,
            evaluate=evaluate,
            evaluate_every=max(1, epochs // evaluations),
            device=x_train.device,
            run=run,
            name=name,
            checkpoint_every=max(1, epochs // checkpoints),
            progress=lambda done, total: bar.update(1000 * done // total, steps=done),
        )


def plot_learning_curves(
    loss_ax: Axes | None,
    error_ax: Axes,
    history: list[dict[str, float]],
    label: str,
    *,
    color: str | None = None,
) -> None:
    """Training (solid) and test (dashed) curves of one run: loss on ``loss_ax``, error in % on ``error_ax``."""
    epochs = range(1, len(history) + 1)
    if loss_ax is not None:
        loss_ax.plot(epochs, [h["loss"] for h in history], color=color, label=f"{label} train")
        loss_ax.plot(epochs, [h["test_loss"] for h in history], "--", color=color, label=f"{label} test")
    error_ax.plot(epochs, [100 * h["train_error"] for h in history], color=color, label=f"{label} train")
    error_ax.plot(epochs, [100 * h["test_error"] for h in history], "--", color=color, label=f"{label} test")
    error_ax.set(xlabel="epoch", ylabel="error (%)", ylim=(0, 100))
