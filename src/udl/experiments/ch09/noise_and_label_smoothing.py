"""Applying noise: input noise, weight noise and label smoothing on a small MNIST-1D training set (UDL 9.3.4).

Protocol (ours; the book gives no experiment for this section): the first ``train_size`` signals of the default
MNIST-1D training set (a small set, so that regularization matters) and the full 1000-signal test set; an MLP
40-100-100-10 with ReLU and He initialization; SGD (learning rate 0.05, momentum 0.9) with StepLR, batch 50. With the
default sweeps, ten ways of training it, each ``seeds`` times from the same initializations and batch orders:

- plain cross-entropy (UDL eq. 5.24), the baseline;
- input noise: every mini-batch is trained on x + ε, ε ~ N(0, σ²I), a fresh draw per step
  (``udl.functional.add_input_noise``), for σ in ``input_noise`` (MNIST-1D signals have standard deviation ≈ 1);
- weight noise: every forward pass of training uses φ + ε, ε ~ N(0, σ²I) for all parameters, and the gradient
  evaluated there updates φ (``udl.functional.forward_with_weight_noise``), for σ in ``weight_noise`` (He
  initialization gives weights of standard deviation 0.14–0.22 here);
- label smoothing: the cross-entropy against (1−ε)·one-hot + ε/K (``udl.losses.smoothed_cross_entropy``),
  for ε in ``label_smoothing`` (torch's convention; the book's ρ, spread over the other classes, is ε(K−1)/K,
  so ε = 0.1 is ρ = 0.09).

Evaluation is always of the plain network (no noise) on clean inputs. The noise levels were fixed before any
run, as a sweep whose *middle* value is the one the claims use; the figure shows the whole sweep.

Training uses the shared notebook 8.1 recipe (``udl.experiments._mnist1d``, with batch 50, 60 epochs and StepLR
every 15 epochs here). Evaluation is always of the plain network (no noise) on clean inputs. The noise levels
were fixed before any run, as a sweep whose *middle* value is the one the claims use (nothing is chosen on the
test set); the figure shows the whole sweep.

Check (an identity): label smoothing is exactly the cross-entropy against the smoothed targets (max error on the
trained model's test logits, float64, against the soft-target formula and torch's ``label_smoothing``).

Claims (paired by seed: every method starts from the same initializations and batch orders; bar 2 SE,
:mod:`udl.stats`): (1) label smoothing lowers the expected calibration error (15 bins) on the held-out test set
compared with plain cross-entropy — the book's "overconfident" network; (2)–(4) each of input noise, weight noise
and label smoothing lowers the test error compared with no regularization (the book: they improve
generalization). The generalization gaps are reported with each.

Finding: in this setting label smoothing does NOT lower the test error — it raises it at every ε of the sweep
(10 seeds: 56.6% plain vs 59.2/59.7/60.4% for ε = 0.05/0.1/0.2), while it does cut the calibration error by more
than half (0.37 → 0.16). The claim is reported as failing; the protocol was not changed to make it pass. Input
noise and weight noise lower the test error at every level swept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.experiments._mnist1d import (
    MNIST1DRecipe,
    classifier_evaluator,
    load_split,
    plot_learning_curves,
    seed_range,
    train_classifier,
)
from udl.experiments._recipes import claim_comparison
from udl.losses import label_smoothing_targets, smoothed_cross_entropy
from udl.metrics import expected_calibration_error, reliability_bins
from udl.nn import MLP, NoisyTraining
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots
from udl.stats import Comparison, mean_se, paired_difference

CHAPTER = 9
SECTION = "9.3.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Input noise, weight noise and label smoothing on small MNIST-1D: test error and calibration (9.3.4)"
)
CONTEXT = (
    "Section 9.3.4: noise can be added to the inputs (smoothing the learned function), to the weights (favouring "
    "wide, flat minima) or to the labels. Maximum likelihood pushes the logits of the true class to very large "
    "values — overconfidence; label smoothing instead minimises the cross-entropy against a target that keeps "
    "some probability on the other classes, which 'improves generalization in diverse scenarios'."
)

FAMILIES = (
    ("input", "input_noise", "Gaussian input noise", "σ"),
    ("weight", "weight_noise", "Gaussian weight noise", "σ"),
    ("smoothing", "label_smoothing", "Label smoothing", "ε"),
)
"""(method family, Config field of its sweep, name, symbol of its level)"""


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    epochs: int = 60
    batch_size: int = 50
    step_size: int = 15
    """StepLR: epochs between learning-rate decays"""
    checkpoint_every: int = 20
    train_size: int = 1000
    """training signals: the first ``train_size`` of the MNIST-1D training signals (4000 by default)"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    input_noise: tuple[float, ...] = (0.1, 0.25, 0.5)
    """standard deviations σ of the Gaussian input noise swept (the claim uses the middle one)"""
    weight_noise: tuple[float, ...] = (0.01, 0.025, 0.05)
    """standard deviations σ of the Gaussian weight noise swept (the claim uses the middle one)"""
    label_smoothing: tuple[float, ...] = (0.05, 0.1, 0.2)
    """label-smoothing ε swept, torch's convention (the claims use the middle one)"""
    ece_bins: int = 15
    """equal-width confidence bins of the expected calibration error"""

    def __post_init__(self) -> None:
        in_range(self, closed_low=True, input_noise=(0, 10), weight_noise=(0, 10))
        super().__post_init__()
        available = self.mnist1d_config().num_train
        if not 10 <= self.train_size <= available:
            raise ValueError(
                f"train_size must be in 10..{available} (the training split), got {self.train_size}"
            )
        at_least(self, 1, "ece_bins")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be one or more widths >= 1, got {self.hidden}")
        for _, name, _, _ in FAMILIES:
            levels = getattr(self, name)
            if not levels or any(not v > 0 for v in levels) or list(levels) != sorted(set(levels)):
                raise ValueError(
                    f"{name} must be a non-empty increasing tuple of positive values, got {levels}"
                )
        if max(self.label_smoothing) > 1:
            raise ValueError(f"label_smoothing values must be <= 1, got {self.label_smoothing}")


PRESETS = {
    "smoke": Config(
        train_size=200,
        hidden=(32, 32),
        input_noise=(0.25,),
        weight_noise=(0.025,),
        label_smoothing=(0.1,),
        epochs=2,
        checkpoint_every=1,
        seeds=1,
    ),
    "quick": Config(),
    "full": Config(seeds=10),
}


def lowers(baseline: list[float], method: list[float]) -> Comparison:
    """Does the method lower a per-seed error (test error, ECE) below the baseline's? Paired by seed, bar 2 SE."""
    return paired_difference(baseline, method)


def _middle(levels: tuple[float, ...]) -> float:
    return levels[len(levels) // 2]


def run(cfg: Config, run: Run) -> None:
    # -- data: a small training set, the full test set ------------------------------------------------------
    split = load_split(cfg, run.device)
    x_train, y_train = split.x_train[: cfg.train_size], split.y_train[: cfg.train_size]
    x_test, y_test = split.x_test, split.y_test
    evaluate = classifier_evaluator((x_train, y_train), (x_test, y_test))

    # -- the methods: (family, level, input σ, weight σ, label smoothing ε) ---------------------------------------
    methods: list[tuple[str, float, float, float, float]] = [("none", 0.0, 0.0, 0.0, 0.0)]
    methods += [("input", s, s, 0.0, 0.0) for s in cfg.input_noise]
    methods += [("weight", s, 0.0, s, 0.0) for s in cfg.weight_noise]
    methods += [("smoothing", e, 0.0, 0.0, e) for e in cfg.label_smoothing]

    # -- training: every method from the same initializations and batch-order seeds ------------------------------
    results: dict[tuple[str, float], list[dict[str, float]]] = {}
    histories: dict[tuple[str, float], list[dict[str, float]]] = {}
    test_probs: dict[tuple[str, float], list[Tensor]] = {}
    for family, level, input_std, weight_std, smoothing in methods:
        key = (family, level)
        results[key], test_probs[key] = [], []
        for seed in seed_range(cfg):
            generator = torch.Generator().manual_seed(seed)
            net = MLP(x_train.shape[1], cfg.hidden, 10, activation="relu", init="he", generator=generator)
            model = NoisyTraining(net.to(run.device), input_std, weight_std, generator)
            result = train_classifier(
                model,
                cfg,
                (x_train, y_train),
                run=run,
                name=f"{family}{level:g}_seed{seed}",
                generator=generator,
                evaluate=evaluate,
                loss_fn=partial(smoothed_cross_entropy, smoothing=smoothing),
            )
            net.eval()
            with torch.no_grad():
                probs = torch.softmax(net(x_test).double(), dim=1)
            ece = float(expected_calibration_error(probs, y_test, cfg.ece_bins))
            final = result.history[-1]
            results[key].append({**final, "ece": ece, "gap": final["test_error"] - final["train_error"]})
            test_probs[key].append(probs)
            if seed == cfg.seed:
                histories[key] = result.history

    # -- check: label smoothing is the cross-entropy against the smoothed targets ---------------------------------
    eps = _middle(cfg.label_smoothing)
    # the trained label-smoothing model's test logits (log-probabilities are logits: softmax ignores a shift)
    logits = test_probs[("smoothing", eps)][0].log().cpu()
    labels = split.data.y_test
    ours = smoothed_cross_entropy(logits, labels, eps, reduction="none")
    soft_target = -(
        label_smoothing_targets(labels, 10, eps, dtype=torch.float64) * logits.log_softmax(1)
    ).sum(1)
    torch_ls = nn.functional.cross_entropy(logits, labels, label_smoothing=eps, reduction="none")
    err_targets = float((ours - soft_target).abs().max())
    err_torch = float((ours - torch_ls).abs().max())
    run.check(
        "label-smoothing-is-ce-against-smoothed-targets",
        f"Label smoothing (ε = {eps:g}) equals the cross-entropy against the target (1−ε)·one-hot + ε/K "
        f"(and torch's label_smoothing), float64, over {len(labels)} examples",
        error=max(err_targets, err_torch),
        tolerance=1e-12,
        measured={"max_abs_error_vs_soft_targets": err_targets, "max_abs_error_vs_torch": err_torch},
    )

    # -- claims: calibration and test error per method (claim levels: the middle of each sweep) -------------------
    def stat(key: tuple[str, float], name: str) -> list[float]:
        return [r[name] for r in results[key]]

    def mean(key: tuple[str, float], name: str) -> float:
        return mean_se(stat(key, name)).mean

    base, ls = ("none", 0.0), ("smoothing", eps)
    calibration = lowers(stat(base, "ece"), stat(ls, "ece"))
    claim_comparison(
        run,
        "label-smoothing-lowers-ece",
        f"Label smoothing (ε = {eps:g}) lowers the expected calibration error on held-out data compared with "
        f"plain cross-entropy ({cfg.ece_bins} bins; paired, {cfg.seeds} seeds, mean diff > 2 SE)",
        calibration,
        expected="ECE plain − smoothed > 2 SE",
        ece_drop=calibration.describe(),
    )
    base_error = mean(base, "test_error")
    for family, field, what, symbol in FAMILIES:
        levels = getattr(cfg, field)
        key = (family, _middle(levels))
        gain = lowers([100 * e for e in stat(base, "test_error")], [100 * e for e in stat(key, "test_error")])
        claim_comparison(
            run,
            f"{family}-noise-lowers-test-error"
            if family != "smoothing"
            else "label-smoothing-lowers-test-error",
            f"{what} ({symbol} = {key[1]:g}) lowers the test error compared with no regularization "
            f"({cfg.train_size} training signals; paired, {cfg.seeds} seeds, mean diff > 2 SE)",
            gain,
            expected="test error none − method > 2 SE (points)",
            error_drop=gain.describe("points"),
            gap_none=round(100 * mean(base, "gap"), 2),
            gap=round(100 * mean(key, "gap"), 2),
            sweep_test_error={f"{v:g}": round(100 * mean((family, v), "test_error"), 2) for v in levels},
        )
    run.summary(
        **{
            f"{family}{level:g}/{name}": mean((family, level), name)
            for family, level, *_ in methods
            for name in ("test_error", "train_error", "ece")
        }
    )

    # -- figure 1: reliability diagram, plain vs label-smoothed (test predictions pooled over seeds) --------------
    fig, axes = subplots(1, 2, width=4.8, height=4.0)
    for (key, label), color in zip(
        ((base, "plain CE"), (ls, f"label smoothing ε={eps:g}")), PALETTE, strict=False
    ):
        pooled = torch.cat(test_probs[key]).cpu()
        bins = reliability_bins(pooled, y_test.cpu().repeat(cfg.seeds), cfg.ece_bins)
        used = bins.counts > 0
        centers = (0.5 * (bins.edges[:-1] + bins.edges[1:]))[used]
        axes[0, 0].plot(bins.confidence[used], bins.accuracy[used], "o-", color=color, label=label)
        fraction = bins.counts[used] / bins.counts.sum()
        axes[0, 1].bar(centers + (0.01 if key == ls else -0.01), fraction, width=0.02, color=color)
    axes[0, 0].plot([0, 1], [0, 1], ":", color="gray", label="calibrated")
    axes[0, 0].set(
        xlabel="confidence (max probability)", ylabel="accuracy", title="Reliability diagram (test)"
    )
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set(xlabel="confidence", ylabel="fraction of test examples", title="Confidence histogram")
    run.figure("reliability-diagram", fig)

    # -- figure 2: test error (and train error) per method and level ---------------------------------------------
    fig, axes = subplots(1, 3, width=4.2)
    for ax, (family, levels, xlabel) in zip(
        axes[0],
        [
            (f, getattr(cfg, field), f"{what.lower().removeprefix('gaussian ')} {sym}")
            for f, field, what, sym in FAMILIES
        ],
        strict=True,
    ):
        keys = [base] + [(family, v) for v in levels]
        xs = [0.0, *levels]
        for name, color, label in (
            ("test_error", PALETTE[0], "test error"),
            ("train_error", PALETTE[1], "train error"),
            ("ece", PALETTE[2], "test ECE"),
        ):
            per_seed = [[100 * v for v in stat(k, name)] for k in keys]
            ax.plot(xs, [mean_se(v).mean for v in per_seed], "o-", color=color, label=label)
            for x, vals in zip(xs, per_seed, strict=True):
                ax.scatter([x] * len(vals), vals, s=8, color=color, alpha=0.4)
        ax.axhline(100 * base_error, color="gray", linewidth=0.8, linestyle=":")
        ax.set(xlabel=xlabel, ylabel="error / ECE (%)", title=xlabel.rsplit(" ", 1)[0])
        ax.legend(fontsize=8)
    run.figure("test-error-per-method", fig)

    # -- figure 3: learning curves of the claim levels (first seed) ----------------------------------------------
    fig, axes = subplots(1, 1, width=6.5)
    claim_keys = [base, ("input", _middle(cfg.input_noise)), ("weight", _middle(cfg.weight_noise)), ls]
    for key, color in zip(claim_keys, PALETTE, strict=False):
        label = "none" if key == base else f"{key[0]} {key[1]:g}"
        plot_learning_curves(None, axes[0, 0], histories[key], label, color=color)
    axes[0, 0].set(title="Learning curves (dashed: test)")
    integer_ticks(axes[0, 0], "x")
    axes[0, 0].legend(fontsize=8)
    run.figure("learning-curves", fig)
