"""Early stopping (UDL section 9.3.1) on MNIST-1D with noisy labels.

Protocol. MNIST-1D with ``num_samples`` examples split in half; ``label_noise`` of the training labels replaced
by a random class (``MNIST1DConfig.label_noise``; test labels clean). The last ``num_val`` training examples are
held out as a validation set (noisy like the rest of the training data: it is all a practitioner would have).
An MLP 40-h-h-10 (h = ``width``; ReLU, He init) big enough to memorize the noisy labels is trained with SGD
(``lr``, momentum ``momentum``, batch ``batch_size``) for ``epochs`` epochs with ``udl.train.fit``, recording the
train, validation and test error every epoch. Near the interpolation threshold (parameters ≈ examples, cf. the
double-descent experiment) memorizing the noise costs the most test error, so h = 64 (6,794 parameters for 4,000
training examples) shows the effect clearly; much wider nets overfit more benignly.

Then the same run (same initialization and batch order, so its epochs are identical to the first run's) with
``udl.train.EarlyStopping(patience, monitor="val_error", restore_best=True)``: it stops once the validation error
has not improved for ``patience`` epochs and returns the weights of the best validation epoch. We claim (on the
seed-mean test curve) that the test error is lowest well before training ends — at most halfway — and ends at
least 2 points higher (a single run's test error has a binomial standard error of about 0.7 points at 5000 test
examples), and that early stopping recovers a test error near that minimum: closer to it than to the end of
training. There is no book protocol for this experiment; ``full`` adds seeds and epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots
from udl.train import EarlyStopping, classification_metrics, fit

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
    min_gap: float = 0.02
    """'lowest well before the end': the end's test error must exceed the minimum by at least this"""
    seeds: int = 2
    """training runs (seed, seed+1, ...); claims use the mean test curve"""
    checkpoint_every: int = 20
    """epochs between checkpoints"""
    seed: int = 0
    """first seed (initialization and batch order)"""

    def __post_init__(self) -> None:
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
        if not 0 <= self.min_gap < 1:
            raise ValueError(f"min_gap must be in [0, 1), got {self.min_gap}")


PRESETS = {
    "smoke": Config(
        width=16, epochs=4, num_samples=1000, num_val=100, patience=2, seeds=1, checkpoint_every=2
    ),
    "quick": Config(),
    "full": Config(epochs=300, seeds=5),
}


def run(cfg: Config, run: Run) -> None:
    # -- data: noisy training labels, a validation split from them, a clean test set ------------------------------
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=0.5, label_noise=cfg.label_noise)
    )
    dev = run.device
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    x_train, y_train = x[: -cfg.num_val], y[: -cfg.num_val]  # the training set is already in random order
    x_val, y_val = x[-cfg.num_val :], y[-cfg.num_val :]
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)

    def evaluate(model: nn.Module) -> dict[str, float]:
        return {
            "train_error": classification_metrics(model, x_train, y_train)["error"],
            "val_error": classification_metrics(model, x_val, y_val)["error"],
            "test_error": classification_metrics(model, x_test, y_test)["error"],
        }

    def train(
        seed: int, name: str, early_stopping: EarlyStopping | None
    ) -> tuple[nn.Module, list[dict[str, float]], int | None, int | None]:
        model = MLP(
            x.shape[1], (cfg.width, cfg.width), 10, init="he", generator=torch.Generator().manual_seed(seed)
        )
        model.to(dev)
        result = fit(
            model,
            nn.functional.cross_entropy,
            torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum),
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
        return model, result.history, result.stopped_epoch, result.best_epoch

    # -- per seed: the full run, then the same run with early stopping ---------------------------------------------
    curves, stopped = [], []
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        _, history, _, _ = train(seed, f"full_seed{seed}", None)
        es = EarlyStopping(cfg.patience, monitor="val_error", restore_best=True)
        model, es_history, stop_epoch, best_epoch = train(seed, f"early_seed{seed}", es)
        assert best_epoch is not None
        restored = evaluate(model.eval())
        curves.append(history)
        stopped.append(
            {
                "seed": seed,
                "stop_epoch": stop_epoch if stop_epoch is not None else len(es_history),
                "best_epoch": best_epoch,
                "test_error": restored["test_error"],
                # same seed, same batch order: the early-stopped run repeats the full run's first epochs exactly
                "same_as_full_run": es_history == history[: len(es_history)],
            }
        )

    # -- claims (on the seed-mean curves) ---------------------------------------------------------------------------
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
    best = min(range(cfg.epochs), key=test_curve.__getitem__)
    min_error, end_error = test_curve[best], test_curve[-1]
    run.claim(
        "test-error-lowest-early",
        "With noisy labels, the test error is lowest well before training ends (at most halfway) and then rises "
        f"as the network memorizes the noise (the end is at least {100 * cfg.min_gap:g} points worse)",
        holds=best + 1 <= cfg.epochs / 2 and end_error - min_error >= cfg.min_gap,
        measured={
            "epoch_of_minimum": best + 1,
            "epochs": cfg.epochs,
            "test_error_at_minimum": round(min_error, 4),
            "test_error_at_end": round(end_error, 4),
            "train_error_at_end": round(train_curve[-1], 4),
        },
        expected=f"minimum at epoch <= {cfg.epochs // 2}, end - minimum >= {cfg.min_gap:g}",
    )
    es_error = sum(s["test_error"] for s in stopped) / len(stopped)
    run.claim(
        "early-stopping-recovers-minimum",
        f"Early stopping on the validation error (patience {cfg.patience}, best weights restored) recovers a test "
        "error near the minimum: closer to the minimum than to the error at the end of training",
        holds=es_error - min_error < 0.5 * (end_error - min_error),
        measured={
            "test_error_early_stopping": round(es_error, 4),
            "test_error_at_minimum": round(min_error, 4),
            "test_error_at_end": round(end_error, 4),
            "per_seed": [
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in stopped
            ],
        },
        expected="ES error − minimum < ½ (end − minimum)",
    )
    run.summary(
        epoch_of_minimum=best + 1,
        test_error_at_minimum=min_error,
        test_error_at_end=end_error,
        test_error_early_stopping=es_error,
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
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(epochs, [100 * e for e in test_curve], label=f"test, mean of {cfg.seeds} runs")
    ax.plot([best + 1], [100 * min_error], "v", color="black", label=f"minimum (epoch {best + 1})")
    ax.axhline(100 * es_error, color="gray", ls="--", label=f"early stopping: {100 * es_error:.1f}%")
    lo = math.floor(100 * min(min_error, es_error)) - 2
    ax.set(xlabel="epoch", ylabel="test error (%)", title="Test error and early stopping", ylim=(lo, None))
    ax.legend(fontsize=8)
    run.figure("early-stopping", fig)
