"""Learning rate and batch size as implicit regularizers (UDL section 9.2.2, figure 9.5) on MNIST-1D.

Protocol (after fig. 9.5): MNIST-1D with 4000 training and 4000 test examples, an MLP 40-100-100-10 (ReLU, He
init) trained by plain SGD (no momentum) with cross-entropy; ``seeds`` initializations per setting, all trained
together by the sweep engine ``udl.train.train_sweep`` (each member exactly as if alone; the members of one call
share the learning rate and batch size, so each setting is one call).

a) Learning rate. Batch ``lr_batch_size``; for every learning rate α in ``lrs`` the number of iterations is
   ``lr_budget`` / α, so every run has the same budget α × iterations — the same "distance" it may travel.
b) Batch size. Learning rate ``batch_lr`` and ``batch_iterations`` iterations for every batch size in
   ``batch_sizes``: the same steps of the same size, with gradients of different noise.

Iteration counts are whole epochs (the sizes are chosen so that they divide exactly; Config checks it). The
section's explanation: the modified loss of SGD (eq. 9.9) penalizes the gradient norm with weight α/4 and the
variance of the batch gradients with weight α/(4B) per batch, so larger steps and smaller (noisier) batches
regularize more. We claim the test error falls as α grows and rises as the batch grows: a negative (positive)
Spearman correlation of the mean test error with α (the batch size) *and* the end points' difference beyond two
standard errors, paired by seed (``udl.stats.paired_difference``: every setting trains the same ``seeds``
initializations with the same batch-order seed). No hyper-parameter is selected: the test set only reports.
Training errors are reported: a run that did not fit the
training set in its budget is not memorizing, and the comparison then mixes under-fitting in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from matplotlib.ticker import NullFormatter
from torch import Tensor

from udl.checks import in_range
from udl.data import MNIST1DConfig, load_mnist1d
from udl.experiments._recipes import seed_range
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, Verdict, all_of, paired_difference, spearman
from udl.train import StackedMLP, error_rates, train_sweep

CHAPTER = 9
SECTION = "9.2.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "At a fixed budget of lr × iterations, larger learning rates and smaller batches generalize better (fig. 9.5)"
CONTEXT = (
    "Section 9.2.2: the finite step of SGD and the noise of its mini-batches act as implicit regularizers (the "
    "modified loss of eq. 9.9 penalizes steep regions and regions where the batch gradients disagree). Figure 9.5 "
    "shows on MNIST-1D that, with iterations × learning rate held fixed, larger learning rates give lower test "
    "error, and that smaller batches give lower test error."
)


@dataclass(frozen=True)
class Config:
    lrs: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0)
    """(a) learning rates α; each runs lr_budget / α iterations"""
    lr_budget: float = 1000.0
    """(a) learning rate × iterations, the same for every α"""
    lr_batch_size: int = 100
    """(a) batch size"""
    batch_sizes: tuple[int, ...] = (25, 50, 100, 200, 400)
    """(b) batch sizes"""
    batch_lr: float = 0.2
    """(b) learning rate"""
    batch_iterations: int = 3200
    """(b) iterations for every batch size"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    num_samples: int = 8000
    """MNIST-1D examples in all (the book: 4000 train + 4000 test)"""
    train_split: float = 0.5
    """fraction used for training"""
    seeds: int = 3
    """initializations per setting (seed, seed+1, ...), trained together"""
    seed: int = 0
    """first initialization seed; also the batch-order seed"""

    def __post_init__(self) -> None:
        in_range(self, lrs=(0, 10), batch_lr=(0, 10))
        if (
            not self.lrs
            or any(not math.isfinite(a) or a <= 0 for a in self.lrs)
            or len(set(self.lrs)) != len(self.lrs)
        ):
            raise ValueError(f"lrs must be distinct positive learning rates, got {self.lrs}")
        if (
            not self.batch_sizes
            or min(self.batch_sizes) < 1
            or len(set(self.batch_sizes)) != len(self.batch_sizes)
        ):
            raise ValueError(f"batch_sizes must be distinct integers >= 1, got {self.batch_sizes}")
        if self.lr_budget <= 0 or self.batch_lr <= 0 or self.batch_iterations < 1 or self.lr_batch_size < 1:
            raise ValueError("need lr_budget > 0, batch_lr > 0, batch_iterations >= 1 and lr_batch_size >= 1")
        if self.seeds < 1 or any(h < 1 for h in self.hidden) or not 0 < self.train_split < 1:
            raise ValueError("need seeds >= 1, hidden widths >= 1 and 0 < train_split < 1")
        if self.num_samples < 20 or self.num_samples % 10:
            raise ValueError(f"num_samples must be a multiple of 10 and >= 20, got {self.num_samples}")
        n_train = round(self.num_samples * self.train_split)
        for lr in self.lrs:
            iterations = self.lr_budget / lr
            steps = math.ceil(n_train / self.lr_batch_size)
            if abs(iterations - round(iterations)) > 1e-6 or round(iterations) % steps:
                raise ValueError(
                    f"lr_budget / lr = {iterations:g} iterations must be a whole number of epochs of {steps} steps"
                )
        for b in self.batch_sizes:
            if self.batch_iterations % math.ceil(n_train / b):
                raise ValueError(
                    f"batch_iterations {self.batch_iterations} must be a whole number of epochs of "
                    f"{math.ceil(n_train / b)} steps (batch size {b})"
                )


PRESETS = {
    "smoke": Config(
        lrs=(0.2, 0.5),
        lr_budget=20.0,
        batch_sizes=(100, 200),
        batch_iterations=20,
        hidden=(32, 32),
        num_samples=2000,
        seeds=1,
    ),
    "quick": Config(),
    "full": Config(lrs=(0.05, 0.1, 0.2, 0.5, 1.0), seeds=10),
}


def trend_verdict(
    values: Sequence[float], test_error: Tensor, direction: int
) -> tuple[Verdict, float, Comparison]:
    """Does the test error move against ``values`` in ``direction`` (−1: falls as values grow, +1: rises)?

    ``test_error`` is (settings, seeds), one row per value in increasing order, columns paired by seed. Holds when
    the Spearman correlation of the seed means with the values has the sign of ``direction`` and the end the
    claim calls worse exceeds the other end by more than 2 SE, paired by seed. Returns the verdict, the
    correlation and the end-point comparison (worse end minus better end).
    """
    if direction not in (-1, 1) or len(values) < 2 or test_error.shape[0] != len(values):
        raise ValueError("need direction ±1 and one row of test errors per value (at least two values)")
    rho = spearman(list(values), test_error.double().mean(dim=1))
    worse, better = (test_error[0], test_error[-1]) if direction < 0 else (test_error[-1], test_error[0])
    ends = paired_difference(worse, better)
    return all_of(direction * rho > 0, ends.verdict), rho, ends


def run(cfg: Config, run: Run) -> None:
    data = load_mnist1d(MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split))
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    n = len(x_train)
    seeds = list(seed_range(cfg))

    def evaluate(model: StackedMLP) -> dict[str, Tensor]:
        return {
            "train_error": error_rates(model, x_train, y_train),
            "test_error": error_rates(model, x_test, y_test),
        }

    settings = [("lr", lr, cfg.lr_batch_size, round(cfg.lr_budget / lr)) for lr in sorted(cfg.lrs)]
    settings += [("batch", cfg.batch_lr, b, cfg.batch_iterations) for b in sorted(cfg.batch_sizes)]
    total = sum(iterations for *_, iterations in settings)
    finished = 0
    results: dict[tuple[str, float], tuple[Tensor, Tensor]] = {}
    with run.progress(total, "SGD runs (iterations)") as bar:

        def show(base: int, done: int, _total: int) -> None:  # steps of earlier settings + this one's
            bar.update(base + done, iterations=base + done)

        for i, (part, lr, batch, iterations) in enumerate(settings):
            epochs = iterations // math.ceil(n / batch)
            history = train_sweep(
                [cfg.hidden] * cfg.seeds,
                (x_train, y_train),
                in_features=x_train.shape[1],
                out_features=10,
                epochs=epochs,
                batch_size=batch,
                lr=lr,
                seeds=seeds,
                order_seed=cfg.seed,
                evaluate=evaluate,
                evaluate_every=epochs,
                device=dev,
                run=run,
                name=f"setting{i}",
                checkpoint_every=max(1, epochs // 5),
                progress=partial(show, finished),
            )
            finished += iterations
            train_error = torch.tensor(history.final("train_error"))
            test_error = torch.tensor(history.final("test_error"))
            results[(part, lr if part == "lr" else batch)] = (train_error, test_error)
            run.log(
                i + 1,
                lr=lr,
                batch_size=batch,
                iterations=iterations,
                epochs=epochs,
                train_error=float(train_error.mean()),
                test_error=float(test_error.mean()),
            )

    # -- claims -------------------------------------------------------------------------------------------------------
    def trend_claim(part: str, values: list[float], direction: int, claim_id: str, statement: str) -> None:
        tests = torch.stack([results[(part, v)][1] for v in values])  # (settings, seeds)
        trains = torch.stack([results[(part, v)][0] for v in values])
        verdict, rho, ends = trend_verdict(values, tests, direction)
        run.claim(
            claim_id,
            f"{statement} (Spearman of the seed means, and the ends paired over {cfg.seeds} seeds, "
            "mean difference > 2 SE)",
            holds=verdict,
            measured={
                "spearman": round(rho, 3),
                "ends": ends.to_json(),
                "ends_described": ends.describe(digits=4),
                f"test_error_per_{part}": {
                    f"{v:g}": round(float(t.mean()), 4) for v, t in zip(values, tests, strict=True)
                },
                f"train_error_per_{part}": {
                    f"{v:g}": round(float(t.mean()), 4) for v, t in zip(values, trains, strict=True)
                },
            },
            expected=f"Spearman {'< 0' if direction < 0 else '> 0'} and the ends differ by > 2 SE (paired)",
        )

    lrs = sorted(cfg.lrs)
    batches = [float(b) for b in sorted(cfg.batch_sizes)]
    trend_claim(
        "lr",
        lrs,
        -1,
        "larger-lr-generalizes-better",
        f"With learning rate × iterations fixed at {cfg.lr_budget:g}, larger learning rates give lower test error",
    )
    trend_claim(
        "batch",
        batches,
        +1,
        "smaller-batches-generalize-better",
        f"With the learning rate ({cfg.batch_lr:g}) and iterations ({cfg.batch_iterations}) fixed, smaller batches "
        "give lower test error",
    )

    # -- figure (cf. fig. 9.5) --------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.8)
    for ax, part, values, label in (
        (axes[0, 0], "lr", lrs, f"learning rate (iterations = {cfg.lr_budget:g} / lr)"),
        (
            axes[0, 1],
            "batch",
            batches,
            f"batch size (lr {cfg.batch_lr:g}, {cfg.batch_iterations} iterations)",
        ),
    ):
        tests = torch.stack([results[(part, v)][1] for v in values]).double()  # (settings, seeds)
        trains = torch.stack([results[(part, v)][0] for v in values]).double()
        spread = tests.std(dim=1) if cfg.seeds > 1 else torch.zeros(len(values), dtype=torch.float64)
        ax.errorbar(values, 100 * tests.mean(dim=1), yerr=100 * spread, fmt="o-", capsize=3, label="test")
        ax.plot(values, 100 * trains.mean(dim=1), "s--", label="train")
        ax.set(xscale="log", xlabel=label, ylabel="error (%)")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    axes[0, 0].set_title("a) Learning rate")
    axes[0, 1].set_title("b) Batch size")
    run.figure("sgd-generalization", fig)
