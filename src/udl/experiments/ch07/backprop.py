"""Backpropagation (UDL chapter 7): udl's own numpy autograd engine trains an MLP exactly as torch does.

Protocol: the MNIST-1D default split; an MLP 40-100-100-10 with ReLU and He initialization built once in torch
(float64) and copied into ``udl.autograd.nn.MLP``; both trained by SGD with momentum on cross-entropy with the
same mini-batches in the same order (one permutation per epoch from a shared seed). The engine's backward pass is
section 7.4's algorithm: a forward pass that stores every intermediate, then the chain rule applied in reverse
topological order. If it is right, the two runs agree to floating-point rounding at every step.

Gradient check: at the initial weights, the engine's gradient of the loss on one batch is compared with torch's
and with central finite differences (ε = 1e-6) on ``fd_checks`` randomly chosen weights.

All three statements are exact properties of a correct engine (up to rounding and the finite differences'
truncation error), so they are checks, evaluated at every preset; the chapter makes no empirical claim here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from udl.autograd import Tensor, cross_entropy, no_grad
from udl.autograd.nn import MLP as EngineMLP
from udl.autograd.nn import SGD as EngineSGD
from udl.checks import at_least
from udl.data import MNIST1DConfig, load_mnist1d
from udl.nn import MLP
from udl.optim import SGD
from udl.report import Run
from udl.report.figures import integer_ticks, subplots

CHAPTER = 7
SECTION = "7.4"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "A from-scratch numpy backprop engine trains an MLP on MNIST-1D step for step like torch"
CONTEXT = (
    "Section 7.4 computes all derivatives of the loss in two passes: a forward pass that stores the "
    "pre-activations and activations, and a backward pass that applies the chain rule from the loss back to "
    "every weight, reusing each intermediate derivative."
)

TRAIN_SIZE = 4000
"""training examples of the default MNIST-1D split"""


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths"""
    epochs: int = 10
    """passes over the 4000 training examples"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 0.05
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    fd_checks: int = 200
    """weights checked by finite differences"""
    seed: int = 0
    """seed for initialization, batch order and the gradient check"""

    def __post_init__(self) -> None:
        at_least(self, 1, "epochs", "batch_size", "fd_checks")
        if self.batch_size > TRAIN_SIZE:
            raise ValueError(f"batch_size must be <= {TRAIN_SIZE} (the training set), got {self.batch_size}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of widths >= 1, got {self.hidden}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")


PRESETS = {
    "smoke": Config(hidden=(32,), epochs=1, fd_checks=20),
    "quick": Config(),
    "full": Config(epochs=50, fd_checks=1000),
}


def _engine_loss(model: EngineMLP, x: np.ndarray, y: np.ndarray) -> Tensor:
    return cross_entropy(model(Tensor(x)), y)


def run(cfg: Config, run: Run) -> None:
    data = load_mnist1d(MNIST1DConfig())
    x_train, y_train = data.x_train.double(), data.y_train
    x_test, y_test = data.x_test.double(), data.y_test
    xn_train, yn_train, xn_test = x_train.numpy(), y_train.numpy(), x_test.numpy()
    g = torch.Generator().manual_seed(cfg.seed)
    reference = MLP(40, cfg.hidden, 10, init="he", generator=g, dtype=torch.float64)
    engine = EngineMLP.from_state(
        [
            (w.detach().numpy(), b.detach().numpy())
            for w, b in zip(reference.omegas, reference.betas, strict=True)
        ]
    )

    # -- gradient check at the initial weights ------------------------------------------------------------------
    xb, yb = xn_train[: cfg.batch_size], yn_train[: cfg.batch_size]
    loss = _engine_loss(engine, xb, yb)
    loss.backward()
    engine_grads = [p.grad.copy() for p in engine.parameters() if p.grad is not None]
    engine.zero_grad()
    torch_loss = nn.functional.cross_entropy(reference(x_train[: cfg.batch_size]), y_train[: cfg.batch_size])
    torch_grads = torch.autograd.grad(
        torch_loss, [t for w, b in zip(reference.omegas, reference.betas, strict=True) for t in (w, b)]
    )
    flat_engine = np.concatenate([gr.ravel() for gr in engine_grads])
    flat_torch = np.concatenate([gr.numpy().ravel() for gr in torch_grads])
    torch_error = float(np.abs(flat_engine - flat_torch).max() / np.abs(flat_torch).max())
    rng = np.random.default_rng(cfg.seed)
    params = engine.parameters()
    sizes = np.array([p.data.size for p in params])
    picks = rng.choice(sizes.sum(), size=min(cfg.fd_checks, int(sizes.sum())), replace=False)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    eps = 1e-6
    finite_differences = []
    with no_grad():
        for flat in picks:
            k = int(np.searchsorted(offsets, flat, side="right") - 1)
            where = np.unravel_index(int(flat - offsets[k]), params[k].data.shape)
            original = params[k].data[where]
            params[k].data[where] = original + eps
            up = float(_engine_loss(engine, xb, yb).item())
            params[k].data[where] = original - eps
            down = float(_engine_loss(engine, xb, yb).item())
            params[k].data[where] = original
            finite_differences.append((up - down) / (2 * eps))
    fd = np.array(finite_differences)
    analytic = flat_engine[picks]
    fd_error = float(np.abs(fd - analytic).max() / max(np.abs(analytic).max(), 1e-12))
    run.check(
        "gradients-match-torch",
        "Backpropagation gives the exact gradient: the engine's gradient of a batch loss agrees with "
        "torch.autograd's to rounding (max relative difference)",
        error=torch_error,
        tolerance=1e-12,
    )
    run.check(
        "gradients-match-finite-differences",
        f"The engine's gradient agrees with central finite differences (ε = {eps:g}) to their truncation error, "
        f"on {len(picks)} random weights",
        error=fd_error,
        tolerance=1e-6,
    )

    # -- training, step for step ----------------------------------------------------------------------------------
    torch_opt = SGD(reference.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    engine_opt = EngineSGD(engine.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    order = torch.Generator().manual_seed(cfg.seed + 1)
    history = []
    with run.progress(cfg.epochs, "engine and torch") as bar:
        for epoch in range(cfg.epochs):
            perm = torch.randperm(len(x_train), generator=order)
            for i in range(0, len(perm), cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                torch_opt.zero_grad()
                nn.functional.cross_entropy(reference(x_train[idx]), y_train[idx]).backward()
                torch_opt.step()
                engine_opt.zero_grad()
                _engine_loss(engine, xn_train[idx.numpy()], yn_train[idx.numpy()]).backward()
                engine_opt.step()
            with torch.no_grad(), no_grad():
                torch_pred = reference(x_test).argmax(1).numpy()
                engine_pred = engine(Tensor(xn_test)).data.argmax(1)
            difference = max(
                float(np.abs(p.data - t.detach().numpy()).max())
                for p, t in zip(
                    engine.parameters(),
                    [t for w, b in zip(reference.omegas, reference.betas, strict=True) for t in (w, b)],
                    strict=True,
                )
            )
            row = {
                "torch_test_accuracy": 100 * float((torch_pred == y_test.numpy()).mean()),
                "engine_test_accuracy": 100 * float((engine_pred == y_test.numpy()).mean()),
                "max_parameter_difference": difference,
            }
            history.append(row)
            run.log(epoch + 1, **row)
            bar.update(epoch + 1, engine=row["engine_test_accuracy"], torch=row["torch_test_accuracy"])
    final = history[-1]
    run.check(
        "engine-trains-like-torch",
        "Trained with the same initialization, batches and hyperparameters, the engine's MLP keeps weights equal "
        "to torch's to rounding (max absolute difference after the last epoch)",
        error=final["max_parameter_difference"],
        tolerance=1e-8,
        measured=final,
    )
    run.check(
        "engine-accuracy-equals-torch",
        "The engine's MLP reaches the same test accuracy as torch's at every epoch (largest difference, in points)",
        error=max(abs(h["engine_test_accuracy"] - h["torch_test_accuracy"]) for h in history),
        tolerance=0.0,
    )
    run.summary(
        engine_test_accuracy=final["engine_test_accuracy"], torch_test_accuracy=final["torch_test_accuracy"]
    )

    # -- figure ---------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.0)
    ax = axes[0, 0]
    epochs = range(1, len(history) + 1)
    ax.plot(epochs, [h["torch_test_accuracy"] for h in history], "o-", label="torch")
    ax.plot(epochs, [h["engine_test_accuracy"] for h in history], "x--", label="udl.autograd")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="MNIST-1D, same batches and initialization")
    integer_ticks(ax, "x")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.loglog(np.abs(fd) + 1e-16, np.abs(analytic) + 1e-16, ".", alpha=0.6)
    lim = (1e-16, float(max(np.abs(fd).max(), np.abs(analytic).max())) * 2)
    ax.plot(lim, lim, "k:", linewidth=1)
    ax.set(
        xlabel="|finite difference|",
        ylabel="|backprop gradient|",
        title=f"Gradient check, {len(picks)} weights",
        xlim=(1e-9, lim[1]),
        ylim=(1e-9, lim[1]),
    )
    run.figure("backprop", fig)
