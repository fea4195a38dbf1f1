"""A 2,050-parameter convolutional network against a 59,065-parameter fully connected one on MNIST-1D.

Protocol (UDL notebook 10.2, "Convolution for MNIST-1D", which reproduces figs. 10.7 and 10.8a): the default
MNIST-1D split (4000 train / 1000 test, data seed 42); the network of fig. 10.7 — three valid Conv1d layers with
15 channels, kernel 3 and stride 2, each followed by a ReLU (lengths 40 -> 19 -> 9 -> 4), then Linear(60, 10),
2,050 parameters (:class:`udl.models.MNIST1DCNN`). Training is notebook 8.1's recipe (``_mnist1d``: SGD, learning
rate 0.05, momentum 0.9, StepLR, batch 100, cross-entropy) with notebook 10.2's two differences: 100 epochs and
a learning-rate halving every 20 of them. The notebook's initialization is kept as written: its ``weights_init``
gives the linear layer He-uniform weights and zero biases, and leaves the convolutions at torch's default.

Fig. 10.8b compares a fully connected network with the same hidden layers and hidden units per layer:
15 x 19 = 285, 15 x 9 = 135 and 15 x 4 = 60 units, i.e. an MLP 40-285-135-60-10 with 59,065 parameters, trained
with the same recipe (He initialization, ``udl.nn.MLP``). Seed s draws both networks' initial weights and batch
orders from one generator, so the two arms are paired by seed.

The parameter counts are a **check** (exact). Claims: the convolutional network's test accuracy is higher than the
fully connected network's (paired by seed, mean difference > 2 SE); and it reaches the 94% that the MNIST-1D
benchmark (Greydanus, 2020, Table 1) lists for a CNN, judged by ``within_spread``: the seed mean within 2 seed
standard deviations of 94 (a margin from the measured spread, not a chosen tolerance). That table's CNN is a
larger network trained with a different recipe; we do not tune the recipe to close the gap.

What we measured (full preset, 10 seeds): the CNN reaches 90.0 ± 0.4% (mean ± sd) test accuracy and the fully
connected network 69.0 ± 0.9%, so the comparison of fig. 10.8 holds by 21 points; the CNN stays 4 points (10 seed
sd) short of the benchmark's 94%, so that claim fails with the notebook's recipe. (An earlier version of this
experiment judged the 94% within a fixed 3 points; it failed there too.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from udl.experiments._mnist1d import (
    MNIST1DRecipe,
    load_split,
    plot_learning_curves,
    seed_range,
    train_classifier,
)
from udl.experiments._recipes import claim_comparison
from udl.models import MNIST1DCNN
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import integer_ticks, subplots
from udl.stats import Comparison, Verdict, mean_se, paired_difference, within_spread

CHAPTER = 10
SECTION = "10.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "The 2,050-parameter 1D CNN of fig. 10.7 vs a 59,065-parameter MLP with the same hidden units on MNIST-1D"
)
CONTEXT = (
    "Section 10.2 builds a convolutional network for MNIST-1D (fig. 10.7): three convolutional layers that share "
    "one small kernel across positions, 2,050 parameters in all. Fig. 10.8 trains it beside a fully connected "
    "network with the same number of hidden units per layer (59,065 parameters): the convolutional network "
    "generalizes better, because its structure builds in that every position is processed alike. The MNIST-1D "
    "benchmark lists 94% test accuracy for a (larger) CNN."
)

PUBLISHED_CNN_ACCURACY = 94.0
"""Greydanus (2020), MNIST-1D Table 1: a CNN's test accuracy in percent."""
SPREAD_K = 2.0
"""The accuracy claim's margin, in seed standard deviations of the measured accuracy."""
BOOK_PARAMETERS = {"cnn": 2050, "mlp": 59065}
"""Parameter counts of the two networks of UDL fig. 10.8."""


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    epochs: int = 100
    """passes over the training set (notebook 10.2: 100)"""
    step_size: int = 20
    """StepLR: epochs between learning-rate halvings (notebook 10.2: 20)"""
    init: Literal["notebook", "he", "torch"] = "notebook"
    """CNN initialization: 'notebook' (He for the linear layer, torch default for convolutions), 'he', 'torch'"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.init not in ("notebook", "he", "torch"):
            raise ValueError(f"unknown init {self.init!r}; valid: notebook, he, torch")


PRESETS = {
    "smoke": Config(epochs=2, num_samples=1000, checkpoint_every=1, seeds=1),
    # The notebook's full protocol (100 epochs), 3 seeds: about 60 s of single-threaded CPU.
    "quick": Config(),
    "full": Config(seeds=10),
}


def cnn_beats_mlp(cnn_accuracy: list[float], mlp_accuracy: list[float]) -> Comparison:
    """Fig. 10.8: does the CNN's test accuracy exceed the MLP's (cnn − mlp, paired by seed; its verdict holds when
    the mean difference is > 2 SE)?"""
    return paired_difference(cnn_accuracy, mlp_accuracy)


def benchmark_accuracy_verdict(cnn_accuracy: list[float]) -> Verdict:
    """The CNN's seed-mean test accuracy lies within ``SPREAD_K`` seed s.d. of the benchmark's 94%."""
    return within_spread(cnn_accuracy, PUBLISHED_CNN_ACCURACY, k=SPREAD_K)


def run(cfg: Config, run: Run) -> None:
    # -- data ------------------------------------------------------------------------------------------------
    split = load_split(cfg, run.device)  # (4000, 40) train, (1000, 40) test
    train, evaluate = split.train, split.evaluator()

    # -- the two models of fig. 10.8, same recipe, `seeds` runs each, paired by seed -------------------------
    histories: dict[str, list[list[dict[str, float]]]] = {"cnn": [], "mlp": []}
    counts: dict[str, int] = {}
    first_kernels = torch.empty(0)
    for seed in seed_range(cfg):
        generator = torch.Generator().manual_seed(seed)
        # Built on the CPU, where the seeded CPU generator draws the initial weights, then moved.
        cnn = MNIST1DCNN(init=cfg.init, generator=generator).to(run.device)
        # The fully connected network with the CNN's hidden units per layer: 40-285-135-60-10.
        mlp = MLP(split.x_train.shape[1], cnn.config.hidden_units, 10, init="he", generator=generator)
        models: dict[str, nn.Module] = {"cnn": cnn, "mlp": mlp.to(run.device)}
        for name, model in models.items():
            counts[name] = sum(p.numel() for p in model.parameters())
            result = train_classifier(
                model, cfg, train, run=run, name=f"{name}_seed{seed}", generator=generator, evaluate=evaluate
            )
            histories[name].append(result.history)
        if seed == cfg.seed:
            first_kernels = cast(nn.Conv1d, cnn.convs[0]).weight.detach().cpu().squeeze(1)  # (15, 3)

    # -- check and claims -----------------------------------------------------------------------------------
    per_seed = {name: [100.0 * (1.0 - h[-1]["test_error"]) for h in runs] for name, runs in histories.items()}
    run.check(
        "parameter-counts",
        "The convolutional network of fig. 10.7 has 2,050 parameters; the fully connected network with the same "
        "hidden units per layer has 59,065 (error = total miscount)",
        error=sum(abs(counts[k] - v) for k, v in BOOK_PARAMETERS.items()),
        tolerance=0,
        measured=counts,
        expected=BOOK_PARAMETERS,
    )
    comparison = cnn_beats_mlp(per_seed["cnn"], per_seed["mlp"])
    claim_comparison(
        run,
        "cnn-beats-mlp",
        "The convolutional network reaches a higher test accuracy than the fully connected network with ~29x "
        f"more parameters (fig. 10.8; paired by seed, {cfg.seeds} seeds, mean diff > 2 SE): "
        f"{comparison.describe('points')}",
        comparison,
        expected="cnn − mlp > 2 SE",
        cnn_per_seed=per_seed["cnn"],
        mlp_per_seed=per_seed["mlp"],
    )
    spread = mean_se(per_seed["cnn"])
    run.claim(
        "cnn-accuracy",
        f"The convolutional network reaches the {PUBLISHED_CNN_ACCURACY:.0f}% test accuracy the MNIST-1D "
        f"benchmark lists for a CNN: seed mean within {SPREAD_K:g} seed s.d. of it ({cfg.seeds} seeds; the "
        "benchmark's CNN is larger and trained differently)",
        holds=benchmark_accuracy_verdict(per_seed["cnn"]),
        measured={**spread.to_json(), "per_seed": per_seed["cnn"]},
        expected=f"|mean − {PUBLISHED_CNN_ACCURACY:g}| ≤ {SPREAD_K:g} sd",
    )
    run.summary(
        cnn_test_accuracy=comparison.mean_a,
        mlp_test_accuracy=comparison.mean_b,
        cnn_minus_mlp_points=comparison.diff,
        cnn_parameters=counts["cnn"],
        mlp_parameters=counts["mlp"],
    )

    # -- figure: learning curves of both networks, as fig. 10.8 ---------------------------------------------
    fig, axes = subplots(1, 2, sharey=True)
    for ax, (name, runs) in zip(axes[0], histories.items(), strict=True):
        for i, history in enumerate(runs):
            plot_learning_curves(None, ax, history, f"seed {cfg.seed + i}", color=f"C{i % 10}")
        kind = "Convolutional" if name == "cnn" else "Fully connected"
        mean_error = 100 - sum(per_seed[name]) / len(per_seed[name])
        ax.set(title=f"{kind}, {counts[name]:,} parameters\nmean final test error {mean_error:.1f}%")
        integer_ticks(ax, "x")
    axes[0, 0].legend(fontsize=7)
    run.figure("learning-curves", fig)

    # -- figure: the first layer's 15 learned kernels (seed `seed`) ------------------------------------------
    fig, axes = subplots(1, 1, width=6.0, height=3.0)
    ax = axes[0, 0]
    limit = float(first_kernels.abs().max())
    image = ax.imshow(first_kernels.T.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set(
        xlabel="kernel (output channel)",
        ylabel="tap",
        title=f"First-layer kernels of the CNN (seed {cfg.seed})",
        xticks=range(first_kernels.shape[0]),
        yticks=range(first_kernels.shape[1]),
    )
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="weight")
    run.figure("first-layer-kernels", fig)
