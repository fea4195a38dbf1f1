"""Double descent (UDL section 8.4, figure 8.10), trained by the sweep engine.

Protocol (the book's, in the ``full`` preset): MNIST-1D with 8000 examples split 4000/4000; 15% of the training
labels replaced by a uniformly random class (test labels clean); MLPs 40-h-h-10 with ReLU and He initialization
for h in 2..400 (28 widths); SGD with learning rate 0.01 and momentum 0.9, batch 100, 1000 epochs; cross-entropy.
All widths train together in ``udl.train.train_sweep``'s buckets, each exactly as if alone.

A 40-h-h-10 network has h² + 52h + 10 parameters, equal to the 4000 training examples at h ≈ 43.4: the
interpolation threshold. The book's claims: beyond it the training error reaches zero (the noisy labels are
memorized); the test error, after first falling with capacity, peaks near it (the claim takes the peak after the
lowest test error of the under-parameterized widths); and as capacity grows further the test error falls again,
well below the peak — a second descent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from udl.data import MNIST1DConfig, load_mnist1d
from udl.report import Run
from udl.report.figures import subplots
from udl.train import StackedMLP, error_rates, train_sweep

CHAPTER = 8
SECTION = "8.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Double descent on MNIST-1D with 15% label noise: test error peaks at the interpolation threshold (fig. 8.10)"
CONTEXT = (
    "Section 8.4 trains MLPs of increasing width on MNIST-1D with noisy labels: the test error first falls, "
    "then rises to a peak where the model can just fit the training data (parameters ≈ training examples), "
    "then falls again as the model grows further — double descent."
)

BOOK_WIDTHS = (
    2,
    4,
    6,
    8,
    10,
    14,
    18,
    22,
    26,
    30,
    35,
    40,
    45,
    50,
    55,
    60,
    70,
    80,
    90,
    100,
    120,
    140,
    160,
    180,
    200,
    250,
    300,
    400,
)


def parameters(h: int) -> int:
    """Parameters of the 40-h-h-10 MLP: 41h + (h+1)h + (h+1)10 = h² + 52h + 10."""
    return h * h + 52 * h + 10


@dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = (4, 8, 14, 22, 30, 35, 40, 45, 50, 60, 80, 120, 200, 300)
    """hidden widths h of the 40-h-h-10 MLPs (the book: 28 widths from 2 to 400)"""
    epochs: int = 300
    """training epochs (the book: 1000)"""
    lr: float = 0.01
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    batch_size: int = 100
    """mini-batch size"""
    label_noise: float = 0.15
    """fraction of training labels replaced by a uniformly random class"""
    num_samples: int = 8000
    """MNIST-1D examples in all"""
    train_split: float = 0.5
    """fraction used for training (the book: 4000 of 8000)"""
    interpolated_error: float = 0.01
    """'training error ≈ 0': at most this, for every width with at least twice the threshold's parameters"""
    seed: int = 0
    """seed for initializations (width i uses seed + i) and batch order"""

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 1 or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be strictly increasing integers >= 1, got {self.widths}")
        if (
            min(self.epochs, self.batch_size, self.num_samples) < 1
            or self.lr <= 0
            or not 0 <= self.momentum < 1
        ):
            raise ValueError("need epochs, batch_size, num_samples >= 1, lr > 0 and 0 <= momentum < 1")
        if not 0 <= self.label_noise <= 1 or not 0 < self.train_split < 1:
            raise ValueError("need 0 <= label_noise <= 1 and 0 < train_split < 1")


PRESETS = {
    "smoke": Config(widths=(4, 30, 100), epochs=2, num_samples=2000),
    "quick": Config(),
    "full": Config(widths=BOOK_WIDTHS, epochs=1000),
}


def run(cfg: Config, run: Run) -> None:
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split, label_noise=cfg.label_noise)
    )
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    n_train = len(x_train)
    threshold = (-52 + math.sqrt(52**2 - 4 * (10 - n_train))) / 2  # parameters(h) = n_train

    def evaluate(model: StackedMLP) -> dict[str, torch.Tensor]:
        return {
            "train_error": error_rates(model, x_train, y_train),
            "test_error": error_rates(model, x_test, y_test),
        }

    with run.progress(1000, "training all widths (‰ of steps)") as bar:
        result = train_sweep(
            [(h, h) for h in cfg.widths],
            (x_train, y_train),
            in_features=x_train.shape[1],
            out_features=10,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            momentum=cfg.momentum,
            seeds=[cfg.seed + i for i in range(len(cfg.widths))],
            order_seed=cfg.seed,
            evaluate=evaluate,
            evaluate_every=max(1, cfg.epochs // 20),
            device=dev,
            run=run,
            name="widths",
            checkpoint_every=max(1, cfg.epochs // 10),
            progress=lambda done, total: bar.update(1000 * done // total, steps=done),
        )
    train_error = result.final("train_error")
    test_error = result.final("test_error")
    params = [parameters(h) for h in cfg.widths]
    for h, p, tr, te in zip(cfg.widths, params, train_error, test_error, strict=True):
        run.log(h, parameters=p, train_error=tr, test_error=te)

    # -- claims -----------------------------------------------------------------------------------------------
    big = [i for i, p in enumerate(params) if p >= 2 * n_train]
    not_interpolated = [
        (cfg.widths[i], round(train_error[i], 4)) for i in big if train_error[i] > cfg.interpolated_error
    ]
    run.claim(
        "interpolates-beyond-threshold",
        f"Beyond the interpolation threshold (h ≈ {threshold:.0f}) the training error reaches ~0: every width "
        "with at least twice as many parameters as training examples fits the noisy labels",
        holds=bool(big) and not not_interpolated,
        measured={"widths_checked": [cfg.widths[i] for i in big], "not_interpolated": not_interpolated},
        expected=f"train error ≤ {cfg.interpolated_error:g}",
    )
    # The double-descent peak is the maximum *after* the first descent: the highest test error beyond the best
    # under-parameterized width (tiny widths underfit and have high test error too: that is the first descent).
    below = [i for i, p in enumerate(params) if p < n_train] or [0]
    bottom = min(below, key=lambda i: test_error[i])
    peak = max(range(bottom, len(cfg.widths)), key=lambda i: test_error[i])
    ratio = params[peak] / n_train
    run.claim(
        "test-error-peaks-near-threshold",
        "After the first descent, the test error peaks near the interpolation threshold, where parameters ≈ "
        "training examples",
        holds=0.5 <= ratio <= 2.0,
        measured={
            "first_descent_bottom_width": cfg.widths[bottom],
            "peak_width": cfg.widths[peak],
            "peak_parameters": params[peak],
            "parameters_over_examples": round(ratio, 3),
            "peak_test_error": test_error[peak],
        },
        expected="parameters / examples in [0.5, 2]",
    )
    drop = test_error[peak] - test_error[-1]
    run.claim(
        "second-descent",
        "At the largest width the test error is well below the peak (the second descent)",
        holds=peak < len(cfg.widths) - 1 and drop >= 0.05,
        measured={
            "largest_width": cfg.widths[-1],
            "test_error": test_error[-1],
            "peak_test_error": test_error[peak],
            "drop": drop,
        },
        expected="at least 5 points below the peak",
    )
    run.summary(
        peak_width=cfg.widths[peak],
        peak_test_error=test_error[peak],
        final_test_error=test_error[-1],
        threshold_width=threshold,
    )

    # -- figure (cf. fig. 8.10) ------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.4)
    ax = axes[0, 0]
    ax.plot(params, [100 * e for e in train_error], "o-", label="train (noisy labels)")
    ax.plot(params, [100 * e for e in test_error], "s-", label="test")
    ax.axvline(n_train, color="black", linestyle=":", label=f"parameters = {n_train} examples")
    ax.set(
        xscale="log",
        xlabel="parameters",
        ylabel="error (%)",
        title="Double descent, MNIST-1D, 15% label noise",
    )
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for i in sorted({0, peak, len(cfg.widths) - 1}):
        history = result.history[i]
        (line,) = ax.plot(
            [h["epoch"] for h in history],
            [100 * h["test_error"] for h in history],
            label=f"h = {cfg.widths[i]} test",
        )
        ax.plot(
            [h["epoch"] for h in history],
            [100 * h["train_error"] for h in history],
            "--",
            color=line.get_color(),
            alpha=0.6,
            label=f"h = {cfg.widths[i]} train",
        )
    ax.set(xlabel="epoch", ylabel="error (%)", title="During training")
    ax.legend(fontsize=7)
    run.figure("double-descent", fig)
