"""Optimizers (UDL chapter 6): GD, SGD, momentum, Nesterov, RMSProp and Adam on the book's landscapes and MNIST-1D.

Protocol. Every optimizer is ``udl.optim``'s own implementation.

1. *Gabor model* (section 6.1.2, figs 6.4-6.6): f[x, φ] = sin(φ0 + 0.06 φ1 x) · exp(−(φ0 + 0.06 φ1 x)² / 32)
   fitted by least squares to ``gabor_points`` noisy samples. Its loss surface has several local minima; the
   figure shows every optimizer's path from the same start (SGD with minibatches of ``gabor_batch``).
2. *Badly scaled quadratic* L = ½(φ0² + κ φ1²), condition number κ = ``condition``: steps to reduce the loss by
   ``tolerance``, for GD with its best learning rate from a grid and for momentum with its best (learning rate,
   momentum) pair. Theory: GD needs O(κ) steps, heavy-ball momentum O(√κ).
3. *Saddle* (section 6.2): L(φ) = mean_i [φ0² − φ1² + ½φ1⁴ + c_i φ1], c_i centred: a saddle at the origin
   (stable along φ0, unstable along φ1) and minima φ1 = ±1 (L = −½). GD and SGD (``saddle_batch`` points per
   step) start at (1, ``saddle_offset``), slightly off the stable line φ1 = 0; we count the steps until the
   full-batch loss is halfway to the minimum (L < −¼). GD can leave (its φ1-gradient −2φ1 ≠ 0) but lingers, the
   offset growing by 1 + 2α per step; SGD's noise kicks it off. Seed s draws the c_i and the batches (paired).
   Protocol changed after review: the saddle used to drop the c̄·φ1 term and start GD at φ1 = 0 exactly, where
   its φ1-gradient is 0, so "GD stalls" could not fail.
4. *Scale invariance* (section 6.4): Adam's update m̂/√v̂ does not change when the gradients are multiplied by a
   constant, so Adam on c·L follows the same path as on L for any c > 0 (up to ε): an exact property, a check.
5. *MNIST-1D*: learning curves of every optimizer (40-100-100-10 MLP, He init), with cosine decay and with a
   linear warm-up before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import MNIST1DConfig, load_mnist1d
from udl.functional import gabor_model, saddle_loss
from udl.nn import MLP
from udl.optim import (
    SGD,
    Adam,
    AdamW,
    CosineDecay,
    RMSprop,
    WarmupThenDecay,
    first_step_below,
    optimizer_path,
    steps_to_tolerance,
)
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots
from udl.stats import Verdict, paired_difference
from udl.train import classification_metrics, fit

CHAPTER = 6
SECTION = "6.3"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "GD, SGD, momentum, Nesterov, RMSProp and Adam on the book's landscapes and on MNIST-1D"
CONTEXT = (
    "Chapter 6 fits models by following the gradient. Stochastic gradients add noise that can escape saddle "
    "points and poor minima; momentum smooths the path and speeds progress along shallow valleys of badly "
    "scaled problems; Adam normalizes each gradient component by its running magnitude, so its steps do not "
    "depend on the gradients' scale."
)

OPTIMIZERS: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]] = {
    "gd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "adamw": (AdamW, {"weight_decay": 1e-2}),
}
"""Name -> (udl.optim class, extra arguments). "gd" is SGD on full batches; "sgd" adds minibatches."""

SADDLE_LR = 0.05
"""step size of GD and SGD on the saddle"""
SADDLE_LEVEL = -0.25
"""the saddle is left when the full-batch loss is below this, halfway from the saddle (0) to the minima (−½)"""


@dataclass(frozen=True)
class Config:
    gabor_points: int = 28
    """data points of the Gabor model fit (the book's notebook uses 28)"""
    gabor_steps: int = 300
    """optimizer steps on the Gabor model"""
    gabor_batch: int = 5
    """SGD minibatch size on the Gabor model (1..gabor_points)"""
    condition: float = 100.0
    """condition number κ of the quadratic (> 1)"""
    tolerance: float = 1e-8
    """quadratic: the loss must fall to this fraction of its start, in (0, 1)"""
    max_steps: int = 5000
    """quadratic: give up after this many steps"""
    saddle_points: int = 64
    """data points c_i of the saddle problem (>= 2)"""
    saddle_batch: int = 4
    """SGD minibatch size on the saddle (1..saddle_points)"""
    saddle_offset: float = 1e-4
    """starting φ1 on the saddle: how far off the stable line φ1 = 0, in (0, 0.1]"""
    saddle_steps: int = 400
    """optimizer steps on the saddle"""
    saddle_seeds: int = 5
    """saddle runs (seeds: data c_i and SGD batch order), GD and SGD paired by seed"""
    epochs: int = 30
    """MNIST-1D epochs per optimizer"""
    warmup_epochs: int = 5
    """MNIST-1D linear warm-up length, in [0, epochs)"""
    seed: int = 0
    """seed for data and batch order"""

    def __post_init__(self) -> None:
        in_range(self, closed_low=True, condition=(1, 1e6))
        if not self.condition > 1:
            raise ValueError(f"condition must be > 1, got {self.condition}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {self.tolerance}")
        at_least(
            self, 1, "gabor_points", "gabor_steps", "max_steps", "saddle_steps", "saddle_seeds", "epochs"
        )
        for batch, points in (("gabor_batch", "gabor_points"), ("saddle_batch", "saddle_points")):
            if not 1 <= getattr(self, batch) <= getattr(self, points):
                raise ValueError(f"{batch} must be in [1, {points}], got {getattr(self, batch)}")
        at_least(self, 2, "saddle_points")
        if not 0 < self.saddle_offset <= 0.1:
            raise ValueError(f"saddle_offset must be in (0, 0.1], got {self.saddle_offset}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}), got {self.warmup_epochs}")


PRESETS = {
    "smoke": Config(
        gabor_steps=30, max_steps=300, saddle_steps=100, saddle_seeds=2, epochs=2, warmup_epochs=1
    ),
    "quick": Config(),
    "full": Config(gabor_steps=1000, saddle_seeds=20, epochs=50, warmup_epochs=5),
}


def optimize(name: str, start: Tensor, loss: Callable[..., Tensor], steps: int, lr: float) -> Tensor:
    """The path (steps + 1, P) of optimizer ``name`` ("sgd" is "gd" on a minibatch ``loss``)."""
    cls, kwargs = OPTIMIZERS["gd" if name == "sgd" else name]
    return optimizer_path(cls, start, loss, steps, lr=lr, **kwargs)


def momentum_verdict(gd_steps: int | None, momentum_steps: int | None) -> bool:
    """Momentum needs fewer steps than GD (each tuned); False if either never reached the tolerance."""
    return gd_steps is not None and momentum_steps is not None and momentum_steps < gd_steps


def saddle_runs(cfg: Config, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """GD's and SGD's paths from (1, saddle_offset) on the c_i and batches ``seed`` draws, and the mean c̄."""
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(cfg.saddle_points, generator=g, dtype=torch.float64)
    c = c - c.mean()  # centred: the full-batch saddle sits at the origin
    batches = torch.randint(cfg.saddle_points, (cfg.saddle_steps, cfg.saddle_batch), generator=g)
    start, steps = torch.tensor([1.0, cfg.saddle_offset], dtype=torch.float64), cfg.saddle_steps
    gd = optimize("gd", start, lambda p, _: saddle_loss(p, c.mean()), steps, SADDLE_LR)
    sgd = optimize("sgd", start, lambda p, t: saddle_loss(p, c[batches[t]].mean()), steps, SADDLE_LR)
    return gd, sgd, c.mean()


def escape_step(losses: Tensor, level: float = SADDLE_LEVEL) -> int:
    """First step whose loss is below ``level``; ``len(losses)`` (censored) if the path never gets there."""
    step = first_step_below(losses, level)
    return len(losses) if step is None else step


def saddle_verdict(gd_escape: list[int], sgd_escape: list[int]) -> Verdict:
    """GD takes longer than SGD to leave the saddle: paired by seed, mean difference > 2 SE."""
    return paired_difference(gd_escape, sgd_escape).verdict


def run(cfg: Config, run: Run) -> None:
    f64 = torch.float64
    generator = torch.Generator().manual_seed(cfg.seed)

    # -- 1. Gabor model ---------------------------------------------------------------------------------------
    true_phi = torch.tensor([0.0, 16.6], dtype=f64)
    x = (torch.rand(cfg.gabor_points, generator=generator, dtype=f64) * 30 - 15).unsqueeze(1)
    noise = 0.1 * torch.randn(cfg.gabor_points, generator=generator, dtype=f64)
    y = gabor_model(x, true_phi).squeeze(1) + noise
    order = [torch.randperm(cfg.gabor_points, generator=generator) for _ in range(cfg.gabor_steps)]

    def gabor_loss(phi: Tensor, _: int) -> Tensor:
        return ((gabor_model(x, phi).squeeze(1) - y) ** 2).sum()

    def gabor_minibatch(phi: Tensor, step: int, scale: float = cfg.gabor_points / cfg.gabor_batch) -> Tensor:
        idx = order[step][: cfg.gabor_batch]
        return ((gabor_model(x[idx], phi).squeeze(1) - y[idx]) ** 2).sum() * scale

    start = torch.tensor([2.5, 20.0], dtype=f64)  # in the global minimum's valley, far up its slope
    gabor_lr = {"gd": 0.01, "sgd": 0.01, "momentum": 0.002, "nesterov": 0.002, "rmsprop": 0.05, "adam": 0.1}
    paths = {}
    for name, lr in gabor_lr.items():
        fn = gabor_minibatch if name == "sgd" else gabor_loss
        paths[name] = optimize(name, start, fn, cfg.gabor_steps, lr)
        run.log(0, **{f"gabor/{name}_final_loss": float(gabor_loss(paths[name][-1], 0))})

    # -- 2. badly scaled quadratic: best GD vs best momentum ---------------------------------------------------
    scales = torch.tensor([1.0, cfg.condition], dtype=f64)
    ones = torch.ones(2, dtype=f64)

    def quadratic_steps(lr: float, momentum: float = 0.0) -> int | None:
        quadratic = lambda p: 0.5 * (scales * p**2).sum()  # noqa: E731
        return steps_to_tolerance(
            SGD, ones, quadratic, cfg.tolerance, cfg.max_steps, lr=lr, momentum=momentum
        )

    lrs = torch.logspace(-3, 0, 25).tolist()
    best_gd = min(((s, lr) for lr in lrs if (s := quadratic_steps(lr)) is not None), default=None)
    betas = (0.5, 0.7, 0.8, 0.9, 0.95)
    best_momentum = min(
        ((s, lr, m) for lr in lrs for m in betas if (s := quadratic_steps(lr, m)) is not None), default=None
    )
    gd_steps = best_gd[0] if best_gd else None
    momentum_steps = best_momentum[0] if best_momentum else None
    root = math.sqrt(cfg.condition)
    rate = {"gd": (cfg.condition - 1) / (cfg.condition + 1), "momentum": (root - 1) / (root + 1)}
    run.claim(
        "momentum-beats-gd-when-ill-conditioned",
        f"On a badly scaled quadratic (κ = {cfg.condition:g}) momentum needs fewer steps than gradient descent, "
        "each with its best settings",
        holds=momentum_verdict(gd_steps, momentum_steps),
        measured={
            "gd_steps": gd_steps,
            "gd_lr": best_gd[1] if best_gd else None,
            "momentum_steps": momentum_steps,
            "momentum_lr_beta": list(best_momentum[1:]) if best_momentum else None,
            **{
                f"theory_{k}": math.ceil(math.log(cfg.tolerance) / (2 * math.log(r))) for k, r in rate.items()
            },
        },
        expected="momentum_steps < gd_steps",
    )

    # -- 3. the saddle: GD lingers, SGD escapes (paired by seed) -----------------------------------------------
    gd_escape, sgd_escape, saddle_paths = [], [], []
    for s in range(cfg.saddle_seeds):
        gd_path, sgd_path, c_bar = saddle_runs(cfg, cfg.seed * 1000 + s)
        gd_escape.append(escape_step(saddle_loss(gd_path.T, c_bar)))
        sgd_escape.append(escape_step(saddle_loss(sgd_path.T, c_bar)))
        saddle_paths.append((gd_path, sgd_path))
        run.log(s, saddle_gd_escape_step=gd_escape[-1], saddle_sgd_escape_step=sgd_escape[-1])
    saddle = paired_difference(gd_escape, sgd_escape)
    run.claim(
        "sgd-escapes-saddle",
        f"Full-batch gradient descent lingers near a saddle point longer than SGD, whose noisy gradients push "
        f"it off: steps until the loss is halfway to the minimum (paired, {cfg.saddle_seeds} seeds, mean diff "
        "> 2 SE)",
        holds=saddle_verdict(gd_escape, sgd_escape),
        measured={
            **saddle.to_json(),
            "difference": saddle.describe("steps"),
            "gd_escape_steps": gd_escape,
            "sgd_escape_steps": sgd_escape,
        },
        expected="GD's escape step − SGD's > 2 SE",
    )

    # -- 4. Adam is invariant to the gradients' scale; SGD is not -----------------------------------------------
    def path_deviation(name: str, lr: float) -> float:
        """Largest distance, over 100 steps, between the paths on c·L (c = 10⁻³, 10³) and on L."""
        reference, worst = optimize(name, start, gabor_loss, 100, lr), 0.0
        for k in (1e-3, 1e3):
            p = optimize(name, start, lambda phi, t, k=k: k * gabor_loss(phi, t), 100, lr)
            worst = max(worst, float((p - reference).abs().max()) if bool(p.isfinite().all()) else math.inf)
        return worst

    deviation = {name: path_deviation(name, lr) for name, lr in (("adam", 0.1), ("gd", 0.005))}
    run.check(
        "adam-scale-invariant",
        "Adam's steps do not depend on the scale of the loss: Adam on c·L follows the path it takes on L "
        "(c = 10⁻³ and 10³, 100 steps, up to its ε), while plain GD's path changes",
        error=deviation["adam"],
        tolerance=1e-4,
        measured={"adam_max_deviation": deviation["adam"], "gd_max_deviation": deviation["gd"]},
        expected="Adam's deviation ≤ 1e-4",
    )

    # -- 5. MNIST-1D learning curves ----------------------------------------------------------------------------
    data = load_mnist1d(MNIST1DConfig())
    dev = run.device
    xtr, ytr, xte, yte = (t.to(dev) for t in (data.x_train, data.y_train, data.x_test, data.y_test))
    mnist_lr = {"gd": 0.05, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
    curves: dict[tuple[str, str], list[dict[str, float]]] = {}
    evaluate = lambda m: {"test_error": classification_metrics(m, xte, yte)["error"]}  # noqa: E731
    loss_fn = nn.functional.cross_entropy
    for schedule in ("cosine", "warmup"):
        for name, lr in mnist_lr.items():
            g = torch.Generator().manual_seed(cfg.seed)
            model = MLP(40, (100, 100), 10, init="he", generator=g).to(dev)
            cls, kwargs = OPTIMIZERS[name]
            opt = cls(model.parameters(), lr=lr, **kwargs)
            sched: torch.optim.lr_scheduler.LRScheduler = (
                WarmupThenDecay(opt, warmup_steps=cfg.warmup_epochs, total_steps=cfg.epochs)
                if schedule == "warmup"
                else CosineDecay(opt, total_steps=cfg.epochs)
            )
            common: dict[str, Any] = dict(epochs=cfg.epochs, batch_size=100, generator=g, run=run)
            common.update(name=f"mnist1d_{name}_{schedule}", checkpoint_every=cfg.epochs)
            result = fit(model, loss_fn, opt, (xtr, ytr), scheduler=sched, evaluate=evaluate, **common)
            curves[(name, schedule)] = result.history
    accuracy = {
        f"mnist1d_{n}_{s}_test_accuracy": 100 * (1 - h[-1]["test_error"]) for (n, s), h in curves.items()
    }
    run.summary(**accuracy, gd_steps_quadratic=gd_steps, momentum_steps_quadratic=momentum_steps)

    # -- figures ----------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    ax = axes[0, 0]
    g0 = torch.linspace(-10, 10, 121, dtype=f64)
    g1 = torch.linspace(2.5, 22.5, 121, dtype=f64)
    grid = torch.stack(torch.meshgrid(g0, g1, indexing="xy"), dim=-1).reshape(-1, 2)  # (G, 2)
    surface = ((gabor_model(x.T, grid) - y) ** 2).sum(-1)  # (G, N) residuals summed over the data
    ax.contourf(g0, g1, surface.reshape(121, 121).log(), levels=30, cmap="viridis")
    for i, (name, path) in enumerate(paths.items()):
        label = f"{name}: L = {float(gabor_loss(path[-1], 0)):.2f}"
        ax.plot(path[:, 0], path[:, 1], "-", color=PALETTE[i % len(PALETTE)], linewidth=1.2, label=label)
    ax.plot(*start.tolist(), "o", color="white")
    ax.set(
        xlabel="φ0", ylabel="φ1", title="Gabor model: log loss and paths", xlim=(-10, 10), ylim=(2.5, 22.5)
    )
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    grid_s = torch.linspace(-1.6, 1.6, 101, dtype=f64)
    p0, p1 = torch.meshgrid(grid_s, grid_s, indexing="xy")
    ax.contourf(p0, p1, saddle_loss(torch.stack([p0, p1])), levels=30, cmap="viridis")
    for i, (gd_path, sgd_path) in enumerate(saddle_paths[:3]):
        color = PALETTE[(i + 1) % len(PALETTE)]
        ax.plot(gd_path[:, 0], gd_path[:, 1], "-", color="white", linewidth=2, label="GD" if i == 0 else None)
        ax.plot(sgd_path[:, 0], sgd_path[:, 1], "-", color=color, linewidth=1, label=f"SGD, seed {i}")
    ax.set(xlabel="φ0", ylabel="φ1", title="Saddle: φ0² − φ1² + φ1⁴/2")
    ax.legend(fontsize=7)
    run.figure("landscapes", fig)

    fig, axes = subplots(1, 2, width=5.2)
    for j, schedule in enumerate(("cosine", "warmup")):
        ax = axes[0, j]
        for i, name in enumerate(mnist_lr):
            history = curves[(name, schedule)]
            epochs = range(1, len(history) + 1)
            color = PALETTE[i % len(PALETTE)]
            ax.plot(epochs, [h["loss"] for h in history], "-", color=color, label=f"{name} train")
            ax.plot(epochs, [h["test_error"] for h in history], "--", color=color, alpha=0.6)
        title = "cosine decay" if schedule == "cosine" else f"{cfg.warmup_epochs}-epoch warm-up, then cosine"
        ax.set(xlabel="epoch", ylabel="train loss (—), test error (--)", title=f"MNIST-1D, {title}")
        ax.set_yscale("log")
        integer_ticks(ax, "x")
    axes[0, 1].legend(fontsize=7)
    run.figure("mnist1d-curves", fig)
