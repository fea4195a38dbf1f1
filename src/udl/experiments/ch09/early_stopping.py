"""Early stopping (UDL section 9.3.1) on MNIST-1D with noisy labels.

Protocol. MNIST-1D with ``num_samples`` examples split in half; ``label_noise`` of the training labels replaced
by a random class (``MNIST1DConfig.label_noise``; test labels clean). A seeded random ``num_val`` of the training
examples (``udl.data.validation_split``, generator seeded with ``seed``) are held out as the validation set (noisy
like the rest of the training data: it is all a practitioner would have). An MLP 40-h-h-10 (h = ``width``; ReLU,
He init) big enough to memorize the noisy labels is trained with SGD (``lr``, momentum ``momentum``, batch
``batch_size``; ``udl.optim.SGD``) for ``epochs`` epochs with ``udl.train.fit``, recording the train,
validation (error and loss) and test (error and loss) metrics every epoch. Near the interpolation threshold
(parameters ≈ examples, cf. the double-descent experiment) memorizing the noise costs the most test error, so
h = 64 (6,794 parameters for 4,000 training examples) shows the effect clearly.

Then the same run (same initialization and batch order, so its epochs are identical to the first run's: a check)
with ``udl.train.EarlyStopping(patience, monitor="val_error", restore_best=True)``: it stops once the validation
error has not improved for ``patience`` epochs and returns the weights of the best validation epoch (a check: the
restored model's validation error is that epoch's). Everything is selected on the validation split; the test set
only reports. Claims, paired by seed over ``seeds`` runs: the validation-selected epoch comes early (at most
halfway through training, on every seed), and the early-stopped model's test error is below the fully trained
model's by more than 2 SE (``udl.stats.paired_difference``). The test curve's own minimum is reported, never used
to select. There is no book protocol for this experiment; ``full`` adds seeds and epochs.

Protocol change (review): the validation split was the last ``num_val`` training examples and the claims read the
minimum of the test curve; now the split is seeded and random, and the claims use only the validation-selected
epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from udl.checks import in_range
from udl.data import MNIST1DConfig, load_mnist1d, validation_split
from udl.experiments._mnist1d import classifier_evaluator
from udl.experiments._recipes import claim_comparison, seed_range
from udl.nn import MLP
from udl.optim import SGD
from udl.report import Run
from udl.report.figures import integer_ticks, subplots
from udl.stats import Comparison, paired_difference
from udl.train import EarlyStopping, FitResult, fit

CHAPTER = 9
SECTION = "9.3.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Early stopping on MNIST-1D with 20% label noise: test error is lowest long before training ends"
CONTEXT = (
    "Section 9.3.1: early stopping ends training before it converges. The weights start small and the model "
    "fits the broad structure of the data first; later it fits the noise. Stopping where a held-out validation "
    "error is lowest avoids that overfitting at no extra cost, acting like a regularizer whose strength is the "
    "number of steps."
)


@dataclass(frozen=True)
class Config:
    width: int = 64
    """hidden units h of the 40-h-h-10 MLP"""
    epochs: int = 200
    """training epochs of the full run"""
    lr: float = 0.01
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    batch_size: int = 100
    """mini-batch size"""
    label_noise: float = 0.2
    """fraction of training labels replaced by a uniformly random class"""
    num_samples: int = 10000
    """MNIST-1D examples in all: half training (incl. validation), half test"""
    num_val: int = 1000
    """training examples held out as the validation set that early stopping watches"""
    patience: int = 20
    """early stopping: epochs without a lower validation error before stopping"""
    seeds: int = 2
    """training runs (seed, seed+1, ...), paired by seed in the claims"""
    checkpoint_every: int = 20
    """epochs between checkpoints"""
    seed: int = 0
    """first seed (initialization and batch order); also seeds the validation split"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 10))
        if (
            min(self.width, self.epochs, self.batch_size, self.patience, self.seeds, self.checkpoint_every)
            < 1
        ):
            raise ValueError("width, epochs, batch_size, patience, seeds and checkpoint_every must be >= 1")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or not 0 <= self.label_noise <= 1:
            raise ValueError("need lr > 0, 0 <= momentum < 1 and 0 <= label_noise <= 1")
        if self.num_samples < 20 or self.num_samples % 10:
            raise ValueError(f"num_samples must be a multiple of 10 and >= 20, got {self.num_samples}")
        if not 1 <= self.num_val < self.num_samples // 2:
            raise ValueError(f"num_val must be in [1, {self.num_samples // 2}), got {self.num_val}")


PRESETS = {
    "smoke": Config(
        width=16, epochs=4, num_samples=1000, num_val=100, patience=2, seeds=1, checkpoint_every=2
    ),
    "quick": Config(),
    "full": Config(epochs=300, seeds=5),
}


def selected_early(best_epochs: list[int], epochs: int) -> bool:
    """The validation-selected epoch is at most halfway through training on every seed."""
    if not best_epochs:
        raise ValueError("need one selected epoch per seed")
    return all(1 <= e <= epochs / 2 for e in best_epochs)


def stopping_helps(end_test_error: list[float], stopped_test_error: list[float]) -> Comparison:
    """The fully trained model's test error exceeds the early-stopped model's, paired by seed (2 SE)."""
    return paired_difference(end_test_error, stopped_test_error)


def run(cfg: Config, run: Run) -> None:
    # -- data: noisy training labels, a seeded validation split from them, a clean test set ------------------------
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=0.5, label_noise=cfg.label_noise)
    )
    dev = run.device
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    fit_idx, val_idx = validation_split(
        len(x), cfg.num_val, generator=torch.Generator().manual_seed(cfg.seed)
    )
    x_train, y_train = x[fit_idx.to(dev)], y[fit_idx.to(dev)]
    x_val, y_val = x[val_idx.to(dev)], y[val_idx.to(dev)]
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    # train_error, test_loss, test_error, val_loss, val_error every epoch; early stopping watches val_error only
    evaluate = classifier_evaluator((x_train, y_train), (x_test, y_test), val=(x_val, y_val))

    def train(seed: int, name: str, early_stopping: EarlyStopping | None) -> tuple[nn.Module, FitResult]:
        model = MLP(
            x.shape[1], (cfg.width, cfg.width), 10, init="he", generator=torch.Generator().manual_seed(seed)
        )
        model.to(dev)
        result = fit(
            model,
            nn.functional.cross_entropy,
            SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum),
            (x_train, y_train),
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            generator=torch.Generator().manual_seed(seed),
            evaluate=evaluate,
            run=run,
            name=name,
            checkpoint_every=cfg.checkpoint_every,
            early_stopping=early_stopping,
        )
        return model, result

    # -- per seed: the full run, then the same run with early stopping on the validation error ---------------------
    curves, stopped = [], []
    for seed in seed_range(cfg):
        _, full = train(seed, f"full_seed{seed}", None)
        es = EarlyStopping(cfg.patience, monitor="val_error", mode="min", restore_best=True)
        model, result = train(seed, f"early_seed{seed}", es)
        assert result.best_epoch is not None
        restored = evaluate(model.eval())
        curves.append(full.history)
        stopped.append(
            {
                "seed": seed,
                "stop_epoch": result.stopped_epoch or len(result.history),
                "best_epoch": result.best_epoch,
                "val_error": restored["val_error"],
                "best_val_error": min(h["val_error"] for h in result.history),
                "test_error": restored["test_error"],
                # same seed, same batch order: the early-stopped run repeats the full run's first epochs exactly
                "differing_epochs": sum(
                    a != b for a, b in zip(result.history, full.history[: len(result.history)], strict=True)
                ),
            }
        )

    # -- checks: determinism of the paired runs, and restore_best ----------------------------------------------------
    run.check(
        "early-stopped-run-repeats-full-run",
        "With the same seed and batch order, the early-stopped run's epochs are the full run's first epochs, "
        "metric for metric (so the two arms are paired exactly)",
        error=sum(s["differing_epochs"] for s in stopped),
        tolerance=0,
        expected="0 differing epochs",
    )
    run.check(
        "restored-weights-are-the-best-validation-epoch",
        "EarlyStopping(restore_best=True) returns the weights of the best validation epoch: the restored model's "
        "validation error is the lowest in its history",
        error=max(abs(s["val_error"] - s["best_val_error"]) for s in stopped),
        tolerance=0,
    )

    # -- claims (selection on the validation split only) --------------------------------------------------------------
    def mean_curve(key: str) -> list[float]:
        return [sum(h[e][key] for h in curves) / len(curves) for e in range(cfg.epochs)]

    test_curve, train_curve, val_curve = (
        mean_curve("test_error"),
        mean_curve("train_error"),
        mean_curve("val_error"),
    )
    for e in range(cfg.epochs):
        run.log(
            e + 1, mean_train_error=train_curve[e], mean_val_error=val_curve[e], mean_test_error=test_curve[e]
        )
    best_epochs = [int(s["best_epoch"]) for s in stopped]
    run.claim(
        "validation-minimum-early",
        "With noisy labels, the validation error is lowest well before training ends: the selected epoch is at "
        f"most halfway through the {cfg.epochs} epochs, on each of {cfg.seeds} seeds",
        holds=selected_early(best_epochs, cfg.epochs),
        measured={"best_validation_epoch_per_seed": best_epochs, "epochs": cfg.epochs},
        expected=f"every selected epoch <= {cfg.epochs // 2}",
    )
    end_error = [h[-1]["test_error"] for h in curves]
    es_error = [s["test_error"] for s in stopped]
    helps = stopping_helps(end_error, es_error)
    best = min(range(cfg.epochs), key=test_curve.__getitem__)  # reported only, never used to select
    claim_comparison(
        run,
        "early-stopping-lowers-test-error",
        f"Early stopping on the validation error (patience {cfg.patience}, best weights restored) gives a lower "
        f"test error than training to the end (paired by seed over {cfg.seeds} runs, mean difference > 2 SE)",
        helps,
        expected="end test error − early-stopped test error > 2 SE (paired by seed)",
        described=helps.describe(digits=4),
        test_error_curve_minimum_not_used=round(test_curve[best], 4),
        epoch_of_test_curve_minimum=best + 1,
        train_error_at_end=round(train_curve[-1], 4),
        per_seed=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in stopped],
    )
    es_mean, min_error = sum(es_error) / len(es_error), test_curve[best]
    run.summary(
        test_error_at_end=test_curve[-1],
        test_error_early_stopping=es_mean,
        mean_best_validation_epoch=sum(best_epochs) / len(best_epochs),
        mean_stop_epoch=sum(s["stop_epoch"] for s in stopped) / len(stopped),
    )

    # -- figure: error curves with the stopping epoch marked ----------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.0)
    epochs = range(1, cfg.epochs + 1)
    ax = axes[0, 0]
    first, s0 = curves[0], stopped[0]
    ax.plot(epochs, [100 * h["train_error"] for h in first], label="train (noisy labels)")
    ax.plot(epochs, [100 * h["val_error"] for h in first], label="validation (noisy labels)")
    ax.plot(epochs, [100 * h["test_error"] for h in first], label="test")
    ax.axvline(s0["best_epoch"], color="gray", ls=":", label=f"best validation epoch {s0['best_epoch']}")
    ax.axvline(s0["stop_epoch"], color="black", ls="--", label=f"stopped at epoch {s0['stop_epoch']}")
    ax.set(
        xlabel="epoch", ylabel="error (%)", title=f"Seed {s0['seed']}, patience {cfg.patience}", ylim=(0, 100)
    )
    integer_ticks(ax, "x")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(epochs, [100 * e for e in test_curve], label=f"test, mean of {cfg.seeds} runs")
    ax.plot([best + 1], [100 * min_error], "v", color="black", label=f"minimum (epoch {best + 1})")
    ax.axhline(100 * es_mean, color="gray", ls="--", label=f"early stopping: {100 * es_mean:.1f}%")
    lo = math.floor(100 * min(min_error, es_mean)) - 2
    ax.set(xlabel="epoch", ylabel="test error (%)", title="Test error and early stopping", ylim=(lo, None))
    integer_ticks(ax, "x")
    ax.legend(fontsize=8)
    run.figure("early-stopping", fig)
