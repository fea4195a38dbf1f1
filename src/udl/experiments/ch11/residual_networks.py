"""Residual networks train where deep plain networks do not (UDL chapter 11, sections 11.1-11.4, fig. 11.2;
notebook 11.2's setting, deeper).

Protocol (notebook 11.2's recipe): MNIST-1D (4000 train / 1000 test, the published data set), networks of width
100 with He initialization (``udl.models.ResidualMLP``, biases 0), cross-entropy, SGD with learning rate 0.05 and
momentum 0.9, StepLR(20, 0.5), batch 100, ``epochs`` passes (notebook 11.2: 100), trained with
``udl.train.fit``. The variants, all with the book's order of operations (fig. 11.5b: a linear layer, then blocks
[BN] → ReLU → Linear, then [BN] → ReLU → Linear to the 10 outputs):

- ``shallow``: the plain network with ``shallow_blocks`` = 2 blocks, i.e. 3 hidden layers (notebook 11.2's
  network before adding residual connections);
- ``plain``: the plain network with ``blocks`` = 24 blocks, i.e. 25 hidden layers (exactly ``udl.nn.MLP``);
- ``plain-bn``: the same with batch norm before every ReLU;
- ``residual``: the deep network with skip connections h + f[h] around every block, no batch norm;
- ``residual-bn``: skip connections and batch norm first in every block (fig. 11.6, section 11.4).

For each seed, every deep variant starts from the same weights (the same generator seed; batch norm has no
random parameters), so the deep variants differ only in the skip connections and the batch norms.

Claims (final epoch, mean over the ``seeds`` runs; a network whose training diverges counts as training worse
than any that finished): the deep plain network trains worse than the shallow one, even on the
training set (the degradation of fig. 11.2: training error higher by at least ``margin``); the residual network
with batch norm trains well where the plain one of the same depth does not (training error lower by at least
``margin``, and a lower test error); batch norm alone does not do it (residual-bn's training error is also below
plain-bn's by ``margin``); and without batch norm the residual network's output variance at initialization is
at least 2^(K/2) times that with batch norm (it doubles at every block, section 11.4) and training with the same
recipe fails (diverges, or ends with a training error at least ``margin`` above residual-bn's). A divergence is
caught and recorded (the step it happened at), not raised.

Measured (this machine, CPU). Quick (20 epochs, 1 seed): every claim holds; training errors shallow 4.9%, plain
44.3%, plain-bn 47.0%, residual-bn 3.1% (test 36.0 / 53.8 / 54.1 / 35.1%); residual without BN diverges at step
2 (initial output variance 1.4e7 times residual-bn's). Full (notebook 11.2's 100 epochs, 3 seeds): the plain
25-layer network keeps training and ends at 24.3, 9.3 and 2.5% training error (mean 12.0%) against 0% for the
shallow and the residual-bn networks, so ``deep-plain-degrades`` and ``residual-trains-deep`` FAIL by the
20-point margin there (the gap in training error is 12 points), while its test error stays far worse (47.9%
against 32.6% shallow and 30.6% residual-bn). plain-bn (mean 26.1%) stays more than the margin above residual-bn
(that claim holds), and residual without BN diverges at step 2 in every seed. In short: with a long enough
budget the deep plain network's training is slow and erratic rather than stuck; the margin was set before the
full run and is not moved.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.errors import DivergenceError
from udl.models import ResidualMLP, ResidualMLPConfig
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.train import classification_metrics, fit

CHAPTER = 11
SECTION = "11.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "A 25-layer plain MLP trains badly on MNIST-1D; the same depth with residual connections + BN trains well"
)
CONTEXT = (
    "Section 11.1: adding layers to a plain network eventually makes it worse, even on the training data (fig. "
    "11.2, after He et al., 2016a), because deep plain networks are hard to train. Residual connections (section "
    "11.2) together with batch normalization (section 11.4), which stops the activations' variance from doubling "
    "at every block, make much deeper networks trainable."
)

VARIANTS = ("shallow", "plain", "plain-bn", "residual", "residual-bn")


@dataclass(frozen=True)
class Config:
    blocks: int = 24
    """blocks of the deep networks (hidden layers = blocks + 1)"""
    shallow_blocks: int = 2
    """blocks of the shallow plain network (notebook 11.2: 2, i.e. 3 hidden layers)"""
    width: int = 100
    """hidden units per layer (notebook 11.2: 100)"""
    variants: tuple[str, ...] = VARIANTS
    """networks to train: shallow, plain, plain-bn, residual, residual-bn (plain and residual-bn are required)"""
    epochs: int = 100
    """passes over the training set (notebook 11.2: 100)"""
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
    num_samples: int = 5000
    """MNIST-1D examples in all (train + test)"""
    train_split: float = 0.8
    """fraction of the examples used for training"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published data set)"""
    margin: float = 0.2
    """difference in final training error (a fraction) that counts as training clearly better or worse"""
    seeds: int = 3
    """training runs per variant (seeds seed, seed+1, ...); the claims use the mean"""
    checkpoint_every: int = 10
    """epochs between checkpoints"""
    seed: int = 0
    """first seed for initialization and data order"""

    def __post_init__(self) -> None:
        unknown = set(self.variants) - set(VARIANTS)
        if unknown or not {"plain", "residual-bn"} <= set(self.variants):
            raise ValueError(
                f"variants must be among {', '.join(VARIANTS)} and include plain and residual-bn, "
                f"got {self.variants}"
            )
        if self.blocks < 1 or not 0 <= self.shallow_blocks < self.blocks or self.width < 1:
            raise ValueError("need blocks >= 1, 0 <= shallow_blocks < blocks and width >= 1")
        if min(self.epochs, self.batch_size, self.step_size, self.seeds, self.checkpoint_every) < 1:
            raise ValueError("epochs, batch_size, step_size, seeds and checkpoint_every must be >= 1")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.gamma <= 0 or not 0 < self.margin < 1:
            raise ValueError("need lr > 0, 0 <= momentum < 1, gamma > 0 and 0 < margin < 1")
        if not 0 < self.train_split < 1 or self.num_samples < 100:
            raise ValueError("need 0 < train_split < 1 and num_samples >= 100")


PRESETS = {
    "smoke": Config(blocks=4, width=16, epochs=2, num_samples=600, seeds=1, checkpoint_every=1),
    "quick": Config(epochs=20, seeds=1),
    "full": Config(),
}


def network_config(variant: str, cfg: Config, in_features: int) -> ResidualMLPConfig:
    return ResidualMLPConfig(
        in_features,
        10,
        width=cfg.width,
        depth=cfg.shallow_blocks if variant == "shallow" else cfg.blocks,
        residual=variant.startswith("residual"),
        batchnorm=variant.endswith("-bn"),
    )


def run(cfg: Config, run: Run) -> None:
    # -- data --------------------------------------------------------------------------------------------------
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split, seed=cfg.data_seed)
    )
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)

    def evaluate(model: nn.Module) -> dict[str, float]:
        train = classification_metrics(model, x_train, y_train)
        test = classification_metrics(model, x_test, y_test)
        return {"train_error": train["error"], "test_loss": test["loss"], "test_error": test["error"]}

    # -- train every variant, `seeds` runs each ----------------------------------------------------------------
    histories: dict[str, list[list[dict[str, float]]]] = {v: [] for v in cfg.variants}
    diverged: dict[str, list[int | None]] = {v: [] for v in cfg.variants}
    init_variance: dict[str, list[float]] = {v: [] for v in cfg.variants}
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        for variant in cfg.variants:
            net_cfg = network_config(variant, cfg, x_train.shape[1])
            model = ResidualMLP(net_cfg, generator=torch.Generator().manual_seed(seed)).to(dev)
            with (
                torch.no_grad()
            ):  # output variance at initialization (a copy, so the BN statistics stay fresh)
                init_variance[variant].append(float(copy.deepcopy(model).train()(x_train[:1000]).var()))
            generator = torch.Generator().manual_seed(seed)  # the data order, shared by the variants
            optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
            try:
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
                    name=f"{variant}_seed{seed}",
                    checkpoint_every=cfg.checkpoint_every,
                )
                histories[variant].append(result.history)
                diverged[variant].append(None)
            except DivergenceError as error:  # the outcome, not a crash: recorded and claimed on
                histories[variant].append([])
                diverged[variant].append(error.step)

    # -- claims -------------------------------------------------------------------------------------------------
    def final(variant: str, metric: str) -> float | None:
        """Mean over the runs that finished of the last epoch's metric; None if every run diverged."""
        values = [h[-1][metric] for h in histories[variant] if h]
        return sum(values) / len(values) if values else None

    def errors(variant: str) -> dict[str, float | int | None]:
        train, test = final(variant, "train_error"), final(variant, "test_error")
        return {
            "train": None if train is None else round(train, 4),
            "test": None if test is None else round(test, 4),
            "diverged_runs": sum(step is not None for step in diverged[variant]),
        }

    def worse(a: str, b: str, metric: str, margin: float) -> bool:
        """a's final error exceeds b's by at least ``margin`` (> for margin 0), or a diverged and b did not."""
        fa, fb = final(a, metric), final(b, metric)
        if fb is None or any(step is not None for step in diverged[b]):
            return False
        if fa is None or any(step is not None for step in diverged[a]):
            return True
        return fa >= fb + margin if margin > 0 else fa > fb

    deep = cfg.blocks + 1
    if "shallow" in cfg.variants:
        run.claim(
            "deep-plain-degrades",
            f"Adding layers to a plain network makes it worse even on the training data: {deep} hidden layers "
            f"train worse than {cfg.shallow_blocks + 1} in the same budget",
            holds=worse("plain", "shallow", "train_error", cfg.margin),
            measured={"plain_deep": errors("plain"), "plain_shallow": errors("shallow")},
            expected=f"deep train error ≥ shallow + {cfg.margin:g}",
        )
    run.claim(
        "residual-trains-deep",
        f"With residual connections and batch norm a {deep}-layer network trains well where the plain network of "
        "the same depth does not",
        holds=worse("plain", "residual-bn", "train_error", cfg.margin)
        and worse("plain", "residual-bn", "test_error", 0.0),
        measured={"residual_bn": errors("residual-bn"), "plain": errors("plain")},
        expected=f"train error lower by ≥ {cfg.margin:g}, test error lower",
    )
    if "plain-bn" in cfg.variants:
        run.claim(
            "skips-not-bn-make-the-difference",
            "Batch norm alone does not make the deep plain network trainable: the skip connections do",
            holds=worse("plain-bn", "residual-bn", "train_error", cfg.margin),
            measured={"residual_bn": errors("residual-bn"), "plain_bn": errors("plain-bn")},
            expected=f"residual-bn train error lower than plain-bn's by ≥ {cfg.margin:g}",
        )
    if "residual" in cfg.variants:
        ratio = sum(init_variance["residual"]) / sum(init_variance["residual-bn"])
        run.claim(
            "residual-without-bn-explodes",
            f"Without batch norm the residual network's variance doubles at every block, so its outputs at "
            f"initialization are orders of magnitude larger (at least 2^{cfg.blocks / 2:g} times) and training "
            "with the same recipe fails",
            holds=worse("residual", "residual-bn", "train_error", cfg.margin)
            and ratio >= 2.0 ** (cfg.blocks / 2),
            measured={
                "init_output_variance_ratio_vs_bn": ratio,
                "diverged_at_step": diverged["residual"],
                "errors": errors("residual"),
            },
            expected=f"variance ratio ≥ 2^{cfg.blocks / 2:g}; diverges or trains ≥ {cfg.margin:g} worse",
        )
    run.summary(
        **{f"{v}_train_error": final(v, "train_error") for v in cfg.variants},
        **{f"{v}_test_error": final(v, "test_error") for v in cfg.variants},
        **{f"{v}_diverged_runs": sum(step is not None for step in diverged[v]) for v in cfg.variants},
        **{f"{v}_init_output_variance": sum(init_variance[v]) / cfg.seeds for v in cfg.variants},
    )

    # -- figure: learning curves (first seed) --------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    for j, variant in enumerate(cfg.variants):
        history = histories[variant][0]
        color = PALETTE[j % len(PALETTE)]
        if not history:
            axes[0, 0].plot([], [], color=color, label=f"{variant}: diverged at step {diverged[variant][0]}")
            continue
        epochs = range(1, len(history) + 1)
        axes[0, 0].plot(epochs, [100 * h["train_error"] for h in history], color=color, label=variant)
        axes[0, 1].plot(epochs, [100 * h["test_error"] for h in history], color=color, label=variant)
    axes[0, 0].set(
        xlabel="epoch", ylabel="training error (%)", title=f"Training error (seed {cfg.seed})", ylim=(0, 100)
    )
    axes[0, 1].set(xlabel="epoch", ylabel="test error (%)", title="Test error", ylim=(0, 100))
    axes[0, 0].legend(fontsize=7)
    run.figure("learning-curves", fig)
