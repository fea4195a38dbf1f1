"""Multi-task learning on MNIST-1D: one trunk, a digit head and a shift head (UDL section 9.3.7).

Section 9.3.7: in multi-task learning one network is trained to solve several problems at once, sharing its early
layers; because the tasks are related, learning one can shape a representation that helps the others, which
regularizes the shared part.

Protocol. The second target is the translation the MNIST-1D generator applied to each signal, recovered by
:func:`udl.data.mnist1d_with_shifts` (which replays the generator's random stream and checks that it rebuilds
the signals bit for bit). The shift k in 0..max_translation-1 is binned into ``shift_bins`` equal classes. The
network is the book's MNIST-1D MLP (notebook 8.1: 40-100-100, ReLU, He initialization) as a shared trunk
(:func:`udl.nn.mlp_trunk`) with two linear heads (:class:`udl.nn.TrunkWithHeads`), trained with Adam on

    L = CE(digit) + λ · CE(shift bin)

for each λ in ``aux_weights``; λ = 0 is the single-task baseline (its trunk sees only the digit loss; the shift
head is then untouched). Every λ starts from the same trunk and digit head (the same seed) and sees the same
mini-batches, so per seed the comparison is paired. Test digit accuracy after the last epoch is the measure;
the λ of the claim (``aux_weight`` = 1, the plain sum of the losses) is fixed in advance, not chosen on the test
set (the other λ are reported only).

Claims (paired by seed, bar 2 SE, :mod:`udl.stats`): (1) the auxiliary task raises the digit accuracy;
(2) the trunk serves both tasks: the shift accuracy is above twice chance and the digit accuracy is no more than
2 points below single-task (a non-inferiority margin fixed in advance).

Findings. The shift task is learned well (about 78% test accuracy on 12 bins, chance 8%). The digit accuracy
gains a little from it at moderate weights and loses at large ones (the trunk then serves the shift first):
the full preset (10 seeds, 60 epochs) measures +1.9 ± 0.4 (SE) points at λ = 1, positive for every seed, so the
claim holds there; the quick preset (5 seeds, 40 epochs) measures +1.4 ± 0.7, inside the two-standard-error
bar: not established at quick (the effect is small, and 5 seeds do not resolve it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from udl.checks import at_least
from udl.data import MNIST1DConfig, mnist1d_with_shifts
from udl.experiments._recipes import AdamRecipe, claim_comparison, seed_range, spread_sd, train_adam
from udl.nn import MLP, TrunkWithHeads, mlp_trunk
from udl.report import Run
from udl.report.figures import integer_ticks, subplots
from udl.stats import Comparison, Verdict, all_of, mean_se, paired_difference

CHAPTER = 9
SECTION = "9.3.6.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Multi-task learning (9.3.7): one MLP trunk, digit + shift heads on MNIST-1D; digit accuracy vs aux weight"
CONTEXT = (
    "Section 9.3.7: multi-task learning trains one network on several related tasks at once, sharing the early "
    "layers; the book says this can improve performance because a representation that serves several tasks is "
    "better constrained. Here the auxiliary task is predicting the shift the MNIST-1D generator applied to each "
    "signal (recovered by replaying the generator)."
)


@dataclass(frozen=True)
class Config(AdamRecipe):
    num_samples: int = 5000
    """MNIST-1D examples generated (train + test, the book's 4000 / 1000 split)"""
    train_samples: int = 4000
    """training examples used (the first ones of the training split); at most 0.8 * num_samples"""
    hidden: tuple[int, ...] = (100, 100)
    """widths of the shared trunk (the book's MNIST-1D MLP: 100 100)"""
    shift_bins: int = 12
    """the auxiliary target: the generator's shift k in 0..47 binned into this many equal classes"""
    aux_weights: tuple[float, ...] = (0.0, 0.3, 1.0, 3.0)
    """λ values swept (weight of the shift loss); must contain 0 (the single-task baseline) and aux_weight"""
    aux_weight: float = 1.0
    """the λ compared with 0 in the claim (1 = the plain sum of the two task losses)"""
    epochs: int = 40
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    seeds: int = 5
    """training runs per λ (seeds seed, seed+1, ...), paired across λ"""

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, 20, "num_samples")
        if not 1 <= self.train_samples <= int(10 * (self.num_samples // 10) * 0.8):
            raise ValueError(
                f"train_samples must be in [1, {int(10 * (self.num_samples // 10) * 0.8)}] (the training split), "
                f"got {self.train_samples}"
            )
        if not 2 <= self.shift_bins <= 48:
            raise ValueError(f"shift_bins must be in [2, 48] (there are 48 shifts), got {self.shift_bins}")
        if any(w < 0 or not math.isfinite(w) for w in self.aux_weights) or 0.0 not in self.aux_weights:
            raise ValueError(f"aux_weights must be finite, >= 0 and contain 0.0, got {self.aux_weights}")
        if self.aux_weight not in self.aux_weights or self.aux_weight == 0:
            raise ValueError(f"aux_weight must be a positive entry of aux_weights, got {self.aux_weight}")
        at_least(self, 1, "seeds")
        if any(h < 1 for h in self.hidden) or not self.hidden:
            raise ValueError(f"hidden must be one or more positive widths, got {self.hidden}")
        MNIST1DConfig(num_samples=self.num_samples, seed=self.data_seed)  # data_seed must make a data set


PRESETS = {
    "smoke": Config(
        num_samples=1000, train_samples=400, hidden=(32, 32), aux_weights=(0.0, 1.0), epochs=2, seeds=1
    ),
    "quick": Config(),
    "full": Config(aux_weights=(0.0, 0.1, 0.3, 1.0, 3.0, 10.0), epochs=60, seeds=10),
}


def auxiliary_task_verdict(multi: list[float], single: list[float]) -> Comparison:
    """Does the multi-task digit accuracy exceed the single-task one? Paired by seed, bar 2 SE."""
    return paired_difference(multi, single)


def both_tasks_verdict(
    shift: list[float], chance: float, multi: list[float], single: list[float], *, margin: float = 2.0
) -> Verdict:
    """Shift accuracy above twice chance, and digit accuracy no more than ``margin`` points below single-task
    (both per seed, paired, bar 2 SE: shift − 2·chance > 0 and multi + margin − single > 0)."""
    above_chance = paired_difference(shift, [2 * chance] * len(shift)).verdict
    non_inferior = paired_difference([m + margin for m in multi], single).verdict
    return all_of(above_chance, non_inferior)


def run(cfg: Config, run: Run) -> None:
    # -- data: digits and the generator's shifts, binned -----------------------------------------------------
    mnist_cfg = MNIST1DConfig(num_samples=cfg.num_samples, seed=cfg.data_seed)
    data, shift_train, shift_test = mnist1d_with_shifts(mnist_cfg)
    dev = run.device
    bins_of = lambda k: k * cfg.shift_bins // mnist_cfg.max_translation  # noqa: E731 - equal-width bins
    n = cfg.train_samples
    x_train = data.x_train[:n].to(dev)
    y_train = torch.stack([data.y_train[:n], bins_of(shift_train[:n])], dim=1).to(dev)  # (N, 2): digit, shift
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    s_test = bins_of(shift_test).to(dev)

    def evaluate(model: nn.Module) -> dict[str, float]:
        out = model(x_test)
        return {
            "digit_test_accuracy": float((out["digit"].argmax(1) == y_test).float().mean()),
            "shift_test_accuracy": float((out["shift"].argmax(1) == s_test).float().mean()),
        }

    # -- one trunk, two heads; λ swept, paired over seeds ----------------------------------------------------
    results: dict[float, list[dict[str, float]]] = {w: [] for w in cfg.aux_weights}
    curves: dict[float, list[dict[str, float]]] = {}
    for seed in seed_range(cfg):
        for weight in cfg.aux_weights:
            generator = torch.Generator().manual_seed(seed)
            net = MLP(data.x_train.shape[1], cfg.hidden, 10, generator=generator)  # trunk + digit head
            shift_head = MLP(
                cfg.hidden[-1], (), cfg.shift_bins, generator=torch.Generator().manual_seed(10_000 + seed)
            )
            model = TrunkWithHeads(mlp_trunk(net), {"digit": net.layers[-1], "shift": shift_head}).to(dev)

            def loss_fn(out: dict[str, Tensor], y: Tensor, weight: float = weight) -> Tensor:
                return F.cross_entropy(out["digit"], y[:, 0]) + weight * F.cross_entropy(
                    out["shift"], y[:, 1]
                )

            result = train_adam(
                model,
                loss_fn,
                cfg,
                (x_train, y_train),
                run=run,
                name=f"aux{weight:g}_seed{seed}",
                generator=generator,
                evaluate=evaluate,
            )
            results[weight].append(result.final)
            if seed == cfg.seed:
                curves[weight] = result.history

    # -- claims ---------------------------------------------------------------------------------------------
    digit = {w: [100 * r["digit_test_accuracy"] for r in rs] for w, rs in results.items()}
    shift = {w: [100 * r["shift_test_accuracy"] for r in rs] for w, rs in results.items()}
    mean = {w: mean_se(a).mean for w, a in digit.items()}
    gain = auxiliary_task_verdict(digit[cfg.aux_weight], digit[0.0])
    claim_comparison(
        run,
        "auxiliary-task-helps",
        f"Adding the shift task (λ = {cfg.aux_weight:g}) to the shared trunk raises the digit test accuracy over "
        f"the single-task network (λ = 0) (paired, {cfg.seeds} seeds, mean gain > 2 SE)",
        gain,
        expected="mean gain > 2 SE",
        gain=gain.describe("points"),
        per_seed_gain=[round(a - b, 2) for a, b in zip(digit[cfg.aux_weight], digit[0.0], strict=True)],
        accuracy_by_aux_weight={f"{w:g}": round(m, 2) for w, m in mean.items()},
    )
    chance = 100.0 / cfg.shift_bins
    shift_acc = mean_se(shift[cfg.aux_weight]).mean
    run.claim(
        "one-trunk-solves-both-tasks",
        f"The shared trunk supports both tasks at once (λ = {cfg.aux_weight:g}): the shift head is above twice "
        f"chance and the digit head is no more than 2 points below the single-task accuracy (paired, "
        f"{cfg.seeds} seeds, each margin cleared by > 2 SE)",
        holds=both_tasks_verdict(shift[cfg.aux_weight], chance, digit[cfg.aux_weight], digit[0.0]),
        measured={
            "shift_test_accuracy": round(shift_acc, 2),
            "shift_chance": round(chance, 2),
            "digit_accuracy_change": gain.describe("points"),
        },
        expected=f"shift accuracy − {2 * chance:.1f}% > 2 SE; digit change + 2 points > 2 SE",
    )
    run.summary(
        single_task_digit_accuracy=mean[0.0],
        multi_task_digit_accuracy=mean[cfg.aux_weight],
        multi_task_gain=gain.diff,
        multi_task_gain_se=gain.se,
        shift_accuracy=shift_acc,
    )

    # -- figures: accuracy vs λ, and learning curves ---------------------------------------------------------
    fig, axes = subplots(1, 2)
    ax = axes[0, 0]
    weights = list(cfg.aux_weights)
    xs = np.arange(len(weights))
    for i, w in enumerate(weights):
        ax.scatter([i] * len(digit[w]), digit[w], color="#3b5ba5", alpha=0.4, s=12)
    ax.errorbar(
        xs,
        [mean[w] for w in weights],
        yerr=[spread_sd(digit[w]) for w in weights],
        color="#3b5ba5",
        marker="o",
        capsize=3,
        label="digit (test)",
    )
    ax.set(
        xticks=xs,
        xticklabels=[f"{w:g}" for w in weights],
        xlabel="shift-loss weight λ (0 = single task)",
        ylabel="digit test accuracy (%)",
        title=f"Digit accuracy vs auxiliary weight ({cfg.seeds} seeds)",
    )
    twin = ax.twinx()
    twin.plot(
        xs[1:],
        [sum(shift[w]) / len(shift[w]) for w in weights[1:]],
        "s--",
        color="#e07b39",
        label="shift bin (test)",
    )
    twin.axhline(chance, color="#e07b39", lw=0.8, ls=":")
    twin.set_ylabel("shift test accuracy (%)", color="#e07b39")
    ax.legend(loc="lower left", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)
    ax = axes[0, 1]
    for w in (0.0, cfg.aux_weight):
        epochs = range(1, len(curves[w]) + 1)
        label = "single task (λ = 0)" if w == 0 else f"multi-task (λ = {w:g})"
        ax.plot(epochs, [100 * h["digit_test_accuracy"] for h in curves[w]], label=f"{label}: digit")
    ax.plot(
        epochs,
        [100 * h["shift_test_accuracy"] for h in curves[cfg.aux_weight]],
        "--",
        label=f"multi-task (λ = {cfg.aux_weight:g}): shift",
    )
    ax.set(
        xlabel="epoch", ylabel="test accuracy (%)", title=f"Learning curves (seed {cfg.seed})", ylim=(0, 100)
    )
    integer_ticks(ax, "x")
    ax.legend(fontsize=8)
    run.figure("multi-task", fig)
