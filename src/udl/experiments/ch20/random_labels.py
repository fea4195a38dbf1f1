"""Networks fit random labels and random inputs (UDL section 20.2.2, notebook 20.1; Zhang et al., 2017).

Protocol: the MNIST-1D training set (``num_samples`` × ``train_split`` examples) in three versions: the true labels,
the labels shuffled by one random permutation (the class counts are kept, every input–label link is broken), and
random inputs (Gaussian with the data's mean and standard deviation per feature) with the true labels. An MLP
(``hidden``, ReLU, He init) is trained on each by Adam (``lr``, batch ``batch_size``) for at most ``epochs``
epochs, ``seeds`` initializations per version, all with the sweep engine ``udl.train.train_sweep``; the training
error is measured after every epoch and *epochs to fit* is the first epoch at which it is zero.

Claims: every run on shuffled labels and on random inputs reaches zero training error within the budget (the
network can memorize); both take more epochs than the true labels (paired by seed: the same initialization and
batch order in the three versions; a run that never fits counts as ``epochs`` + 1, a lower bound). The test error
of the shuffled-label runs (about 90%, chance) is reported: what was fitted is memorized, not learned.

Known result at quick (3000 training examples, MLP 40-128-128-10, 3 seeds): true labels fit in 60.7 epochs,
shuffled labels in 107.7 (+47.0 ± 1.2, holds), but random Gaussian inputs in 62.7 (+2.0 ± 2.9 epochs: not
established). Random points in 40 dimensions are in general position and easy to separate; MNIST-1D's true
labels end with a few hard, nearly conflicting examples that take as long as the random inputs (Zhang et al.
report random pixels slower than true labels on CIFAR-10, a much larger set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch

from udl.checks import in_range
from udl.data import MNIST1DConfig
from udl.experiments._recipes import seed_range
from udl.experiments.ch20._common import mnist1d_tensors, show_progress
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, Verdict, paired_difference
from udl.train import StackedMLP, error_rates, train_sweep

CHAPTER = 20
SECTION = "20.2.2"
SUMMARY = "An MLP fits MNIST-1D with shuffled labels and with random inputs, more slowly than the true labels"
CONTEXT = (
    "Section 20.2.2: deep networks fit random labels and random inputs to zero training error (Zhang et al., "
    "2017), so their capacity alone cannot explain why they generalize; notebook 20.1 repeats it on MNIST-1D and "
    "shows that random data take longer to fit."
)

VERSIONS = ("true labels", "shuffled labels", "random inputs")


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (256, 256)
    """hidden-layer widths of the MLP"""
    epochs: int = 300
    """the budget: epochs at most per run"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 1e-3
    """Adam learning rate"""
    num_samples: int = 5000
    """MNIST-1D examples in all (train + test)"""
    train_split: float = 0.8
    """fraction used for training"""
    seeds: int = 3
    """initializations per version (seed, seed+1, ...), paired across versions"""
    seed: int = 0
    """first initialization seed; also the batch-order seed and the seed of the shuffle and random inputs"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), train_split=(0, 1))
        if self.epochs < 1 or self.batch_size < 1 or self.seeds < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("epochs, batch_size, seeds and the hidden widths must be >= 1")
        if not self.lr > 0 or not 0 < self.train_split < 1:
            raise ValueError(f"need lr > 0 and 0 < train_split < 1, got {self.lr}, {self.train_split}")
        MNIST1DConfig(num_samples=self.num_samples, train_split=self.train_split)


PRESETS = {
    "smoke": Config(hidden=(64, 64), epochs=4, num_samples=600, seeds=1),
    "quick": Config(hidden=(128, 128), epochs=200, num_samples=4000, train_split=0.75, seeds=3),
    "full": Config(seeds=5, epochs=1000),
}


def epochs_to_fit(train_errors: Sequence[float]) -> float:
    """The first epoch (1-based) at which the training error is zero; ``inf`` if it never is."""
    return next((float(i + 1) for i, e in enumerate(train_errors) if e == 0), math.inf)


def memorized_verdict(epochs: Sequence[float]) -> bool:
    """Every run reached zero training error within the budget (no infinite epochs-to-fit)."""
    if not epochs:
        raise ValueError("memorized_verdict needs at least one run")
    return all(math.isfinite(e) for e in epochs)


def slower_verdict(random: Sequence[float], true: Sequence[float], budget: int) -> tuple[Verdict, Comparison]:
    """Random data take more epochs to fit than the true labels, paired by seed; a run that never fits counts as
    ``budget`` + 1 (a lower bound on its epochs)."""
    censor = [min(e, budget + 1.0) for e in random], [min(e, budget + 1.0) for e in true]
    c = paired_difference(*censor)
    return c.verdict, c


def run(cfg: Config, run: Run) -> None:
    x, y, x_test, y_test = mnist1d_tensors(cfg.num_samples, cfg.train_split, run.device)
    g = torch.Generator().manual_seed(cfg.seed)
    shuffled = y[torch.randperm(len(y), generator=g).to(run.device)]
    noise = torch.randn(x.shape, generator=g).to(run.device) * x.std(0) + x.mean(0)
    inputs = {"true labels": (x, y), "shuffled labels": (x, shuffled), "random inputs": (noise, y)}
    run.check(
        "shuffle-keeps-class-counts",
        "The shuffled labels are a permutation of the true ones (the same count per class)",
        error=float((torch.bincount(shuffled, minlength=10) - torch.bincount(y, minlength=10)).abs().sum()),
        tolerance=0.0,
    )

    seeds = list(seed_range(cfg))
    curves: dict[str, list[list[float]]] = {}
    test_error: dict[str, list[float]] = {}
    with run.progress(len(VERSIONS) * cfg.epochs, "versions × epochs") as bar:
        for k, version in enumerate(VERSIONS):
            xv, yv = inputs[version]

            def evaluate(
                model: StackedMLP, xv: torch.Tensor = xv, yv: torch.Tensor = yv
            ) -> dict[str, torch.Tensor]:
                return {
                    "train_error": error_rates(model, xv, yv),
                    "test_error": error_rates(model, x_test, y_test),
                }

            result = train_sweep(
                [cfg.hidden] * cfg.seeds,
                (xv, yv),
                in_features=x.shape[1],
                out_features=10,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                optimizer="adam",
                seeds=seeds,
                order_seed=cfg.seed,
                evaluate=evaluate,
                evaluate_every=1,
                device=run.device,
                run=run,
                name=f"version{k}",
                checkpoint_every=max(1, cfg.epochs // 5),
                progress=partial(show_progress, bar, k * cfg.epochs, cfg.epochs),
            )
            curves[version] = [[h["train_error"] for h in hist] for hist in result.history]
            test_error[version] = result.final("test_error")

    fit = {v: [epochs_to_fit(c) for c in curves[v]] for v in VERSIONS}
    for v in VERSIONS:
        run.log(
            VERSIONS.index(v) + 1, mean_epochs_to_fit=sum(min(e, cfg.epochs + 1) for e in fit[v]) / cfg.seeds
        )
    run.summary(
        **{f"epochs_to_fit_{v.replace(' ', '_')}": fit[v] for v in VERSIONS},
        **{f"test_error_{v.replace(' ', '_')}": [round(e, 4) for e in test_error[v]] for v in VERSIONS},
    )
    random_runs = fit["shuffled labels"] + fit["random inputs"]
    run.claim(
        "fits-random-data",
        f"Every run ({cfg.seeds} seeds each) on shuffled labels and on random inputs reaches zero training error "
        f"within {cfg.epochs} epochs",
        holds=memorized_verdict(random_runs),
        measured={v: fit[v] for v in VERSIONS[1:]},
        expected="finite epochs to fit for every run",
    )
    for version, claim_id in (
        ("shuffled labels", "shuffled-labels-fit-slower"),
        ("random inputs", "random-inputs-fit-slower"),
    ):
        verdict, comparison = slower_verdict(fit[version], fit["true labels"], cfg.epochs)
        run.claim(
            claim_id,
            f"{version.capitalize()} take more epochs to fit than the true labels (paired over {cfg.seeds} seeds, "
            "mean difference > 2 SE)",
            holds=verdict,
            measured={"epochs": comparison.to_json(), "described": comparison.describe("epochs", digits=1)},
            expected="more epochs to reach zero training error",
        )

    fig, axes = subplots(1, 1, width=5.5)
    ax = axes[0, 0]
    for version, color in zip(VERSIONS, ("C0", "C1", "C2"), strict=True):
        for s, curve in enumerate(curves[version]):
            ax.plot(
                range(1, len(curve) + 1),
                [100 * e for e in curve],
                color=color,
                alpha=0.8,
                label=version if s == 0 else None,
            )
    ax.set(xlabel="epoch", ylabel="training error (%)", title="Fitting true, shuffled and random data")
    ax.legend(fontsize=8)
    run.figure("random-labels", fig)
