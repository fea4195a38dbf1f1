"""Optimizers (UDL chapter 6): GD, SGD, momentum, Nesterov, RMSProp and Adam on the book's landscapes and MNIST-1D.

Protocol. Every optimizer is ``udl.optim``'s own implementation.

1. *Gabor model* (section 6.1.2, figs 6.4-6.6): f[x, φ] = sin(φ0 + 0.06 φ1 x) · exp(−(φ0 + 0.06 φ1 x)² / 32)
   fitted by least squares to ``gabor_points`` noisy samples. Its loss surface has several local minima; the
   figure shows every optimizer's path from the same start (SGD with minibatches of ``gabor_batch``).
2. *Badly scaled quadratic* L = ½(φ0² + κ φ1²), condition number κ = ``condition``: steps to reduce the loss by
   ``tolerance``, for GD with its best learning rate from a grid and for momentum with its best (learning rate,
   momentum) pair. Theory: GD needs O(κ) steps, heavy-ball momentum O(√κ).
3. *Saddle* L(φ) = mean_i [φ0² − φ1² + ½φ1⁴ + c_i φ1] with Σ c_i = 0: the full-batch gradient has no φ1
   component on the line φ1 = 0, so GD started there slides into the saddle at 0 and stalls (its gradient
   vanishes, L = 0), while minibatch SGD's noisy gradients push it off the line into a minimum (φ1 = ±1, L = −½).
   (In exact arithmetic GD never leaves the line; with a rounding error of 1e-17 in the gradient it would leave
   only after the saddle's instability had amplified it for hundreds of steps.)
4. *Scale invariance* (section 6.4): Adam's update m̂/√v̂ does not change when the gradients are multiplied by a
   constant, so Adam on c·L follows the same path as on L for any c > 0 (up to ε); SGD's steps scale with c.
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

from udl.data import MNIST1DConfig, load_mnist1d
from udl.nn import MLP
from udl.optim import SGD, Adam, AdamW, CosineDecay, RMSprop, WarmupThenDecay
from udl.report import Run
from udl.report.figures import PALETTE, subplots
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


@dataclass(frozen=True)
class Config:
    gabor_points: int = 28
    """data points of the Gabor model fit (the book's notebook uses 28)"""
    gabor_steps: int = 300
    """optimizer steps on the Gabor model"""
    gabor_batch: int = 5
    """SGD minibatch size on the Gabor model"""
    condition: float = 100.0
    """condition number κ of the quadratic"""
    tolerance: float = 1e-8
    """quadratic: the loss must fall to this fraction of its start"""
    max_steps: int = 5000
    """quadratic: give up after this many steps"""
    saddle_points: int = 64
    """data points c_i of the saddle problem"""
    saddle_steps: int = 400
    """optimizer steps on the saddle"""
    saddle_seeds: int = 5
    """SGD runs (different batch orders) on the saddle"""
    epochs: int = 30
    """MNIST-1D epochs per optimizer"""
    warmup_epochs: int = 5
    """MNIST-1D linear warm-up length"""
    seed: int = 0
    """seed for data and batch order"""

    def __post_init__(self) -> None:
        if self.condition <= 1 or not 0 < self.tolerance < 1:
            raise ValueError("need condition > 1 and 0 < tolerance < 1")
        if min(self.gabor_points, self.gabor_steps, self.gabor_batch, self.max_steps) < 1:
            raise ValueError("gabor_points, gabor_steps, gabor_batch and max_steps must be >= 1")
        if min(self.saddle_points, self.saddle_steps, self.saddle_seeds, self.epochs) < 1:
            raise ValueError("saddle_points, saddle_steps, saddle_seeds and epochs must be >= 1")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}")


PRESETS = {
    "smoke": Config(
        gabor_steps=30, max_steps=300, saddle_steps=100, saddle_seeds=2, epochs=2, warmup_epochs=1
    ),
    "quick": Config(),
    "full": Config(gabor_steps=1000, saddle_seeds=20, epochs=50, warmup_epochs=5),
}


# -- the landscapes -----------------------------------------------------------------------------------------
def gabor(x: Tensor, phi: Tensor) -> Tensor:
    """The book's Gabor model, f[x, φ] = sin(φ0 + 0.06 φ1 x) exp(−(φ0 + 0.06 φ1 x)² / 32)."""
    z = phi[..., :1] + 0.06 * phi[..., 1:2] * x
    return torch.sin(z) * torch.exp(-(z**2) / 32.0)


def optimize(
    name: str,
    start: Tensor,
    loss: Callable[[Tensor, int], Tensor],
    steps: int,
    lr: float,
    **overrides: Any,
) -> Tensor:
    """Run optimizer ``name`` from ``start`` for ``steps`` steps; ``loss(phi, step)`` may use minibatches.

    Returns the path, (steps + 1, P).
    """
    cls, kwargs = OPTIMIZERS["gd" if name == "sgd" else name]
    phi = start.clone().requires_grad_()
    opt = cls([phi], lr=lr, **{**kwargs, **overrides})
    path = [phi.detach().clone()]
    for step in range(steps):
        opt.zero_grad()
        loss(phi, step).backward()
        opt.step()
        path.append(phi.detach().clone())
    return torch.stack(path)


def steps_to_tolerance(path_losses: Tensor, tolerance: float) -> int | None:
    """First step at which the loss is at most ``tolerance`` times the first; None if never (or diverged)."""
    ok = (path_losses <= tolerance * path_losses[0]).nonzero()
    return int(ok[0]) if len(ok) else None


def _quadratic_steps(cfg: Config, lr: float, momentum: float = 0.0) -> int | None:
    scales = torch.tensor([1.0, cfg.condition], dtype=torch.float64)
    phi = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SGD([phi], lr=lr, momentum=momentum)
    first = None
    for step in range(cfg.max_steps + 1):
        loss = 0.5 * (scales * phi**2).sum()
        value = float(loss.detach())
        if first is None:
            first = value
        if not math.isfinite(value) or value > 1e6 * first:
            return None  # diverged
        if value <= cfg.tolerance * first:
            return step
        opt.zero_grad()
        loss.backward()
        opt.step()
    return None


def run(cfg: Config, run: Run) -> None:
    f64 = torch.float64
    generator = torch.Generator().manual_seed(cfg.seed)

    # -- 1. Gabor model ---------------------------------------------------------------------------------------
    true_phi = torch.tensor([0.0, 16.6], dtype=f64)
    x = (torch.rand(cfg.gabor_points, generator=generator, dtype=f64) * 30 - 15).unsqueeze(1)
    y = gabor(x, true_phi).squeeze(1) + 0.1 * torch.randn(cfg.gabor_points, generator=generator, dtype=f64)
    order = [torch.randperm(cfg.gabor_points, generator=generator) for _ in range(cfg.gabor_steps)]

    def gabor_loss(phi: Tensor, _: int) -> Tensor:
        return ((gabor(x, phi).squeeze(1) - y) ** 2).sum()

    def gabor_minibatch(phi: Tensor, step: int) -> Tensor:
        idx = order[step][: cfg.gabor_batch]
        return ((gabor(x[idx], phi).squeeze(1) - y[idx]) ** 2).sum() * (cfg.gabor_points / cfg.gabor_batch)

    start = torch.tensor([2.5, 20.0], dtype=f64)  # in the global minimum's valley, far up its slope
    gabor_lr = {"gd": 0.01, "sgd": 0.01, "momentum": 0.002, "nesterov": 0.002, "rmsprop": 0.05, "adam": 0.1}
    paths = {}
    for name, lr in gabor_lr.items():
        fn = gabor_minibatch if name == "sgd" else gabor_loss
        paths[name] = optimize(name, start, fn, cfg.gabor_steps, lr)
        run.log(0, **{f"gabor/{name}_final_loss": float(gabor_loss(paths[name][-1], 0))})

    # -- 2. badly scaled quadratic: best GD vs best momentum ---------------------------------------------------
    lrs = torch.logspace(-3, 0, 25).tolist()
    best_gd = min(((s, lr) for lr in lrs if (s := _quadratic_steps(cfg, lr)) is not None), default=None)
    best_momentum = min(
        (
            (s, lr, m)
            for lr in lrs
            for m in (0.5, 0.7, 0.8, 0.9, 0.95)
            if (s := _quadratic_steps(cfg, lr, m)) is not None
        ),
        default=None,
    )
    gd_steps = best_gd[0] if best_gd else None
    momentum_steps = best_momentum[0] if best_momentum else None
    run.claim(
        "momentum-beats-gd-when-ill-conditioned",
        f"On a badly scaled quadratic (κ = {cfg.condition:g}) momentum needs fewer steps than gradient descent, "
        "each with its best settings",
        holds=gd_steps is not None and momentum_steps is not None and momentum_steps < gd_steps,
        measured={
            "gd_steps": gd_steps,
            "gd_lr": best_gd[1] if best_gd else None,
            "momentum_steps": momentum_steps,
            "momentum_lr_beta": list(best_momentum[1:]) if best_momentum else None,
            "theory_gd": math.ceil(
                math.log(cfg.tolerance) / (2 * math.log((cfg.condition - 1) / (cfg.condition + 1)))
            ),
            "theory_momentum": math.ceil(
                math.log(cfg.tolerance)
                / (2 * math.log((math.sqrt(cfg.condition) - 1) / (math.sqrt(cfg.condition) + 1)))
            ),
        },
        expected="momentum_steps < gd_steps",
    )

    # -- 3. the saddle: GD stalls, SGD escapes -----------------------------------------------------------------
    c = torch.randn(cfg.saddle_points, generator=generator, dtype=f64)
    c = c - c.mean()  # Σ c_i = 0 exactly: no φ1 gradient on the line φ1 = 0

    def saddle(phi: Tensor, idx: Tensor | None = None) -> Tensor:
        surface = phi[0] ** 2 - phi[1] ** 2 + 0.5 * phi[1] ** 4
        if idx is None:
            # The full-batch mean of the c_i φ1 terms is exactly 0 (Σ c_i = 0); computing it in floating point
            # would leave a ~1e-17 residue that the saddle's instability amplifies (x1.1 per step).
            return surface
        return surface + c[idx].mean() * phi[1]

    saddle_start = torch.tensor([1.0, 0.0], dtype=f64)
    gd_path = optimize("gd", saddle_start, lambda p, _: saddle(p), cfg.saddle_steps, 0.05)
    gd_final = float(saddle(gd_path[-1]))
    gd_phi = gd_path[-1].clone().requires_grad_()
    saddle(gd_phi).backward()
    gd_grad = float(gd_phi.grad.norm()) if gd_phi.grad is not None else float("nan")
    sgd_finals, sgd_paths = [], []
    for s in range(cfg.saddle_seeds):
        g = torch.Generator().manual_seed(cfg.seed * 1000 + s)
        batches = [torch.randint(cfg.saddle_points, (4,), generator=g) for _ in range(cfg.saddle_steps)]

        def minibatch(p: Tensor, t: int, b: list[Tensor] = batches) -> Tensor:
            return saddle(p, b[t])

        path = optimize("sgd", saddle_start, minibatch, cfg.saddle_steps, 0.05)
        sgd_paths.append(path)
        sgd_finals.append(float(saddle(path[-1])))
    run.claim(
        "sgd-escapes-saddle",
        "Full-batch gradient descent stalls at a saddle point where SGD's noisy gradients escape to a minimum",
        holds=abs(gd_final) < 1e-6 and gd_grad < 1e-6 and max(sgd_finals) < -0.4,
        measured={"gd_final_loss": gd_final, "gd_gradient_norm": gd_grad, "sgd_final_losses": sgd_finals},
        expected="GD: loss ≈ 0 (saddle), gradient ≈ 0; every SGD run: loss < −0.4 (minimum −0.5)",
    )

    # -- 4. Adam is invariant to the gradients' scale; SGD is not -----------------------------------------------
    deviation = {}
    for name, lr in (("adam", 0.1), ("gd", 0.005)):
        reference = optimize(name, start, gabor_loss, 100, lr)
        worst = 0.0
        for scale in (1e-3, 1e3):

            def scaled_loss(p: Tensor, t: int, k: float = scale) -> Tensor:
                return k * gabor_loss(p, t)

            scaled = optimize(name, start, scaled_loss, 100, lr)
            finite = torch.isfinite(scaled).all()
            worst = max(worst, float((scaled - reference).abs().max()) if finite else float("inf"))
        deviation[name] = worst
    run.claim(
        "adam-scale-invariant",
        "Adam's steps do not depend on the scale of the loss: Adam on c·L follows the path it takes on L "
        "(c = 10⁻³ and 10³), while SGD's path changes",
        holds=deviation["adam"] < 1e-4 and deviation["gd"] > 1e-2,
        measured={"adam_max_deviation": deviation["adam"], "sgd_max_deviation": deviation["gd"]},
        expected="Adam < 1e-4, SGD > 1e-2",
    )

    # -- 5. MNIST-1D learning curves ----------------------------------------------------------------------------
    data = load_mnist1d(MNIST1DConfig())
    dev = run.device
    xtr, ytr, xte, yte = (t.to(dev) for t in (data.x_train, data.y_train, data.x_test, data.y_test))
    mnist_lr = {"gd": 0.05, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
    curves: dict[tuple[str, str], list[dict[str, float]]] = {}
    for schedule in ("cosine", "warmup"):
        for name, lr in mnist_lr.items():
            g = torch.Generator().manual_seed(cfg.seed)
            model = MLP(40, (100, 100), 10, init="he", generator=g).to(dev)
            cls, kwargs = OPTIMIZERS[name]
            opt = cls(model.parameters(), lr=lr, **kwargs)
            sched: torch.optim.lr_scheduler.LRScheduler
            if schedule == "warmup":
                sched = WarmupThenDecay(opt, warmup_steps=cfg.warmup_epochs, total_steps=cfg.epochs)
            else:
                sched = CosineDecay(opt, total_steps=cfg.epochs)
            result = fit(
                model,
                nn.functional.cross_entropy,
                opt,
                (xtr, ytr),
                epochs=cfg.epochs,
                batch_size=100,
                scheduler=sched,
                generator=g,
                evaluate=lambda m: {"test_error": classification_metrics(m, xte, yte)["error"]},
                run=run,
                name=f"mnist1d_{name}_{schedule}",
                checkpoint_every=cfg.epochs,
            )
            curves[(name, schedule)] = result.history
    run.summary(
        **{f"mnist1d_{n}_{s}_test_accuracy": 100 * (1 - h[-1]["test_error"]) for (n, s), h in curves.items()},
        gd_steps_quadratic=gd_steps,
        momentum_steps_quadratic=momentum_steps,
    )

    # -- figures ----------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    ax = axes[0, 0]
    g0 = torch.linspace(-10, 10, 121, dtype=f64)
    g1 = torch.linspace(2.5, 22.5, 121, dtype=f64)
    grid = torch.stack(torch.meshgrid(g0, g1, indexing="xy"), dim=-1).reshape(-1, 2)  # (G, 2)
    surface = ((gabor(x.T, grid) - y) ** 2).sum(-1)  # (G, N) residuals summed over the data
    ax.contourf(g0, g1, surface.reshape(121, 121).log(), levels=30, cmap="viridis")
    for i, (name, path) in enumerate(paths.items()):
        final = float(gabor_loss(path[-1], 0))
        ax.plot(
            path[:, 0],
            path[:, 1],
            "-",
            color=PALETTE[i % len(PALETTE)],
            linewidth=1.2,
            label=f"{name}: L = {final:.2f}",
        )
    ax.plot(*start.tolist(), "o", color="white")
    ax.set(
        xlabel="φ0", ylabel="φ1", title="Gabor model: log loss and paths", xlim=(-10, 10), ylim=(2.5, 22.5)
    )
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    grid_s = torch.linspace(-1.6, 1.6, 101, dtype=f64)
    p0, p1 = torch.meshgrid(grid_s, grid_s, indexing="xy")
    ax.contourf(p0, p1, p0**2 - p1**2 + 0.5 * p1**4, levels=30, cmap="viridis")
    ax.plot(gd_path[:, 0], gd_path[:, 1], "-", color="white", linewidth=2, label="GD (stalls at the saddle)")
    for i, path in enumerate(sgd_paths[:3]):
        ax.plot(
            path[:, 0], path[:, 1], "-", color=PALETTE[(i + 1) % len(PALETTE)], linewidth=1, label=f"SGD {i}"
        )
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
        ax.set(
            xlabel="epoch", ylabel="train loss (—), test error (--)", title=f"MNIST-1D, {title}", yscale="log"
        )
    axes[0, 1].legend(fontsize=7)
    run.figure("mnist1d-curves", fig)
