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
- label smoothing: the cross-entropy against (1−ε)·one-hot + ε/K (``udl.functional.smoothed_cross_entropy``),
  for ε in ``label_smoothing`` (torch's convention; the book's ρ, spread over the other classes, is ε(K−1)/K,
  so ε = 0.1 is ρ = 0.09).

Evaluation is always of the plain network (no noise) on clean inputs. The noise levels were fixed before any
run, as a sweep whose *middle* value is the one the claims use; the figure shows the whole sweep.

Claims: (1) label smoothing is exactly the cross-entropy against the smoothed targets (max error on the trained
model's test logits, float64, against the soft-target formula and torch's ``label_smoothing``); (2) label
smoothing lowers the expected calibration error (15 bins) on the held-out test set compared with plain
cross-entropy — the book's "overconfident" network; (3)–(5) each of input noise, weight noise and label smoothing
lowers the mean test error compared with no regularization (the book: they improve generalization). The
generalization gaps are reported with each.

Finding: in this setting label smoothing does NOT lower the test error — it raises it at every ε of the sweep
(10 seeds: 56.6% plain vs 59.2/59.7/60.4% for ε = 0.05/0.1/0.2), while it does cut the calibration error by more
than half (0.37 → 0.16). The claim is reported as failing; the protocol was not changed to make it pass. Input
noise and weight noise lower the test error at every level swept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.functional import (
    add_input_noise,
    expected_calibration_error,
    forward_with_weight_noise,
    label_smoothing_targets,
    reliability_bins,
    smoothed_cross_entropy,
)
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.train import classification_metrics, fit

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


@dataclass(frozen=True)
class Config:
    train_size: int = 1000
    """training signals: the first ``train_size`` of the 4000 default MNIST-1D training signals"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    input_noise: tuple[float, ...] = (0.1, 0.25, 0.5)
    """standard deviations σ of the Gaussian input noise swept (the claim uses the middle one)"""
    weight_noise: tuple[float, ...] = (0.01, 0.025, 0.05)
    """standard deviations σ of the Gaussian weight noise swept (the claim uses the middle one)"""
    label_smoothing: tuple[float, ...] = (0.05, 0.1, 0.2)
    """label-smoothing ε swept, torch's convention (the claims use the middle one)"""
    epochs: int = 60
    """passes over the training set"""
    batch_size: int = 50
    """mini-batch size"""
    lr: float = 0.05
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    step_size: int = 15
    """StepLR: epochs between learning-rate decays"""
    gamma: float = 0.5
    """StepLR: multiplicative decay"""
    ece_bins: int = 15
    """equal-width confidence bins of the expected calibration error"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    checkpoint_every: int = 20
    """epochs between checkpoints"""
    seeds: int = 3
    """training runs per method (seeds seed, seed+1, ...); the claims use their means"""
    seed: int = 0
    """first seed: initialization, batch order and noise draws"""

    def __post_init__(self) -> None:
        if not 10 <= self.train_size <= 4000:
            raise ValueError(
                f"train_size must be in 10..4000 (the default training set), got {self.train_size}"
            )
        if (
            min(
                self.epochs, self.batch_size, self.step_size, self.checkpoint_every, self.seeds, self.ece_bins
            )
            < 1
        ):
            raise ValueError(
                "epochs, batch_size, step_size, checkpoint_every, seeds and ece_bins must be >= 1"
            )
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.gamma <= 0:
            raise ValueError("need lr > 0, 0 <= momentum < 1 and gamma > 0")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")
        for name in ("input_noise", "weight_noise", "label_smoothing"):
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


class NoisyTraining(nn.Module):
    """Wraps a classifier so that, in training mode only, each forward pass adds input noise (σ_x) and/or uses
    Gaussian-perturbed weights (σ_w). In eval mode it is the plain classifier. The noise comes from
    ``generator`` — the one that also orders the batches in ``fit``, which checkpoints it, so resumed runs draw
    the same noise."""

    def __init__(
        self, model: nn.Module, input_std: float, weight_std: float, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.model = model
        self.input_std, self.weight_std, self.generator = input_std, weight_std, generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return self.model(x)
        x = add_input_noise(x, self.input_std, generator=self.generator)
        return forward_with_weight_noise(self.model, x, self.weight_std, generator=self.generator)


def _middle(levels: tuple[float, ...]) -> float:
    return levels[len(levels) // 2]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def run(cfg: Config, run: Run) -> None:
    # -- data: a small training set, the full test set ------------------------------------------------------
    data = load_mnist1d(MNIST1DConfig(seed=cfg.data_seed))
    dev = run.device
    x_train, y_train = data.x_train[: cfg.train_size].to(dev), data.y_train[: cfg.train_size].to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)

    def evaluate(model: nn.Module) -> dict[str, float]:
        train = classification_metrics(model, x_train, y_train)
        test = classification_metrics(model, x_test, y_test)
        return {"train_error": train["error"], "test_loss": test["loss"], "test_error": test["error"]}

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
        for seed in range(cfg.seed, cfg.seed + cfg.seeds):
            generator = torch.Generator().manual_seed(seed)
            net = MLP(x_train.shape[1], cfg.hidden, 10, activation="relu", init="he", generator=generator).to(
                dev
            )
            model = NoisyTraining(net, input_std, weight_std, generator)
            optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
            loss_fn: Callable[[Tensor, Tensor], Tensor] = partial(smoothed_cross_entropy, smoothing=smoothing)
            result = fit(
                model,
                loss_fn,
                optimizer,
                (x_train, y_train),
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                scheduler=scheduler,
                generator=generator,
                evaluate=evaluate,
                run=run,
                name=f"{family}{level:g}_seed{seed}",
                checkpoint_every=cfg.checkpoint_every,
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

    # -- claim: label smoothing is the cross-entropy against the smoothed targets ---------------------------------
    eps = _middle(cfg.label_smoothing)
    # the trained label-smoothing model's test logits (log-probabilities are logits: softmax ignores a shift)
    logits = test_probs[("smoothing", eps)][0].log().cpu()
    labels = data.y_test
    ours = smoothed_cross_entropy(logits, labels, eps, reduction="none")
    soft_target = -(
        label_smoothing_targets(labels, 10, eps, dtype=torch.float64) * logits.log_softmax(1)
    ).sum(1)
    torch_ls = nn.functional.cross_entropy(logits, labels, label_smoothing=eps, reduction="none")
    err_targets = float((ours - soft_target).abs().max())
    err_torch = float((ours - torch_ls).abs().max())
    run.claim(
        "label-smoothing-is-ce-against-smoothed-targets",
        f"Label smoothing (ε = {eps:g}) equals the cross-entropy against the target (1−ε)·one-hot + ε/K "
        f"(and torch's label_smoothing), float64, over {len(labels)} examples",
        holds=max(err_targets, err_torch) <= 1e-12,
        measured={"max_abs_error_vs_soft_targets": err_targets, "max_abs_error_vs_torch": err_torch},
        expected="<= 1e-12",
    )

    # -- claims: calibration and test error per method (claim levels: the middle of each sweep) -------------------
    def stat(key: tuple[str, float], name: str) -> list[float]:
        return [r[name] for r in results[key]]

    base = ("none", 0.0)
    ls = ("smoothing", eps)
    ece_none, ece_ls = _mean(stat(base, "ece")), _mean(stat(ls, "ece"))
    run.claim(
        "label-smoothing-lowers-ece",
        f"Label smoothing (ε = {eps:g}) lowers the expected calibration error on held-out data compared with "
        f"plain cross-entropy (mean of {cfg.seeds} runs, {cfg.ece_bins} bins)",
        holds=ece_ls < ece_none,
        measured={
            "ece_plain": round(ece_none, 4),
            "ece_smoothed": round(ece_ls, 4),
            "per_seed_plain": [round(v, 4) for v in stat(base, "ece")],
            "per_seed_smoothed": [round(v, 4) for v in stat(ls, "ece")],
        },
        expected="smoothed < plain",
    )
    base_error = _mean(stat(base, "test_error"))
    for family, levels, what in (
        ("input", cfg.input_noise, "Gaussian input noise"),
        ("weight", cfg.weight_noise, "Gaussian weight noise"),
        ("smoothing", cfg.label_smoothing, "Label smoothing"),
    ):
        key = (family, _middle(levels))
        error = _mean(stat(key, "test_error"))
        run.claim(
            f"{family}-noise-lowers-test-error"
            if family != "smoothing"
            else "label-smoothing-lowers-test-error",
            f"{what} ({'ε' if family == 'smoothing' else 'σ'} = {key[1]:g}) lowers the test error compared with "
            f"no regularization (mean of {cfg.seeds} runs on {cfg.train_size} training signals)",
            holds=error < base_error,
            measured={
                "test_error_none": round(100 * base_error, 2),
                "test_error": round(100 * error, 2),
                "gap_none": round(100 * _mean(stat(base, "gap")), 2),
                "gap": round(100 * _mean(stat(key, "gap")), 2),
                "sweep_test_error": {
                    f"{v:g}": round(100 * _mean(stat((family, v), "test_error")), 2) for v in levels
                },
            },
            expected="test error below no regularization (%)",
        )
    run.summary(
        **{
            f"{family}{level:g}/{name}": _mean(stat((family, level), name))
            for family, level, *_ in methods
            for name in ("test_error", "train_error", "ece")
        }
    )

    # -- figure 1: reliability diagram, plain vs label-smoothed (test predictions pooled over seeds) --------------
    fig, axes = subplots(1, 2, width=4.8, height=4.0)
    for (key, label), color in zip(
        ((base, "plain CE"), (ls, f"label smoothing ε={eps:g}")), PALETTE, strict=False
    ):
        bins = reliability_bins(
            torch.cat(test_probs[key]).cpu(), y_test.cpu().repeat(cfg.seeds), cfg.ece_bins
        )
        used = bins.counts > 0
        centers = (0.5 * (bins.edges[:-1] + bins.edges[1:]))[used]
        axes[0, 0].plot(bins.confidence[used], bins.accuracy[used], "o-", color=color, label=label)
        axes[0, 1].bar(
            centers + (0.01 if key == ls else -0.01),
            bins.counts[used] / bins.counts.sum(),
            width=0.02,
            color=color,
        )
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
        (
            ("input", cfg.input_noise, "input noise σ"),
            ("weight", cfg.weight_noise, "weight noise σ"),
            ("smoothing", cfg.label_smoothing, "label smoothing ε"),
        ),
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
            ax.plot(xs, [_mean(v) for v in per_seed], "o-", color=color, label=label)
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
        history = histories[key]
        epochs = range(1, len(history) + 1)
        label = "none" if key == base else f"{key[0]} {key[1]:g}"
        axes[0, 0].plot(
            epochs, [100 * h["test_error"] for h in history], "-", color=color, label=f"{label} test"
        )
        axes[0, 0].plot(epochs, [100 * h["train_error"] for h in history], "--", color=color, linewidth=0.8)
    axes[0, 0].set(xlabel="epoch", ylabel="error (%)", ylim=(0, 100), title="Learning curves (dashed: train)")
    axes[0, 0].legend(fontsize=8)
    run.figure("learning-curves", fig)
