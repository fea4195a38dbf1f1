"""Adversarial examples and adversarial training on MNIST-1D (UDL section 9.3.4).

Protocol (ours; section 9.3.4 describes adversarial training without an experiment): the default MNIST-1D data
(4000 train / 1000 test); an MLP 40-100-100-10 with ReLU and He initialization trained with the notebook 8.1
recipe (``udl.experiments._mnist1d``: SGD, learning rate 0.05, momentum 0.9, StepLR(10, 0.5), batch 100, 50
epochs, cross-entropy). Two
models per seed, from the same initialization and batch order:

- **standard**: trained on the clean signals;
- **adversarial**: every mini-batch is replaced by its PGD adversarial examples at ``train_eps``
  (``train_pgd_steps`` steps of size 2.5·ε/steps from a random start; Madry et al., 2018), i.e. it minimises the
  worst-case loss in the L∞ ball.

Both are attacked on the test set, for every ε in ``eval_eps`` (``udl.metrics.robust_accuracy``), by FGSM, by
PGD (``eval_pgd_steps`` steps of 2.5·ε/steps from a random start) and, for contrast, by a random corner of the
ball (each coordinate ±ε with a fair coin) — noise of the same L∞ size that is not worst-case. MNIST-1D signals
have standard deviation ≈ 1, so ε = 0.1 is a tenth of it.

Claims (paired by seed: both models share each seed's initialization and batch order; bar 2 SE, ``udl.stats``):
(1) the standard model's mean PGD accuracy falls monotonically as ε grows and at ``train_eps`` is below half its
clean accuracy — small worst-case perturbations cause large changes of the output; (2) the damage is due to the
worst-case direction: random ±ε noise of the same size leaves the standard model more accurate than PGD does;
(3) adversarial training raises the PGD accuracy at ``train_eps`` (the clean and robust accuracies of both models
are reported; the usual cost in clean accuracy is reported, not claimed). ε is fixed in advance, not chosen on
the test set.

The adversarial model cannot go through ``udl.train.fit`` (the attack needs the labels inside the step), so
``train`` below is the same loop written out (protocol), with the same checkpoint/resume through
``run.save_state``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from udl.attacks import fgsm, pgd
from udl.errors import DivergenceError
from udl.experiments._mnist1d import MNIST1DRecipe, load_split, seed_range
from udl.experiments._recipes import claim_comparison
from udl.metrics import accuracy, robust_accuracy
from udl.nn import MLP
from udl.optim import SGD, StepDecay
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots
from udl.stats import Verdict, all_of, paired_difference

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

Attack = Literal["pgd", "fgsm", "random"]
ATTACKS: tuple[Attack, ...] = ("pgd", "random", "fgsm")
"""evaluation attacks, in the order they draw from the attack generator"""


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    seeds: int = 2
    """paired runs (seeds seed, seed+1, ...): a standard and an adversarial model per seed"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    train_eps: float = 0.1
    """L∞ budget ε of adversarial training, and the ε of the robustness claims"""
    train_pgd_steps: int = 5
    """PGD steps per mini-batch in adversarial training (step size 2.5·ε/steps, random start)"""
    eval_eps: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    """L∞ budgets of the accuracy-vs-ε curves (increasing, starting at 0, containing train_eps)"""
    eval_pgd_steps: int = 20
    """PGD steps of the evaluation attack (step size 2.5·ε/steps, random start)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.train_pgd_steps, self.eval_pgd_steps) < 1:
            raise ValueError("train_pgd_steps and eval_pgd_steps must be >= 1")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be one or more widths >= 1, got {self.hidden}")
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


def collapse_verdict(pgd_curves: list[list[float]], at: int) -> Verdict:
    """The standard model's PGD accuracy (one curve over ε per seed, ε[0] = 0 the clean accuracy) falls
    monotonically in the seed mean, and at ε[at] it is below half the clean accuracy (paired, bar 2 SE)."""
    mean = [sum(c[j] for c in pgd_curves) / len(pgd_curves) for j in range(len(pgd_curves[0]))]
    monotone = all(b <= a for a, b in itertools.pairwise(mean))
    below_half = paired_difference([c[0] / 2 for c in pgd_curves], [c[at] for c in pgd_curves]).verdict
    return all_of(monotone, below_half)


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
    optimizer = SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    scheduler = StepDecay(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
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
                state: dict[str, Any] = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
                state |= {"scheduler": scheduler.state_dict(), "generator": generator.get_state()}
                run.save_state(name, {**state, "epoch": epoch + 1, "steps": steps, "history": history})
    return history


def run(cfg: Config, run: Run) -> None:
    # -- data ------------------------------------------------------------------------------------------------
    split = load_split(cfg, run.device)
    x_train, y_train, x_test, y_test = split.x_train, split.y_train, split.x_test, split.y_test

    # -- standard and adversarial training, then attacks at every ε ---------------------------------------------
    kinds = ("standard", "adversarial")
    curves: dict[str, dict[str, list[list[float]]]] = {k: {a: [] for a in ATTACKS} for k in kinds}
    histories: dict[str, list[dict[str, float]]] = {}
    models: dict[str, nn.Module] = {}
    for seed in seed_range(cfg):
        for kind in kinds:
            generator = torch.Generator().manual_seed(seed)
            model = MLP(x_train.shape[1], cfg.hidden, 10, activation="relu", init="he", generator=generator)
            history = train(
                model.to(run.device),
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
            acc: dict[str, list[float]] = {a: [] for a in ATTACKS}
            for eps in cfg.eval_eps:
                for attack in ATTACKS:
                    acc[attack].append(
                        robust_accuracy(
                            model, x_test, y_test, eps, attack=attack, steps=cfg.eval_pgd_steps,
                            generator=attack_generator,
                        )
                    )  # fmt: skip
            for attack in ATTACKS:
                curves[kind][attack].append(acc[attack])
            for j, eps in enumerate(cfg.eval_eps):
                run.log(
                    j,
                    **{
                        f"{kind}_seed{seed}/eps": eps,
                        **{f"{kind}_seed{seed}/{a}_accuracy": acc[a][j] for a in ("pgd", "fgsm", "random")},
                    },
                )
            if seed == cfg.seed:
                histories[kind], models[kind] = history, model

    # -- claims (paired by seed) --------------------------------------------------------------------------------
    def mean_curve(kind: str, attack: str) -> list[float]:
        per_seed = curves[kind][attack]
        return [sum(s[j] for s in per_seed) / len(per_seed) for j in range(len(cfg.eval_eps))]

    at = cfg.eval_eps.index(cfg.train_eps)
    std_pgd, std_fgsm = mean_curve("standard", "pgd"), mean_curve("standard", "fgsm")
    adv_pgd, adv_fgsm = mean_curve("adversarial", "pgd"), mean_curve("adversarial", "fgsm")
    clean = std_pgd[0]
    run.claim(
        "accuracy-collapses-with-eps",
        f"Small worst-case perturbations destroy a standard network: its mean PGD accuracy falls monotonically as "
        f"ε grows, and at ε = {cfg.train_eps:g} (signal std ≈ 1) it is below half the clean accuracy (paired, "
        f"{cfg.seeds} seeds, margin > 2 SE)",
        holds=collapse_verdict(curves["standard"]["pgd"], at),
        measured={
            "eps": list(cfg.eval_eps),
            "pgd_accuracy": [round(100 * a, 1) for a in std_pgd],
            "fgsm_accuracy": [round(100 * a, 1) for a in std_fgsm],
            "clean": round(100 * clean, 1),
        },
        expected=f"monotone; PGD accuracy at ε={cfg.train_eps:g} below half the clean one by > 2 SE",
    )
    pgd_at = {k: [100 * c[at] for c in curves[k]["pgd"]] for k in kinds}
    worst = paired_difference([100 * c[at] for c in curves["standard"]["random"]], pgd_at["standard"])
    claim_comparison(
        run,
        "worst-case-not-random",
        f"The damage comes from the worst-case direction: random ±ε noise of the same size (ε = {cfg.train_eps:g}) "
        f"leaves the standard network more accurate than PGD does (paired, {cfg.seeds} seeds, mean diff > 2 SE)",
        worst,
        expected="random − PGD accuracy > 2 SE",
        random_minus_pgd=worst.describe("points"),
    )
    robust = paired_difference(pgd_at["adversarial"], pgd_at["standard"])
    claim_comparison(
        run,
        "adversarial-training-is-robust",
        f"Adversarial training (PGD, ε = {cfg.train_eps:g}) raises the PGD accuracy at that ε (paired, "
        f"{cfg.seeds} seeds, mean diff > 2 SE)",
        robust,
        expected="adversarial − standard PGD accuracy > 2 SE",
        gain=robust.describe("points"),
        standard_clean=round(100 * std_pgd[0], 1),
        adversarial_clean=round(100 * adv_pgd[0], 1),
        adversarial_pgd_curve=[round(100 * a, 1) for a in adv_pgd],
    )
    run.summary(standard_clean_accuracy=std_pgd[0], standard_robust_accuracy=std_pgd[at])
    run.summary(adversarial_clean_accuracy=adv_pgd[0], adversarial_robust_accuracy=adv_pgd[at])
    run.summary(standard_fgsm_accuracy=std_fgsm[at], adversarial_fgsm_accuracy=adv_fgsm[at])

    # -- figure 1: accuracy vs ε for both models ----------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    eps_axis = list(cfg.eval_eps)
    for kind, color in zip(kinds, PALETTE, strict=False):
        for attack, style in (("pgd", "o-"), ("fgsm", "s--"), ("random", ":")):
            accuracy_curve = [100 * a for a in mean_curve(kind, attack)]
            axes[0, 0].plot(eps_axis, accuracy_curve, style, color=color, label=f"{kind}, {attack}")
    axes[0, 0].axvline(cfg.train_eps, color="gray", linewidth=0.8, linestyle=":")
    axes[0, 0].axhline(10, color="gray", linewidth=0.6, linestyle="--")
    axes[0, 0].set(
        xlabel="L∞ budget ε", ylabel="test accuracy (%)", ylim=(0, 100), title="Accuracy under attack"
    )
    axes[0, 0].legend(fontsize=7)
    for kind, color in zip(kinds, PALETTE, strict=False):
        epochs = range(1, len(histories[kind]) + 1)
        for key, style, what in (("test_error", "-", "clean"), ("test_fgsm_error", "--", "FGSM")):
            errors = [100 * h[key] for h in histories[kind]]
            axes[0, 1].plot(epochs, errors, style, color=color, label=f"{kind} {what}")
    axes[0, 1].set(xlabel="epoch", ylabel=f"test error (%), FGSM at ε={cfg.train_eps:g}", ylim=(0, 100))
    axes[0, 1].set_title(f"Training (seed {cfg.seed})")
    integer_ticks(axes[0, 1], "x")
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
    t = split.data.t.numpy()
    fig, axes = subplots(2, 1, width=7.0, height=2.6)
    clean_label = f"clean: predicted {int(p_clean[i].argmax())} ({100 * float(p_clean[i].max()):.0f}%)"
    axes[0, 0].plot(t, x_test[i].cpu().numpy(), "k", lw=2, label=f"{clean_label}, label {int(y_test[i])}")
    adv_label = f"PGD ε={eps:g}: predicted {int(p_adv[i].argmax())} ({100 * float(p_adv[i].max()):.0f}%)"
    axes[0, 0].plot(t, x_adv[i].cpu().numpy(), color=PALETTE[3], lw=1.2, label=adv_label)
    axes[0, 0].set(ylabel="x", title="A test signal and its adversarial version (standard model)")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].bar(t, (x_adv[i] - x_test[i]).cpu().numpy(), width=0.2, color=PALETTE[3])
    axes[1, 0].set(xlabel="position", ylabel="δ = x' − x", ylim=(-1.5 * eps, 1.5 * eps))
    run.figure("adversarial-example", fig)
