"""Dropout (UDL section 9.3.3): regularization by dropping hidden units, and its inference rules.

Protocol.

- *Regularization*: MNIST-1D with a small training set (``num_samples`` = 2000 split 1000 / 1000), MLPs
  40-256-256-10 (ReLU, He initialization) trained with and without dropout on both hidden layers
  (p = 0.5, "typically 50%" in the book), otherwise identically: SGD with learning rate 0.05 and momentum 0.9
  (notebook 8.1's recipe, ``udl.experiments._mnist1d``, without its step schedule: ``gamma`` = 1), batch 100,
  ``epochs`` = 100, cross-entropy, the same initialization and batch order for both, ``seeds`` runs each.
  Dropout is ``udl.nn.Dropout`` (inverted: scaled by 1/(1 − p) in training, the identity at test time, which is
  the book's weight scaling inference rule with the scaling moved into training). Errors are measured with dropout off.
- *Inference*: small networks 40-8-8-10 trained the same way with dropout (one linear, one ReLU), so the average
  over all 2^16 dropout masks can be enumerated exactly (``udl.nn.exact_dropout_average``, float64) on
  ``exact_inputs`` test inputs and compared with the weight-scaling prediction (eval mode) and with Monte Carlo
  dropout (``udl.nn.mc_dropout_predict``) for 1..``mc_samples`` passes.

Claim: dropout narrows the gap between training and test error, paired by seed over ``seeds`` runs
(``udl.stats.paired_difference``, mean difference > 2 SE; with the quick preset's 2 seeds the bar is hard to
reach and the verdict may be "not established"). Check (an identity): for a linear network the weight scaling rule
*is* the mask average (the output is affine in each mask and the masks are independent), up to float64 rounding.
Claim: with ReLUs after a dropped layer it is only an approximation: measurably different (10⁴ × the linear
network's rounding error), yet closer to the mask average than a single stochastic pass (the spread of the
passes), i.e. worth more than one Monte Carlo sample. The equivalent number of Monte Carlo samples,
(spread / gap)², is reported.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from udl.experiments._mnist1d import MNIST1DRecipe, load_split, seed_range, train_classifier
from udl.experiments._recipes import claim_comparison
from udl.nn import DropoutMLP, exact_dropout_average, mc_dropout_samples
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots
from udl.stats import Comparison, paired_difference
from udl.train import classification_metrics

CHAPTER = 9
SECTION = "9.3.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Dropout narrows MNIST-1D's train/test gap; weight scaling equals the exact mask average only if linear"
)
CONTEXT = (
    "Section 9.3.3: dropout clamps a random subset (typically 50%) of hidden units to zero at each training "
    "step, so the network cannot depend on any single unit; at test time all units are used with the weights "
    "scaled by 1 − p (the weight scaling inference rule), or the stochastic network is run many times and the "
    "results averaged (Monte Carlo dropout)."
)


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the MNIST-1D MLPs"""
    p: float = 0.5
    """dropout probability of every hidden unit (the book: typically 0.5)"""
    epochs: int = 100
    """training epochs"""
    gamma: float = 1.0
    """StepLR decay: 1 keeps the learning rate constant (notebook 8.1's recipe without its step schedule)"""
    num_samples: int = 2000
    """MNIST-1D examples in all (a small training set: the regime where regularization matters)"""
    train_split: float = 0.5
    """fraction of the examples used for training, in (0, 1)"""
    seeds: int = 2
    """training runs per setting (seeds seed, seed+1, ...), paired by seed in the gap claim"""
    small_hidden: tuple[int, ...] = (8, 8)
    """hidden widths of the small networks whose 2^(sum) masks are enumerated (two layers: ReLU breaks the rule)"""
    small_epochs: int = 30
    """training epochs of the small networks"""
    exact_inputs: int = 200
    """test inputs on which the exact mask average is computed (at most the test set's size)"""
    mc_samples: int = 4096
    """largest number of Monte Carlo dropout passes compared with the exact average"""
    checkpoint_every: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.p < 1:
            raise ValueError(f"p must lie in (0, 1), got {self.p}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden needs at least one width, all >= 1, got {self.hidden}")
        if len(self.small_hidden) < 2 or min(self.small_hidden) < 1:
            raise ValueError(f"small_hidden needs at least two widths >= 1, got {self.small_hidden}")
        if sum(self.small_hidden) > 20:
            raise ValueError(f"small_hidden has {sum(self.small_hidden)} units: at most 20 (2^20 masks)")
        if min(self.small_epochs, self.exact_inputs, self.mc_samples) < 1:
            raise ValueError("small_epochs, exact_inputs and mc_samples must be >= 1")
        n_test = self.num_samples - round(self.num_samples * self.train_split)
        if self.exact_inputs > n_test:
            raise ValueError(
                f"exact_inputs must be in [1, {n_test}] (the test set's size), got {self.exact_inputs}"
            )


PRESETS = {
    "smoke": Config(
        hidden=(32, 32),
        epochs=2,
        num_samples=1000,
        seeds=1,
        small_hidden=(4, 4),
        small_epochs=1,
        exact_inputs=20,
        mc_samples=64,
        checkpoint_every=1,
    ),
    "quick": Config(),
    "full": Config(epochs=200, seeds=5, exact_inputs=1000, mc_samples=16384),
}


def narrows_gap(gap_without: list[float], gap_with: list[float]) -> Comparison:
    """Dropout narrows the gap: the gap without dropout exceeds the gap with it, paired by seed (2 SE)."""
    return paired_difference(gap_without, gap_with)


def weight_scaling_approximate_verdict(
    relu_max_error: float, linear_max_error: float, relu_rms_error: float, spread_of_one_pass: float
) -> bool:
    """With ReLUs, weight scaling is measurably off (10⁴ × the linear network's rounding error, floored at 1e-15)
    yet closer to the mask average than one stochastic pass (RMS)."""
    return relu_max_error > 1e4 * max(linear_max_error, 1e-15) and relu_rms_error < spread_of_one_pass


def run(cfg: Config, run: Run) -> None:
    # -- data ------------------------------------------------------------------------------------------------
    dev = run.device
    split = load_split(cfg, dev)
    x_train, y_train, x_test, y_test = split.x_train, split.y_train, split.x_test, split.y_test

    def evaluate(model: nn.Module) -> dict[str, float]:  # fit calls this in eval mode: dropout off
        train = classification_metrics(model, x_train, y_train)
        test = classification_metrics(model, x_test, y_test)
        return {"train_error": train["error"], "test_error": test["error"], "test_loss": test["loss"]}

    def train(
        hidden: tuple[int, ...], p: float, activation: str, seed: int, epochs: int, name: str
    ) -> DropoutMLP:
        model = DropoutMLP(
            x_train.shape[1],
            hidden,
            10,
            p=p,
            activation=activation,
            generator=torch.Generator().manual_seed(seed),
            dropout_generator=torch.Generator(device=dev).manual_seed(10_000 + seed),
        ).to(dev)
        histories[name] = train_classifier(
            model,
            replace(cfg, epochs=epochs),
            (x_train, y_train),
            run=run,
            name=name,
            generator=torch.Generator().manual_seed(seed),
            evaluate=evaluate,
        ).history
        return model

    # -- training with and without dropout, same initialization and batch order ------------------------------
    histories: dict[str, list[dict[str, float]]] = {}
    settings = {"plain": 0.0, "dropout": cfg.p}
    for seed in seed_range(cfg):
        for label, p in settings.items():
            train(cfg.hidden, p, "relu", seed, cfg.epochs, f"{label}_seed{seed}")
    final = {label: [histories[f"{label}_seed{s}"][-1] for s in seed_range(cfg)] for label in settings}

    def mean(label: str, key: str) -> float:
        return sum(h[key] for h in final[label]) / len(final[label])

    gaps = {label: [h["test_error"] - h["train_error"] for h in final[label]] for label in settings}
    gap = {label: sum(g) / len(g) for label, g in gaps.items()}

    # -- inference: exact mask average vs weight scaling vs Monte Carlo, small networks, float64 -------------
    x_exact = x_test[: cfg.exact_inputs].double()
    inference: dict[str, dict[str, float]] = {}
    mc_curves: dict[str, tuple[list[int], list[float], float]] = {}
    counts = sorted({1, *(2**k for k in range(cfg.mc_samples.bit_length()) if 2**k <= cfg.mc_samples)})
    for activation in ("linear", "relu"):
        small = train(cfg.small_hidden, cfg.p, activation, cfg.seed, cfg.small_epochs, f"small_{activation}")
        net = copy.deepcopy(small).double().eval()
        exact = exact_dropout_average(net, x_exact)  # Σ_m Pr(m) f(x, m), all 2^D masks
        with torch.no_grad():
            scaled = net(x_exact)  # the weight scaling inference rule
        # Monte Carlo passes in blocks of at most 1024, the running mean read off at each count in `counts`
        mc_generator = torch.Generator().manual_seed(cfg.seed + 7)
        total, squares, done, mc_error = torch.zeros_like(exact), 0.0, 0, []
        for count in counts:
            while done < count:
                passes = mc_dropout_samples(net, x_exact, min(1024, count - done), mc_generator)
                total += passes.sum(dim=0)
                squares += float((passes - exact).pow(2).sum())
                done += len(passes)
            mc_error.append(float((total / done - exact).pow(2).mean().sqrt()))
        spread = math.sqrt(squares / (done * exact.numel()))  # RMS distance of one pass from the average
        gap_rms = float((scaled - exact).pow(2).mean().sqrt())
        mc_curves[activation] = (counts, mc_error, gap_rms)
        inference[activation] = {
            "max_abs_error": float((scaled - exact).abs().max()),
            "rms_error": gap_rms,
            "rms_spread_of_one_pass": spread,
            "equivalent_mc_samples": (spread / gap_rms) ** 2 if gap_rms > 0 else float("inf"),
            "class_agreement": float((scaled.argmax(-1) == exact.argmax(-1)).double().mean()),
            "output_scale": float(exact.abs().mean()),
        }
        run.log(0, **{f"{activation}_{k}": v for k, v in inference[activation].items()})

    # -- checks and claims -----------------------------------------------------------------------------------
    narrower = narrows_gap(gaps["plain"], gaps["dropout"])
    claim_comparison(
        run,
        "dropout-narrows-generalization-gap",
        f"Training with dropout (p = {cfg.p:g}) narrows the gap between training and test error on a small "
        f"MNIST-1D training set (paired by seed over {cfg.seeds} runs, mean difference > 2 SE)",
        narrower,
        expected="gap without − gap with > 2 SE (paired by seed)",
        described=narrower.describe(digits=4),
        gap_without=round(gap["plain"], 4),
        gap_with=round(gap["dropout"], 4),
        train_error_without=round(mean("plain", "train_error"), 4),
        test_error_without=round(mean("plain", "test_error"), 4),
        train_error_with=round(mean("dropout", "train_error"), 4),
        test_error_with=round(mean("dropout", "test_error"), 4),
    )
    lin, relu = inference["linear"], inference["relu"]
    run.check(
        "weight-scaling-exact-for-linear",
        "For a linear network the weight scaling inference rule equals the average over all dropout masks "
        f"(2^{sum(cfg.small_hidden)} masks enumerated, float64)",
        error=lin["max_abs_error"] / max(1.0, lin["output_scale"]),
        tolerance=1e-10,
        measured={"max_abs_error": lin["max_abs_error"], "output_scale": lin["output_scale"]},
        expected="max_abs_error ≤ 1e-10 × max(1, output scale) (float64 rounding)",
    )
    run.claim(
        "weight-scaling-approximate-for-relu",
        "With ReLUs the weight scaling rule only approximates the mask average: the error is far above rounding, "
        "yet smaller than the spread of a single stochastic pass (worth more than one Monte Carlo sample)",
        holds=weight_scaling_approximate_verdict(
            relu["max_abs_error"], lin["max_abs_error"], relu["rms_error"], relu["rms_spread_of_one_pass"]
        ),
        measured={k: round(v, 6) for k, v in relu.items()},
        expected="max_abs_error > 1e4 × the linear network's; rms_error < rms_spread_of_one_pass",
    )
    run.summary(
        test_error_without_dropout=mean("plain", "test_error"),
        test_error_with_dropout=mean("dropout", "test_error"),
        gap_without_dropout=gap["plain"],
        gap_with_dropout=gap["dropout"],
        relu_weight_scaling_rms_error=relu["rms_error"],
        relu_equivalent_mc_samples=relu["equivalent_mc_samples"],
    )

    # -- figure 1: learning curves with and without dropout (first seed) ------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    for (label, _), color in zip(settings.items(), PALETTE, strict=False):
        history = histories[f"{label}_seed{cfg.seed}"]
        epochs = range(1, len(history) + 1)
        name = "no dropout" if label == "plain" else f"dropout p = {cfg.p:g}"
        axes[0, 0].plot(
            epochs, [100 * h["train_error"] for h in history], "--", color=color, label=f"{name}, train"
        )
        axes[0, 0].plot(epochs, [100 * h["test_error"] for h in history], color=color, label=f"{name}, test")
        axes[0, 1].plot(epochs, [h["test_loss"] for h in history], color=color, label=name)
    axes[0, 0].set(
        xlabel="epoch", ylabel="error (%)", ylim=(0, 100), title=f"MNIST-1D, {len(x_train)} training examples"
    )
    axes[0, 0].legend(fontsize=8)
    integer_ticks(axes[0, 0], "x")
    integer_ticks(axes[0, 1], "x")
    axes[0, 1].set(xlabel="epoch", ylabel="test cross-entropy", title="Test loss")
    axes[0, 1].legend(fontsize=8)
    run.figure("learning-curves", fig)

    # -- figure 2: weight scaling vs Monte Carlo, both against the exact mask average ---------------------------
    fig, axes = subplots(1, 1, width=6.0)
    ax = axes[0, 0]
    for (activation, (ss, errors, gap_rms)), color in zip(mc_curves.items(), PALETTE, strict=False):
        ax.plot(
            ss,
            errors,
            "o-",
            color=color,
            markersize=3,
            label=f"{activation}: Monte Carlo average of S passes",
        )
        ax.axhline(
            max(gap_rms, 1e-17),
            color=color,
            linestyle="--",
            label=f"{activation}: weight scaling ({gap_rms:.1e})",
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="Monte Carlo passes S",
        ylabel="RMS distance to the exact mask average",
        title=f"Inference rules vs the average over all 2^{sum(cfg.small_hidden)} masks",
    )
    ax.legend(fontsize=7)
    run.figure("weight-scaling-vs-monte-carlo", fig)
