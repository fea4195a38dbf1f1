"""Training recipes that experiments of several chapters share: their Config fields and their loops.

:class:`TrainingRecipe` holds what every experiment that trains in epochs of mini-batches declares (epochs, batch
size, learning rate, checkpoint interval, seed) with one set of checks; :class:`AdamRecipe` trains with
``udl.optim.Adam`` (optionally cosine-decayed) through :func:`train_adam`, and :class:`ShapesRecipe` adds the
synthetic-shapes images of the chapter 10-11 dense-prediction experiments. An experiment's ``Config`` inherits a
recipe and redeclares only the defaults its protocol changes (a redeclared field without a docstring keeps the
recipe's). The SGD + StepLR recipe of notebook 8.1 is ``udl.experiments._mnist1d.ClassifierRecipe``.
Beside them, the protocol's small pieces: :func:`seed_range` (a Config's seeds), :func:`spread_sd` (an error
bar's s.d.) and :func:`claim_comparison` (a claim one comparison decides).

Everything here is protocol, not library: the loop is ``udl.train.fit``, the optimizer ``udl.optim.Adam``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from udl.checks import at_least, in_range
from udl.optim import Adam
from udl.report import Run
from udl.stats import Comparison, mean_se
from udl.train import FitResult, RunLike, fit

__all__ = [
    "AdamRecipe",
    "ShapesRecipe",
    "TrainingRecipe",
    "claim_comparison",
    "fit_recipe",
    "seed_range",
    "spread_sd",
    "train_adam",
]  # fmt: skip


class Seeded(Protocol):
    """A Config of repeated runs: the first seed and how many."""

    @property
    def seed(self) -> int: ...

    @property
    def seeds(self) -> int: ...


def seed_range(cfg: Seeded) -> range:
    """The seeds of the Config's repeated runs: seed, seed+1, ..., seed+seeds−1."""
    return range(cfg.seed, cfg.seed + cfg.seeds)


def spread_sd(values: list[float]) -> float:
    """The sample standard deviation of per-seed values for an error bar; 0 for a single seed (mean_se: nan)."""
    sd = mean_se(values).sd
    return 0.0 if math.isnan(sd) else sd


@dataclass(frozen=True)
class TrainingRecipe:
    """Fields of an experiment trained in epochs of mini-batches with checkpoints, seeded from ``seed``."""

    LR_MAX: ClassVar[float] = 10.0
    """the largest learning rate the recipe accepts (a larger one is a typo, not an experiment)"""

    epochs: int = 50
    """passes over the training set"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 0.05
    """learning rate"""
    checkpoint_every: int = 10
    """epochs between checkpoints"""
    seed: int = 0
    """first seed for initialization and data order"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, self.LR_MAX))
        at_least(self, 1, "epochs", "batch_size", "checkpoint_every")
        at_least(self, 0, "seed")


@dataclass(frozen=True)
class AdamRecipe(TrainingRecipe):
    """A :class:`TrainingRecipe` whose optimizer is Adam (torch's defaults but the learning rate)."""

    LR_MAX: ClassVar[float] = 1.0

    lr: float = 1e-3
    """Adam learning rate"""


def fit_recipe(
    model: nn.Module,
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    cfg: TrainingRecipe,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    run: RunLike,
    name: str,
    generator: torch.Generator,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
) -> FitResult:
    """``udl.train.fit`` with the recipe's epochs, batch_size and checkpoints (under ``name`` every
    ``checkpoint_every`` epochs), the batch order drawn from ``generator``."""
    return fit(
        model,
        loss_fn,
        optimizer,
        data,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        scheduler=scheduler,
        generator=generator,
        evaluate=evaluate,
        run=run,
        name=name,
        checkpoint_every=cfg.checkpoint_every,
    )


def train_adam(
    model: nn.Module,
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
    cfg: AdamRecipe,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    cosine: bool = False,
    **fit_args: Any,
) -> FitResult:
    """Train ``model`` on ``data`` by :func:`fit_recipe` with Adam(lr) and, with ``cosine``, a cosine decay of the
    learning rate to 0 over the epochs (torch's CosineAnnealingLR, stepped per epoch); ``fit_args`` (``run``,
    ``name``, ``generator``, ``evaluate``) as for :func:`fit_recipe`."""
    optimizer = Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs) if cosine else None
    return fit_recipe(model, loss_fn, optimizer, scheduler, cfg, data, **fit_args)


@dataclass(frozen=True)
class ShapesRecipe(AdamRecipe):
    """Synthetic-shapes images (``udl.data.make_shapes``) and a convolutional network of ``widths`` channels
    per resolution level, trained by Adam with a cosine decay (detection, 10.5.2; segmentation, 11.5.3)."""

    num_train: int = 2000
    """training images"""
    num_test: int = 500
    """held-out images"""
    image_size: int = 32
    """image height and width in pixels (a multiple of 2^(len(widths) - 1), >= 16)"""
    max_shapes: int = 3
    """most objects per image (1..max_shapes, uniform)"""
    noise: float = 0.05
    """standard deviation of the pixel noise"""
    widths: tuple[int, ...] = (16, 32, 64)
    """channels at each resolution level, finest first; the coarsest has stride 2^(len(widths) - 1)"""
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-3
    """Adam learning rate (cosine-decayed to 0 over the epochs)"""
    checkpoint_every: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.num_train, self.num_test, self.max_shapes) < 1:
            raise ValueError("num_train, num_test and max_shapes must be >= 1")
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be positive channel counts, got {self.widths}")
        stride = 2 ** (len(self.widths) - 1)
        if self.image_size < 16 or self.image_size % stride:
            raise ValueError(
                f"image_size must be >= 16 and a multiple of the stride {stride}, got {self.image_size}"
            )
        at_least(self, 0, "noise")


def claim_comparison(
    run: Run, claim_id: str, statement: str, comparison: Comparison, *, expected: str, **measured: Any
) -> None:
    """``run.claim`` for a claim that one ``udl.stats`` comparison decides: its verdict is the claim's, and what
    was measured is its mean ± SE record followed by ``measured``."""
    run.claim(
        claim_id,
        statement,
        holds=comparison.verdict,
        measured={**comparison.to_json(), **measured},
        expected=expected,
    )
