"""Grokking: generalization long after memorization, with weight decay (UDL section 20.2.3; Power et al., 2022;
Nanda et al., 2023).

Protocol (Nanda et al.'s setting scaled down to the CPU, with an MLP instead of the transformer): all p² pairs
(a, b) of residues mod ``p`` with label (a + b) mod p; the input is [one_hot(a), one_hot(b)] (2p values); a random
``train_fraction`` of the pairs is the training set and the rest the validation set. MLPs 2p-``hidden``-p (ReLU,
He init) are trained full-batch by AdamW (``lr``, betas (0.9, 0.98)) for ``epochs`` steps, ``seeds``
initializations, once with weight decay ``weight_decay`` and once without (the sweep engine
``udl.train.train_sweep``); accuracies are measured every ``evaluate_every`` steps.

Measures: the first evaluated step at which the training accuracy reaches ``threshold`` (memorized) and the one at
which the validation accuracy does (generalized). Claims: with weight decay every seed generalizes within the
budget, at least ``delay`` times later than it memorized; without weight decay no seed generalizes within the
budget.

Known result at quick: within the quick budget (4000 full-batch steps, p = 23, 3 seeds) every run memorizes the
training half by step 50, but with weight decay the validation accuracy only climbs to 0.24-0.34 (without it, it
stays at 0.00): "grokking-with-weight-decay" fails at quick — no seed generalizes within the budget — while the
direction (weight decay lifts validation accuracy, no decay leaves it at zero) shows. A 512-unit MLP at lr 0.003
reached only 0.28-0.36 in 6000 steps. The full preset (p = 47, 40% training pairs, 50,000 steps) is the protocol;
it has not been run for this note (it is far beyond the CPU budget of one session), so the claim is open there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from udl.checks import in_range
from udl.experiments._recipes import seed_range
from udl.experiments.ch20._common import show_progress
from udl.optim import AdamW
from udl.report import Run
from udl.report.figures import subplots
from udl.train import StackedMLP, error_rates, train_sweep

CHAPTER = 20
SECTION = "20.2.3"
SUMMARY = (
    "On modular addition, validation accuracy jumps long after training accuracy, with weight decay only"
)
CONTEXT = (
    "Section 20.2.3: on small algorithmic data sets networks can first memorize the training set and only much "
    "later generalize — grokking (Power et al., 2022); weight decay drives it (Nanda et al., 2023 trace it to the "
    "slow growth of a Fourier-feature circuit and the decay of the memorizing weights)."
)


@dataclass(frozen=True)
class Config:
    p: int = 23
    """the modulus (number of residues)"""
    train_fraction: float = 0.5
    """fraction of the p² pairs used for training (the rest validate)"""
    hidden: tuple[int, ...] = (128,)
    """hidden-layer widths"""
    epochs: int = 4000
    """full-batch AdamW steps"""
    lr: float = 0.01
    """AdamW learning rate"""
    weight_decay: float = 1.0
    """AdamW weight decay of the decay arm (the other arm: 0)"""
    threshold: float = 0.95
    """accuracy that counts as memorized (training) / generalized (validation)"""
    delay: float = 2.0
    """'long after': the generalization step is at least delay × the memorization step"""
    evaluate_every: int = 50
    """steps between evaluations"""
    seeds: int = 3
    """initializations per arm (seed, seed+1, ...), shared by the arms"""
    seed: int = 0
    """first seed; also the seed of the training/validation split"""

    def __post_init__(self) -> None:
        in_range(
            self, train_fraction=(0, 1), lr=(0, 1), weight_decay=(0, 100), threshold=(0, 1), delay=(1, 1e6)
        )
        if self.p < 3 or self.epochs < 1 or self.evaluate_every < 1 or self.seeds < 1:
            raise ValueError("need p >= 3, epochs >= 1, evaluate_every >= 1 and seeds >= 1")
        if not 0 < self.train_fraction < 1 or not 1 <= round(self.train_fraction * self.p**2) < self.p**2:
            raise ValueError(f"train_fraction must leave both sets non-empty, got {self.train_fraction}")
        if not self.lr > 0 or not self.weight_decay > 0 or any(h < 1 for h in self.hidden):
            raise ValueError("need lr > 0, weight_decay > 0 (the decay arm) and hidden widths >= 1")


PRESETS = {
    "smoke": Config(p=7, hidden=(16,), epochs=20, evaluate_every=5, seeds=1),
    "quick": Config(),
    "full": Config(
        p=47, train_fraction=0.4, hidden=(512,), epochs=50_000, lr=0.003, evaluate_every=250, seeds=5
    ),
}


def modular_addition(p: int) -> tuple[Tensor, Tensor]:
    """All p² pairs as inputs [one_hot(a), one_hot(b)] (p², 2p) float32 and labels (a + b) mod p (p²,)."""
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    x = torch.cat([torch.nn.functional.one_hot(a, p), torch.nn.functional.one_hot(b, p)], dim=1).float()
    return x, (a + b) % p


def first_step(steps: Sequence[int], accuracy: Sequence[float], threshold: float) -> float:
    """The first evaluated step whose accuracy reaches ``threshold``; ``inf`` if none does."""
    return next((float(s) for s, a in zip(steps, accuracy, strict=True) if a >= threshold), math.inf)


def grokking_verdict(memorized: Sequence[float], generalized: Sequence[float], delay: float) -> bool:
    """Every seed generalized within the budget, at least ``delay`` times later than it memorized."""
    if not memorized or len(memorized) != len(generalized):
        raise ValueError("need one memorization and one generalization step per seed")
    return all(
        math.isfinite(g) and math.isfinite(m) and g >= delay * m
        for m, g in zip(memorized, generalized, strict=True)
    )


def no_generalization_verdict(generalized: Sequence[float]) -> bool:
    """No seed generalized within the budget."""
    if not generalized:
        raise ValueError("need at least one seed")
    return all(math.isinf(g) for g in generalized)


def run(cfg: Config, run: Run) -> None:
    x, y = modular_addition(cfg.p)
    x, y = x.to(run.device), y.to(run.device)
    order = torch.randperm(cfg.p**2, generator=torch.Generator().manual_seed(cfg.seed)).to(run.device)
    n = round(cfg.train_fraction * cfg.p**2)
    train, val = (x[order[:n]], y[order[:n]]), (x[order[n:]], y[order[n:]])

    def evaluate(model: StackedMLP) -> dict[str, Tensor]:
        return {"train_error": error_rates(model, *train), "val_error": error_rates(model, *val)}

    seeds = list(seed_range(cfg))
    curves: dict[str, tuple[list[int], list[list[float]], list[list[float]]]] = {}
    arms = {"weight decay": cfg.weight_decay, "no weight decay": 0.0}
    with run.progress(2 * 1000, "arms (‰ of steps)") as bar:
        for k, (arm, wd) in enumerate(arms.items()):
            result = train_sweep(
                [cfg.hidden] * cfg.seeds,
                train,
                in_features=2 * cfg.p,
                out_features=cfg.p,
                epochs=cfg.epochs,
                batch_size=n,
                optimizer=partial(AdamW, lr=cfg.lr, weight_decay=wd, betas=(0.9, 0.98)),
                seeds=seeds,
                evaluate=evaluate,
                evaluate_every=cfg.evaluate_every,
                device=run.device,
                run=run,
                name=arm.replace(" ", "_"),
                checkpoint_every=max(1, cfg.epochs // 5),
                progress=partial(show_progress, bar, 1000 * k, 1000),
            )
            curves[arm] = (
                [int(h["epoch"]) for h in result.history[0]],
                [[1 - h["train_error"] for h in hist] for hist in result.history],
                [[1 - h["val_error"] for h in hist] for hist in result.history],
            )
    steps_of = {
        arm: (
            [first_step(c[0], t, cfg.threshold) for t in c[1]],
            [first_step(c[0], v, cfg.threshold) for v in c[2]],
        )
        for arm, c in curves.items()
    }
    for i, step in enumerate(curves["weight decay"][0]):
        run.log(
            step,
            **{
                f"{arm.replace(' ', '_')}_val_accuracy": sum(v[i] for v in c[2]) / cfg.seeds
                for arm, c in curves.items()
            },
        )
    memorized, generalized = steps_of["weight decay"]
    run.claim(
        "grokking-with-weight-decay",
        f"With weight decay {cfg.weight_decay:g}, every one of {cfg.seeds} seeds reaches {cfg.threshold:.0%} "
        f"validation accuracy within {cfg.epochs} steps, at least {cfg.delay:g}× later than {cfg.threshold:.0%} "
        "training accuracy",
        holds=grokking_verdict(memorized, generalized, cfg.delay),
        measured={
            "memorized_at": memorized,
            "generalized_at": generalized,
            "final_val_accuracy": [round(v[-1], 4) for v in curves["weight decay"][2]],
        },
        expected=f"generalized_at ≥ {cfg.delay:g} × memorized_at, finite",
    )
    run.claim(
        "no-grokking-without-weight-decay",
        f"Without weight decay no seed reaches {cfg.threshold:.0%} validation accuracy within {cfg.epochs} steps",
        holds=no_generalization_verdict(steps_of["no weight decay"][1]),
        measured={
            "memorized_at": steps_of["no weight decay"][0],
            "generalized_at": steps_of["no weight decay"][1],
            "final_val_accuracy": [round(v[-1], 4) for v in curves["no weight decay"][2]],
        },
        expected="no finite generalization step",
    )
    run.summary(**{f"{a.replace(' ', '_')}_steps": s for a, s in steps_of.items()})

    fig, axes = subplots(1, 2, width=4.5)
    for ax, arm in zip(axes[0], arms, strict=True):
        steps, tr, va = curves[arm]
        for s in range(cfg.seeds):
            ax.plot(steps, tr[s], color="C0", alpha=0.7, label="train" if s == 0 else None)
            ax.plot(steps, va[s], color="C1", alpha=0.7, label="validation" if s == 0 else None)
        ax.set(xscale="log", xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title=f"{arm} (p = {cfg.p})")
        ax.legend(fontsize=8)
    run.figure("grokking", fig)
