"""The MNIST-1D benchmark table: logistic regression, MLP, CNN and GRU with the benchmark's own recipe.

Protocol (Greydanus, 2020, github.com/greydanus/mnist1d): the README's table reports test accuracies of 32%
(logistic regression), 68% (MLP), 94% (CNN) and 91% (GRU) on the default MNIST-1D data (4000 train / 1000 test,
generation seed 42). The models are the repository's ``notebooks/models.py`` (``udl.models.MNIST1DLogistic``,
``MNIST1DResMLP``, ``MNIST1DConvNet``, ``MNIST1DBiGRU``: same layers, forward passes, torch-default
initialization and parameter counts 410 / 15,210 / 5,210 / 5,134). Training follows ``notebooks/train.py``
(``get_model_args``: Adam, learning rate 1e-2, weight decay 0, batch 100, ``eval_every`` 250, cross-entropy) as
the benchmark notebook ``notebooks/mnist1d-classification.ipynb`` runs it: ``args.total_steps = 6000``
(``train.py``'s own default is 8000), so ``for step in range(total_steps + 1)`` takes 6001 Adam steps. The
batches are not shuffled: step s uses training rows ``(100 s) mod 4000`` onwards, so every run sees the same
batch sequence and seeds differ in the initialization only. The model is evaluated after the update of every
step with ``step % 250 == 0`` (0, 250, ..., 6000); the table's number is read as the accuracy at the last one.
The notebook trains one run per model (``set_seed(42)``); here ``seeds`` runs per model (seeds 42, 43, ...;
seed 42 is the notebook's initialization) are trained together as one stacked computation.

Not confirmed from the sources: whether the table reports the final or the best test accuracy of the curve
(the notebook's own printed run ends at 31.5 / 65.1 / 92.3 / 89.1%, below the table), and whether the mnist1d
package's ``make_dataset`` reproduces the published ``mnist1d_data.pkl`` that the notebook downloads bit for bit.

Claims: each model's seed-mean test accuracy lies within 2 seed standard deviations of the table's number, and the
table's ordering — CNN and GRU above the MLP, the MLP above logistic regression — holds paired by seed (mean
difference > 2 SE). The quick preset is the full protocol with 3 seeds instead of 5 (about two minutes on one
idle CPU thread). All seeds of a model train as one stacked computation (``udl.nn.StackedEnsemble``: ``vmap``
for the linear models; the GRU's own batched recurrence, about 2x faster than a loop over seeds; the CNN's
members one after another, since ``vmap``'s grouped convolution is no faster on CPU and rounds differently with
the number of seeds). A seed's float32 run is therefore bitwise the same whatever the number of seeds beside it,
except for the GRU, whose batched matrix products differ at rounding level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import MNIST1DConfig, load_mnist1d
from udl.errors import DivergenceError
from udl.experiments._recipes import seed_range
from udl.models import MNIST1DBiGRU, MNIST1DConvNet, MNIST1DLogistic, MNIST1DResMLP
from udl.nn import StackedEnsemble, count_parameters
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots
from udl.stats import Comparison, Verdict, all_of, mean_se, paired_difference, within_spread

CHAPTER = 8
SECTION = "8.1.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "The MNIST-1D benchmark table: logistic 32%, MLP 68%, CNN 94%, GRU 91% test accuracy (Adam, 6000 steps)"
)
CONTEXT = (
    "Section 8.1 introduces MNIST-1D, a small data set on which models differ: the benchmark that made it reports "
    "32% test accuracy for logistic regression, 68% for an MLP, 94% for a CNN and 91% for a GRU, the models with "
    "a spatial or sequential inductive bias well ahead of the fully connected one."
)

PUBLISHED_ACCURACY = {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0, "gru": 91.0}
"""Greydanus (2020), MNIST-1D README table, test accuracy in percent."""
PUBLISHED_PARAMETERS = {"logistic": 410, "mlp": 15210, "cnn": 5210, "gru": 5134}
"""parameter counts the benchmark prints when it builds LinearBase, MLPBase, ConvBase and GRUBase"""
MODELS: dict[str, tuple[str, Callable[..., nn.Module]]] = {
    "logistic": ("Logistic regression", MNIST1DLogistic),
    "mlp": ("The residual MLP 40-100-100-10", MNIST1DResMLP),
    "cnn": ("The CNN (3 conv layers, 25 channels)", MNIST1DConvNet),
    "gru": ("The bidirectional GRU (6 units per direction)", MNIST1DBiGRU),
}
ORDERING = (("cnn", "mlp"), ("gru", "mlp"), ("mlp", "logistic"))
"""the table's ordering as pairs (better, worse)"""


@dataclass(frozen=True)
class Config:
    steps: int = 6000
    """index of the last training step; steps 0..steps are taken, 6001 updates (benchmark notebook: 6000)"""
    eval_every: int = 250
    """evaluate after the update of every step divisible by this, and of the last (benchmark: 250)"""
    lr: float = 1e-2
    """Adam learning rate (benchmark: 1e-2; weight decay 0)"""
    batch_size: int = 100
    """mini-batch size; batches are consecutive rows of the training set, not shuffled (benchmark: 100)"""
    seeds: int = 5
    """runs per model (initialization seeds seed, seed+1, ...), paired by seed across models"""
    seed: int = 42
    """first initialization seed (the benchmark notebook's: 42)"""
    num_samples: int = 5000
    """MNIST-1D examples in all, train + test (the published set: 5000)"""
    train_split: float = 0.8
    """fraction of the examples used for training, in (0, 1)"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    checkpoint_every: int = 1000
    """training steps between checkpoints"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(self, 1, "steps", "eval_every", "seeds", "checkpoint_every")
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every must be in [1, steps={self.steps}], got {self.eval_every}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        n_train = self.mnist1d_config().num_train  # also checks num_samples, train_split and data_seed
        if not 1 <= self.batch_size <= n_train:
            raise ValueError(
                f"batch_size must be in [1, {n_train}] (the training set), got {self.batch_size}"
            )

    def mnist1d_config(self) -> MNIST1DConfig:
        return MNIST1DConfig(num_samples=self.num_samples, train_split=self.train_split, seed=self.data_seed)


PRESETS = {
    "smoke": Config(steps=20, eval_every=10, seeds=2, num_samples=600, checkpoint_every=10),
    "quick": Config(seeds=3),
    "full": Config(),
}


def accuracy_verdict(per_seed_accuracy: Sequence[float], published: float) -> Verdict:
    """Does the seed mean lie within 2 seed standard deviations of the published accuracy?"""
    return within_spread(per_seed_accuracy, published, k=2.0)


def ordering_verdict(accuracy: Mapping[str, Sequence[float]]) -> tuple[Verdict, dict[str, Comparison]]:
    """The table's ordering, CNN > MLP, GRU > MLP, MLP > logistic, each paired by seed with a 2 SE bar."""
    comparisons = {f"{a}>{b}": paired_difference(accuracy[a], accuracy[b]) for a, b in ORDERING}
    return all_of(*(c.verdict for c in comparisons.values())), comparisons


def _accuracy_and_loss(logits: Tensor, y: Tensor) -> tuple[list[float], list[float]]:
    """Per-member accuracy (%) and mean cross-entropy of stacked logits (M, N, C) against labels (N,)."""
    accuracy = 100.0 * (logits.argmax(-1) == y).double().mean(-1)
    loss = nn.functional.cross_entropy(logits.transpose(1, 2), y.expand(len(logits), -1), reduction="none")
    return accuracy.tolist(), loss.double().mean(-1).tolist()


def train_stacked(
    name: str, models: StackedEnsemble, cfg: Config, data: tuple[Tensor, ...], run: Run
) -> dict[str, list]:
    """The benchmark's loop for all seeds at once: Adam on the summed per-seed losses, consecutive batches,
    evaluation every ``eval_every`` steps; checkpointed under ``name`` and resumed from it."""
    x_train, y_train, x_test, y_test = data
    optimizer = Adam(models.parameters(), lr=cfg.lr)
    history: dict[str, list] = {"step": [], "test_accuracy": [], "train_accuracy": [], "test_loss": []}
    start = 0
    saved = run.load_state(name)
    if saved is not None:
        models.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        start, history = int(saved["next_step"]), {k: list(v) for k, v in saved["history"].items()}
    with run.progress(cfg.steps + 1, name) as bar:
        bar.update(start)
        for step in range(start, cfg.steps + 1):
            i = (step * cfg.batch_size) % len(x_train)
            xb, yb = x_train[i : i + cfg.batch_size], y_train[i : i + cfg.batch_size]
            logits = models(xb)  # (M, b, 10)
            # The sum of the members' mean losses: each member's slice gets its own loss's gradient.
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), yb.repeat(len(models)), reduction="sum")
            loss = loss / len(yb)
            if not bool(torch.isfinite(loss)):
                raise DivergenceError(f"{name} training loss", step, float(loss))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % cfg.eval_every == 0 or step == cfg.steps:
                with torch.no_grad():
                    test_acc, test_loss = _accuracy_and_loss(models(x_test), y_test)
                    train_acc, _ = _accuracy_and_loss(models(x_train), y_train)
                history["step"].append(step)
                history["test_accuracy"].append(test_acc)
                history["train_accuracy"].append(train_acc)
                history["test_loss"].append(test_loss)
                run.log(
                    step,
                    **{f"{name}/test_accuracy": test_acc, f"{name}/train_accuracy": train_acc},
                    **{f"{name}/test_loss": test_loss},
                )
                bar.update(
                    step + 1, loss=float(loss.detach()) / len(models), test_acc=sum(test_acc) / len(test_acc)
                )
            if (step + 1) % cfg.checkpoint_every == 0 or step == cfg.steps:
                state = {"model": models.state_dict(), "optimizer": optimizer.state_dict()}
                run.save_state(name, {**state, "next_step": step + 1, "history": history})
    return history


def run(cfg: Config, run: Run) -> None:
    # -- data: the default MNIST-1D split ----------------------------------------------------------------------
    mnist = load_mnist1d(cfg.mnist1d_config())
    dev = run.device
    data = tuple(t.to(dev) for t in (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test))
    seeds = seed_range(cfg)
    length = mnist.x_train.shape[1]

    # -- the four models, every seed of one model in one stacked computation -------------------------------
    histories: dict[str, dict[str, list]] = {}
    counts: dict[str, int] = {}
    batching_error = 0.0
    for name, (_, factory) in MODELS.items():
        members = [factory(length, generator=torch.Generator().manual_seed(s)) for s in seeds]
        counts[name] = count_parameters(members[0])
        models = StackedEnsemble(members).to(dev)
        histories[name] = train_stacked(name, models, cfg, data, run)
        with torch.no_grad():  # the stacked forward against member 0 evaluated on its own
            stacked, alone = models(data[2])[0], models.member(0)(data[2])
            batching_error = max(batching_error, float((stacked - alone).abs().max() / alone.abs().max()))

    # -- checks: the benchmark's architectures, and the stacked computation ---------------------------------
    if length == 40:  # the benchmark's input length (the GRU's linear layer depends on it)
        run.check(
            "benchmark-parameter-counts",
            "The four models have the parameter counts the benchmark prints (410, 15,210, 5,210, 5,134)",
            error=float(sum(abs(counts[k] - v) for k, v in PUBLISHED_PARAMETERS.items())),
            tolerance=0.0,
            measured=counts,
            expected=PUBLISHED_PARAMETERS,
        )
    run.check(
        "stacked-equals-alone",
        "The stacked (all-seeds) forward pass equals the first seed's model run alone, on the test set",
        error=batching_error,
        tolerance=1e-5,
        measured={"max_relative_difference": batching_error},
    )

    # -- claims ---------------------------------------------------------------------------------------------
    final = {name: h["test_accuracy"][-1] for name, h in histories.items()}
    for name, (label, _) in MODELS.items():
        published, spread = PUBLISHED_ACCURACY[name], mean_se(final[name])
        run.claim(
            f"{name}-accuracy",
            f"{label} reaches the benchmark's {published:.0f}% test accuracy: the mean over {cfg.seeds} seeds "
            f"after {cfg.steps} steps is within 2 seed s.d. of it",
            holds=accuracy_verdict(final[name], published),
            measured={**spread.to_json(), "per_seed": final[name]},
            expected=f"|mean − {published:.0f}| ≤ 2 sd",
        )
    verdict, comparisons = ordering_verdict(final)
    run.claim(
        "table-ordering",
        f"CNN and GRU beat the MLP, which beats logistic regression (test accuracy, paired by seed, {cfg.seeds} "
        "seeds, each mean difference > 2 SE)",
        holds=verdict,
        measured={k: {**c.to_json(), "text": c.describe("points")} for k, c in comparisons.items()},
        expected="each difference > 2 SE",
    )
    run.summary(**{f"{name}_test_accuracy": mean_se(acc).mean for name, acc in final.items()})

    # -- figures: the table as bars, and the test-accuracy curves --------------------------------------------
    fig, axes = subplots(1, 2, width=5.5)
    ax = axes[0, 0]
    spreads = [mean_se(final[name]) for name in MODELS]
    positions = torch.arange(len(MODELS), dtype=torch.float64)
    ax.bar(positions - 0.2, [s.mean for s in spreads], 0.4, yerr=[s.se for s in spreads], capsize=3,
           color=PALETTE[0], label=f"measured (mean ± SE, {cfg.seeds} seeds)")  # fmt: skip
    ax.bar(positions + 0.2, [PUBLISHED_ACCURACY[n] for n in MODELS], 0.4, color=PALETTE[5], label="published")
    ax.set_xticks(positions.tolist(), list(MODELS))
    ax.set(ylabel="test accuracy (%)", ylim=(0, 100), title=f"Test accuracy after {cfg.steps} steps")
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[0, 1]
    for color, (name, h) in zip(PALETTE, histories.items(), strict=False):
        curve = [mean_se(a) for a in h["test_accuracy"]]
        mean = torch.tensor([c.mean for c in curve])
        se = torch.tensor([c.se for c in curve]).nan_to_num(0.0)
        ax.plot(h["step"], mean, color=color, label=name)
        ax.fill_between(h["step"], mean - se, mean + se, color=color, alpha=0.25)
        ax.axhline(PUBLISHED_ACCURACY[name], color=color, linestyle="--", linewidth=0.8)
    ax.set(xlabel="training step", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.set_title("Test accuracy (mean ± SE; dashed: published)")
    integer_ticks(ax, "x")
    ax.legend(fontsize=8, loc="center right")
    run.figure("mnist1d-table", fig)
