"""Adversarial examples and adversarial training on MNIST-1D (UDL section 9.3.4).

Protocol (ours; section 9.3.4 describes adversarial training without an experiment): the default MNIST-1D data
(4000 train / 1000 test); an MLP 40-100-100-10 with ReLU and He initialization trained with the notebook 8.1
recipe (SGD, learning rate 0.05, momentum 0.9, StepLR(10, 0.5), batch 100, 50 epochs, cross-entropy). Two
models per seed, from the same initialization and batch order:

- **standard**: trained on the clean signals;
- **adversarial**: every mini-batch is replaced by its PGD adversarial examples at ``train_eps``
  (``train_pgd_steps`` steps of size 2.5·ε/steps from a random start; Madry et al., 2018), i.e. it minimises the
  worst-case loss in the L∞ ball.

Both are attacked on the test set, for every ε in ``eval_eps``, by FGSM (``udl.functional.fgsm``), by PGD
(``udl.functional.pgd``, ``eval_pgd_steps`` steps of 2.5·ε/steps from a random start) and, for contrast, by a
random corner of the ball (each coordinate ±ε with a fair coin) — noise of the same L∞ size that is not
worst-case. MNIST-1D signals have standard deviation ≈ 1, so ε = 0.1 is a tenth of it.

Claims (means over ``seeds``): (1) the standard model's PGD accuracy falls monotonically as ε grows and at
``train_eps`` is below half its clean accuracy — small worst-case perturbations cause large changes of the
output; (2) the damage is due to the worst-case direction: random ±ε noise of the same size leaves the standard
model more accurate than PGD does; (3) adversarial training raises the PGD accuracy at ``train_eps`` (the clean
and robust accuracies of both models are reported; the usual cost in clean accuracy is reported, not claimed).

The adversarial model cannot go through ``udl.train.fit`` (the attack needs the labels inside the step), so
``train`` below is the same loop written out, with the same checkpoint/resume through ``run.save_state``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.errors import DivergenceError
from udl.functional import fgsm, pgd
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import PALETTE, subplots

CHAPTER = 9
SECTION = "9.3.4.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "FGSM/PGD attacks on an MNIST-1D MLP: accuracy collapses with ε; PGD adversarial training resists"
CONTEXT = (
    "Section 9.3.4: adversarial training is the extreme form of input noise — the optimization actively searches "
    "for small perturbations of the input that cause large changes to the output (worst-case additive noise) and "
    "trains on them. Small L∞ perturbations found by gradient ascent on the loss (FGSM, PGD) destroy a standard "
    "network's accuracy; training on them makes the network robust at that budget."
)


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    train_eps: float = 0.1
    """L∞ budget ε of adversarial training, and the ε of the robustness claims"""
    train_pgd_steps: int = 5
    """PGD steps per mini-batch in adversarial training (step size 2.5·ε/steps, random start)"""
    eval_eps: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    """L∞ budgets of the accuracy-vs-ε curves (must include 0 and train_eps)"""
    eval_pgd_steps: int = 20
    """PGD steps of the evaluation attack (step size 2.5·ε/steps, random start)"""
    epochs: int = 50
    """passes over the training set"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 0.05
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    step_size: int = 10
    """StepLR: epochs between learning-rate decays"""
    gamma: float = 0.5
    """StepLR: multiplicative decay"""
    num_samples: int = 5000
    """MNIST-1D examples in all (train + test)"""
    train_split: float = 0.8
    """fraction of the examples used for training"""
    data_seed: int = 42
    """MNIST-1D generation seed (42 is the published dataset)"""
    checkpoint_every: int = 10
    """epochs between checkpoints"""
    seeds: int = 2
    """paired runs (seeds seed, seed+1, ...); the claims use the mean over them"""
    seed: int = 0
    """first seed: initialization, batch order, PGD random starts"""

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.step_size, self.checkpoint_every, self.seeds) < 1:
            raise ValueError("epochs, batch_size, step_size, checkpoint_every and seeds must be >= 1")
        if min(self.train_pgd_steps, self.eval_pgd_steps) < 1:
            raise ValueError("train_pgd_steps and eval_pgd_steps must be >= 1")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.gamma <= 0:
            raise ValueError("need lr > 0, 0 <= momentum < 1 and gamma > 0")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")
        if not self.train_eps > 0:
            raise ValueError(f"train_eps must be > 0, got {self.train_eps}")
        eps = self.eval_eps
        if list(eps) != sorted(set(eps)) or eps[0] != 0 or self.train_eps not in eps:
            raise ValueError(
                f"eval_eps must be increasing, start at 0 and contain train_eps={self.train_eps}, got {eps}"
            )


PRESETS = {
    "smoke": Config(
        hidden=(32, 32),
        eval_eps=(0.0, 0.1, 0.3),
        train_pgd_steps=2,
        eval_pgd_steps=3,
        epochs=2,
        num_samples=1000,
        checkpoint_every=1,
        seeds=1,
    ),
    "quick": Config(),
    "full": Config(seeds=5, train_pgd_steps=10, eval_pgd_steps=50),
}


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    cfg: Config,
    *,
    adversarial: bool,
    generator: torch.Generator,
    evaluate: dict[str, tuple[Tensor, Tensor]],
    run: Run,
    name: str,
) -> list[dict[str, float]]:
    """Mini-batch SGD on (x, y) — on PGD adversarial examples of each batch when ``adversarial`` — with the
    notebook 8.1 recipe; checkpoints under ``name`` and resumes from there. ``generator`` (CPU) orders the
    batches and draws the PGD random starts. Returns per-epoch metrics."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    history: list[dict[str, float]] = []
    start, steps = 0, 0
    saved = run.load_state(name)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        start, steps = int(saved["epoch"]), int(saved["steps"])
        history = [dict(h) for h in saved["history"]]
    eps, k = cfg.train_eps, cfg.train_pgd_steps
    with run.progress(cfg.epochs, name) as bar:
        bar.update(start)
        for epoch in range(start, cfg.epochs):
            perm = torch.randperm(len(x), generator=generator).to(x.device)
            total = torch.zeros((), dtype=torch.float64, device=x.device)
            for i in range(0, len(x), cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                xb, yb = x[idx], y[idx]
                if adversarial:  # the inner maximisation: worst-case inputs in the ε-ball of this batch
                    xb = pgd(model, xb, yb, eps, alpha=2.5 * eps / k, steps=k, generator=generator)
                loss = nn.functional.cross_entropy(model(xb), yb)
                steps += 1
                if not bool(torch.isfinite(loss)):
                    raise DivergenceError(f"{name} training loss", steps, float(loss.detach()))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach()
            scheduler.step()
            metrics = {"loss": float(total) / -(-len(x) // cfg.batch_size)}
            for split, (xe, ye) in evaluate.items():
                metrics[f"{split}_error"] = 1.0 - accuracy(model, xe, ye)
                metrics[f"{split}_fgsm_error"] = 1.0 - accuracy(model, fgsm(model, xe, ye, eps), ye)
            history.append(metrics)
            run.log(epoch + 1, **{f"{name}/{k_}": v for k_, v in metrics.items()})
            bar.update(epoch + 1, loss=metrics["loss"])
            if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
                run.save_state(
                    name,
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "generator": generator.get_state(),
                        "epoch": epoch + 1,
                        "steps": steps,
                        "history": history,
                    },
                )
    return history


def run(cfg: Config, run: Run) -> None:
    # -- data ------------------------------------------------------------------------------------------------
    data = load_mnist1d(
        MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split, seed=cfg.data_seed)
    )
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)

    # -- standard and adversarial training, then attacks at every ε ---------------------------------------------
    kinds = ("standard", "adversarial")
    curves: dict[str, dict[str, list[list[float]]]] = {
        k: {"pgd": [], "fgsm": [], "random": []} for k in kinds
    }
    histories: dict[str, list[dict[str, float]]] = {}
    models: dict[str, nn.Module] = {}
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        for kind in kinds:
            generator = torch.Generator().manual_seed(seed)
            model = MLP(
                x_train.shape[1], cfg.hidden, 10, activation="relu", init="he", generator=generator
            ).to(dev)
            history = train(
                model,
                x_train,
                y_train,
                cfg,
                adversarial=kind == "adversarial",
                generator=generator,
                evaluate={"test": (x_test, y_test)},
                run=run,
                name=f"{kind}_seed{seed}",
            )
            model.eval()
            attack_generator = torch.Generator().manual_seed(10_000 + seed)
            pgd_acc: list[float] = []
            fgsm_acc: list[float] = []
            random_acc: list[float] = []
            for eps in cfg.eval_eps:
                if eps == 0:
                    clean = accuracy(model, x_test, y_test)
                    for acc in (pgd_acc, fgsm_acc, random_acc):
                        acc.append(clean)
                    continue
                k = cfg.eval_pgd_steps
                x_pgd = pgd(model, x_test, y_test, eps, 2.5 * eps / k, k, generator=attack_generator)
                signs = torch.randint(0, 2, x_test.shape, generator=attack_generator).to(dev) * 2.0 - 1.0
                pgd_acc.append(accuracy(model, x_pgd, y_test))
                fgsm_acc.append(accuracy(model, fgsm(model, x_test, y_test, eps), y_test))
                random_acc.append(accuracy(model, x_test + eps * signs, y_test))
            curves[kind]["pgd"].append(pgd_acc)
            curves[kind]["fgsm"].append(fgsm_acc)
            curves[kind]["random"].append(random_acc)
            for j, eps in enumerate(cfg.eval_eps):
                run.log(
                    j,
                    **{
                        f"{kind}_seed{seed}/eps": eps,
                        f"{kind}_seed{seed}/pgd_accuracy": pgd_acc[j],
                        f"{kind}_seed{seed}/fgsm_accuracy": fgsm_acc[j],
                        f"{kind}_seed{seed}/random_accuracy": random_acc[j],
                    },
                )
            if seed == cfg.seed:
                histories[kind], models[kind] = history, model

    # -- claims -----------------------------------------------------------------------------------------------
    def mean_curve(kind: str, attack: str) -> list[float]:
        per_seed = curves[kind][attack]
        return [sum(s[j] for s in per_seed) / len(per_seed) for j in range(len(cfg.eval_eps))]

    at = cfg.eval_eps.index(cfg.train_eps)
    std_pgd, std_fgsm, std_random = (mean_curve("standard", a) for a in ("pgd", "fgsm", "random"))
    adv_pgd, adv_fgsm = mean_curve("adversarial", "pgd"), mean_curve("adversarial", "fgsm")
    clean = std_pgd[0]
    monotone = all(b <= a for a, b in itertools.pairwise(std_pgd))
    run.claim(
        "accuracy-collapses-with-eps",
        f"Small worst-case perturbations destroy a standard network: its PGD accuracy falls monotonically as ε "
        f"grows, and at ε = {cfg.train_eps:g} (signal std ≈ 1) it is below half the clean accuracy",
        holds=monotone and std_pgd[at] < clean / 2,
        measured={
            "eps": list(cfg.eval_eps),
            "pgd_accuracy": [round(100 * a, 1) for a in std_pgd],
            "fgsm_accuracy": [round(100 * a, 1) for a in std_fgsm],
            "clean": round(100 * clean, 1),
        },
        expected=f"monotone; PGD accuracy at ε={cfg.train_eps:g} < {50 * clean:.1f}%",
    )
    run.claim(
        "worst-case-not-random",
        f"The damage comes from the worst-case direction: random ±ε noise of the same size (ε = {cfg.train_eps:g}) "
        f"leaves the standard network more accurate than PGD does",
        holds=std_random[at] > std_pgd[at],
        measured={
            "random_accuracy": round(100 * std_random[at], 1),
            "pgd_accuracy": round(100 * std_pgd[at], 1),
        },
        expected="random > PGD",
    )
    run.claim(
        "adversarial-training-is-robust",
        f"Adversarial training (PGD, ε = {cfg.train_eps:g}) raises the PGD accuracy at that ε",
        holds=adv_pgd[at] > std_pgd[at],
        measured={
            "standard_clean": round(100 * std_pgd[0], 1),
            "standard_robust": round(100 * std_pgd[at], 1),
            "adversarial_clean": round(100 * adv_pgd[0], 1),
            "adversarial_robust": round(100 * adv_pgd[at], 1),
            "adversarial_pgd_curve": [round(100 * a, 1) for a in adv_pgd],
        },
        expected="adversarial robust > standard robust",
    )
    run.summary(
        standard_clean_accuracy=std_pgd[0],
        standard_robust_accuracy=std_pgd[at],
        adversarial_clean_accuracy=adv_pgd[0],
        adversarial_robust_accuracy=adv_pgd[at],
        standard_fgsm_accuracy=std_fgsm[at],
        adversarial_fgsm_accuracy=adv_fgsm[at],
    )

    # -- figure 1: accuracy vs ε for both models ----------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    eps_axis = list(cfg.eval_eps)
    for kind, color in zip(kinds, PALETTE, strict=False):
        for attack, style in (("pgd", "o-"), ("fgsm", "s--"), ("random", ":")):
            axes[0, 0].plot(
                eps_axis,
                [100 * a for a in mean_curve(kind, attack)],
                style,
                color=color,
                label=f"{kind}, {attack}",
            )
    axes[0, 0].axvline(cfg.train_eps, color="gray", linewidth=0.8, linestyle=":")
    axes[0, 0].axhline(10, color="gray", linewidth=0.6, linestyle="--")
    axes[0, 0].set(
        xlabel="L∞ budget ε", ylabel="test accuracy (%)", ylim=(0, 100), title="Accuracy under attack"
    )
    axes[0, 0].legend(fontsize=7)
    for kind, color in zip(kinds, PALETTE, strict=False):
        epochs = range(1, len(histories[kind]) + 1)
        axes[0, 1].plot(
            epochs, [100 * h["test_error"] for h in histories[kind]], "-", color=color, label=f"{kind} clean"
        )
        axes[0, 1].plot(
            epochs,
            [100 * h["test_fgsm_error"] for h in histories[kind]],
            "--",
            color=color,
            label=f"{kind} FGSM",
        )
    axes[0, 1].set(xlabel="epoch", ylabel=f"test error (%), FGSM at ε={cfg.train_eps:g}", ylim=(0, 100))
    axes[0, 1].set_title(f"Training (seed {cfg.seed})")
    axes[0, 1].legend(fontsize=7)
    run.figure("accuracy-vs-eps", fig)

    # -- figure 2: one test signal, its PGD perturbation, and the predictions --------------------------------------
    standard = models["standard"]
    k = cfg.eval_pgd_steps
    eps = cfg.train_eps
    x_adv = pgd(
        standard, x_test, y_test, eps, 2.5 * eps / k, k, generator=torch.Generator().manual_seed(cfg.seed)
    )
    with torch.no_grad():
        p_clean, p_adv = torch.softmax(standard(x_test), 1), torch.softmax(standard(x_adv), 1)
    flipped = ((p_clean.argmax(1) == y_test) & (p_adv.argmax(1) != y_test)).nonzero().flatten()
    i = int(flipped[0]) if len(flipped) else 0
    t = data.t.numpy()
    fig, axes = subplots(2, 1, width=7.0, height=2.6)
    axes[0, 0].plot(
        t,
        x_test[i].cpu().numpy(),
        color="black",
        linewidth=2,
        label=(
            f"clean: predicted {int(p_clean[i].argmax())} ({100 * float(p_clean[i].max()):.0f}%), "
            f"label {int(y_test[i])}"
        ),
    )
    axes[0, 0].plot(
        t,
        x_adv[i].cpu().numpy(),
        color=PALETTE[3],
        linewidth=1.2,
        label=(f"PGD ε={eps:g}: predicted {int(p_adv[i].argmax())} ({100 * float(p_adv[i].max()):.0f}%)"),
    )
    axes[0, 0].set(ylabel="x", title="A test signal and its adversarial version (standard model)")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].bar(t, (x_adv[i] - x_test[i]).cpu().numpy(), width=0.2, color=PALETTE[3])
    axes[1, 0].set(xlabel="position", ylabel="δ = x' − x", ylim=(-1.5 * eps, 1.5 * eps))
    run.figure("adversarial-example", fig)
