"""A 2,050-parameter convolutional network against a 59,065-parameter fully connected one on MNIST-1D.

Protocol (UDL notebook 10.2, "Convolution for MNIST-1D", which reproduces figs. 10.7 and 10.8a): the default
MNIST-1D split (4000 train / 1000 test, data seed 42); the network of fig. 10.7 — three valid Conv1d layers with
15 channels, kernel 3 and stride 2, each followed by a ReLU (lengths 40 -> 19 -> 9 -> 4), then Linear(60, 10),
2,050 parameters (:class:`udl.models.MNIST1DCNN`); cross-entropy loss, SGD with learning rate 0.05 and momentum
0.9, StepLR(step 20, gamma 0.5), batch 100, 100 epochs. The notebook's initialization is kept as written: its
``weights_init`` gives the linear layer He-uniform weights and zero biases, and (matching ``nn.Linear`` only)
leaves the convolutions at torch's default.

Fig. 10.8b compares a fully connected network with the same hidden layers and hidden units per layer:
15 x 19 = 285, 15 x 9 = 135 and 15 x 4 = 60 units, i.e. an MLP 40-285-135-60-10 with 11,685 + 38,610 + 8,160 +
610 = 59,065 parameters. It is trained with the same recipe (He initialization, ``udl.nn.MLP``; its He-normal
weights have the notebook's He-uniform variance, 2 / fan_in).

Claims: the parameter counts (exact); the convolutional network's test accuracy is higher than the fully
connected network's (mean over ``seeds`` runs: different initializations and batch orders, same data); and it
reaches the 94% that the MNIST-1D benchmark (Greydanus, 2020, Table 1) lists for a CNN, within 3 points. That
table's CNN is a larger network trained with a different recipe; this check measures how close the book's
2,050-parameter network, trained as in the notebook, comes to it. We do not tune the recipe to close the gap.

What we measured (full preset, 10 seeds): the CNN reaches 90.0 ± 0.4% test accuracy and the fully connected
network 69.0 ± 0.9%, so the comparison of fig. 10.8 holds by 21 points; the CNN stays 4 points short of the
benchmark's 94%, so that claim fails (holds=False) with the notebook's recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.models import MNIST1DCNN
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots
from udl.train import classification_metrics, fit

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
TOLERANCE_POINTS = 3.0
"""The accuracy claim's tolerance, in percentage points."""
BOOK_PARAMETERS = {"cnn": 2050, "mlp": 59065}
"""Parameter counts of the two networks of UDL fig. 10.8."""


@dataclass(frozen=True)
class Config:
    epochs: int = 100
    """passes over the training set (notebook 10.2: 100)"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 0.05
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    step_size: int = 20
    """StepLR: epochs between learning-rate halvings"""
    gamma: float = 0.5
    """StepLR: multiplicative decay"""
    init: Literal["notebook", "he", "torch"] = "notebook"
    """CNN initialization: 'notebook' (He for the linear layer, torch default for convolutions), 'he', 'torch'"""
    num_samples: int = 5000
    """MNIST-1D examples in all (train + test)"""
    train_split: float = 0.8
    """fraction of the examples used for training"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    checkpoint_every: int = 10
    """epochs between checkpoints"""
    seeds: int = 3
    """training runs per model (seeds seed, seed+1, ...); the claims use their mean test accuracy"""
    seed: int = 0
    """first seed for initialization and data order"""

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.step_size, self.checkpoint_every, self.seeds) < 1:
            raise ValueError("epochs, batch_size, step_size, checkpoint_every and seeds must be >= 1")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.gamma <= 0:
            raise ValueError("need lr > 0, 0 <= momentum < 1 and gamma > 0")
        if self.init not in ("notebook", "he", "torch"):
            raise ValueError(f"unknown init {self.init!r}; valid: notebook, he, torch")
        if not 0 < self.train_split < 1 or self.num_samples < 20:
            raise ValueError("need 0 < train_split < 1 and num_samples >= 20")


PRESETS = {
    "smoke": Config(epochs=2, num_samples=1000, checkpoint_every=1, seeds=1),
    # The notebook's full protocol (100 epochs), 3 seeds: about 60 s of single-threaded CPU.
    "quick": Config(),
    "full": Config(seeds=10),
}


def run(cfg: Config, run: Run) -> None:
    # -- data ------------------------------------------------------------------------------------------------
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split, seed=cfg.data_seed)
    )
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)  # (4000, 40), (4000,)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)  # (1000, 40), (1000,)

    def evaluate(model: nn.Module) -> dict[str, float]:
        train = classification_metrics(model, x_train, y_train)
        test = classification_metrics(model, x_test, y_test)
        return {"train_error": train["error"], "test_loss": test["loss"], "test_error": test["error"]}

    # -- the two models of fig. 10.8, same recipe, `seeds` runs each ---------------------------------------
    histories: dict[str, list[list[dict[str, float]]]] = {"cnn": [], "mlp": []}
    counts: dict[str, int] = {}
    first_kernels = torch.empty(0)
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        generator = torch.Generator().manual_seed(seed)
        # Built on the CPU, where the seeded CPU generator draws the initial weights, then moved.
        cnn = MNIST1DCNN(init=cfg.init, generator=generator).to(dev)
        # The fully connected network with the CNN's hidden units per layer: 40-285-135-60-10.
        mlp = MLP(x_train.shape[1], cnn.config.hidden_units, 10, init="he", generator=generator).to(dev)
        models: dict[str, nn.Module] = {"cnn": cnn, "mlp": mlp}
        for name, model in models.items():
            counts[name] = sum(p.numel() for p in model.parameters())
            optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
            result = fit(
                model,
                nn.functional.cross_entropy,
                optimizer,
                (x_train, y_train),
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                scheduler=scheduler,
                generator=generator,
                evaluate=evaluate,
                run=run,
                name=f"{name}_seed{seed}",
                checkpoint_every=cfg.checkpoint_every,
            )
            histories[name].append(result.history)
        if seed == cfg.seed:
            first_kernels = cast(nn.Conv1d, cnn.convs[0]).weight.detach().cpu().squeeze(1)  # (15, 3)

    # -- claims ---------------------------------------------------------------------------------------------
    per_seed = {name: [100.0 * (1.0 - h[-1]["test_error"]) for h in runs] for name, runs in histories.items()}
    accuracy = {name: sum(a) / len(a) for name, a in per_seed.items()}
    spread = {
        name: (sum((v - accuracy[name]) ** 2 for v in a) / max(1, len(a) - 1)) ** 0.5
        for name, a in per_seed.items()
    }
    measured = {
        name: {
            "mean": round(accuracy[name], 2),
            "std": round(spread[name], 2),
            "per_seed": [round(a, 2) for a in per_seed[name]],
        }
        for name in per_seed
    }
    run.claim(
        "parameter-counts",
        "The convolutional network of fig. 10.7 has 2,050 parameters; the fully connected network with the same "
        "hidden units per layer has 59,065",
        holds=counts == BOOK_PARAMETERS,
        measured=counts,
        expected=BOOK_PARAMETERS,
    )
    run.claim(
        "cnn-beats-mlp",
        "The convolutional network reaches a higher test accuracy than the fully connected network with ~29x "
        f"more parameters (fig. 10.8; mean of {cfg.seeds} runs)",
        holds=accuracy["cnn"] > accuracy["mlp"],
        measured={"cnn": measured["cnn"], "mlp": measured["mlp"]},
        expected="cnn mean > mlp mean",
    )
    low, high = PUBLISHED_CNN_ACCURACY - TOLERANCE_POINTS, PUBLISHED_CNN_ACCURACY + TOLERANCE_POINTS
    run.claim(
        "cnn-accuracy",
        f"The convolutional network reaches the {PUBLISHED_CNN_ACCURACY:.0f}% test accuracy the MNIST-1D "
        f"benchmark lists for a CNN, within {TOLERANCE_POINTS:.0f} points (mean of {cfg.seeds} runs; the "
        "benchmark's CNN is larger and trained differently)",
        holds=low <= accuracy["cnn"] <= high,
        measured=measured["cnn"],
        expected=f"{low:.0f}–{high:.0f}",
    )
    run.summary(
        cnn_test_accuracy=accuracy["cnn"],
        mlp_test_accuracy=accuracy["mlp"],
        cnn_test_accuracy_std=spread["cnn"],
        mlp_test_accuracy_std=spread["mlp"],
        cnn_parameters=counts["cnn"],
        mlp_parameters=counts["mlp"],
    )

    # -- figure: learning curves of both networks, as fig. 10.8 ---------------------------------------------
    fig, axes = subplots(1, 2, sharey=True)
    titles = {
        "cnn": f"a) Convolutional, {counts['cnn']:,} parameters",
        "mlp": f"b) Fully connected, {counts['mlp']:,} parameters",
    }
    for ax, (name, runs) in zip(axes[0], histories.items(), strict=True):
        for i, history in enumerate(runs):
            epochs = range(1, len(history) + 1)
            label = i == 0
            ax.plot(
                epochs,
                [100 * h["train_error"] for h in history],
                color="C0",
                alpha=0.7,
                label="train" if label else None,
            )
            ax.plot(
                epochs,
                [100 * h["test_error"] for h in history],
                color="C1",
                alpha=0.7,
                label="test" if label else None,
            )
        title = f"{titles[name]}\nmean final test error {100 - accuracy[name]:.1f}%"
        ax.set(xlabel="epoch", title=title, ylim=(0, 100))
    axes[0, 0].set(ylabel="error (%)")
    axes[0, 0].legend()
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
