"""Explainability (UDL section 21.3): saliency, integrated gradients and LIME on MNIST-1D, ICE curves and partial
dependence on a tabular model, and a deletion test of which attributions are faithful.

Protocol.

1. *MNIST-1D*. For each seed an MLP (40-128-128-10, GELU: smooth, so integrated gradients' quadrature converges
   fast) is trained with ``udl.train.fit`` (Adam) on MNIST-1D. On ``explained`` test signals, with the target the
   predicted class and f its log-probability, attributions come from saliency |∂f/∂x|, integrated gradients
   (baseline 0, Gauss-Legendre, ``ig_steps`` nodes), LIME (``lime_samples`` random masks replacing points by 0, a
   proximity kernel, the ``top_k`` strongest points) and a random ranking. *Completeness* (a check): Σ_i IG_i =
   f(x) − f(0) up to the quadrature error, measured at 4 … ``ig_steps`` nodes in float64; at the most nodes the
   largest error must be below 1e-6 of the mean |f(x) − f(0)|. *Deletion test* (claims, Samek et al. 2017):
   setting each signal's top-k attributed points to the baseline 0 (k = 1 … ``top_k``), the mean fall of f (the
   area over the deletion curve, AOPC) is larger for each method than for random points (paired by seed, bar 2 SE).
2. *Tabular*. An MLP is trained on ``udl.data.fairness_tabular`` (three noisy measurements of a latent merit, a
   noisy proxy of the protected group, one pure-noise feature); the group itself is not an input. ICE curves and
   the partial dependence (their mean; a check against the PD computed one grid value at a time) for each feature;
   claims on the mean |IG| per feature over the explained examples (paired over examples): the pure-noise feature
   is attributed less than every measurement, and the group proxy more than the noise (the model uses the group
   though it never sees it: blindness is not fairness).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.ticker import NullLocator
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import MNIST1DConfig, fairness_tabular, load_mnist1d
from udl.ethics import deletion_curve, ice_curves, integrated_gradients, lime, partial_dependence, saliency
from udl.experiments._recipes import seed_range
from udl.nn import MLP
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, Verdict, all_of, mean_se, paired_difference
from udl.train import fit

CHAPTER = 21
SECTION = "21.3"
SUMMARY = "Saliency, integrated gradients, LIME, ICE/PD: completeness measured, deletion test against random"
CONTEXT = (
    "Section 21.3 discusses explaining what a trained network computes: which inputs a decision depends on "
    "(gradients, integrated gradients, local surrogate models such as LIME) and how the output changes with one "
    "input (partial dependence). An attribution is only useful if it is faithful: removing the inputs it ranks "
    "highest should change the output more than removing random ones."
)

METHODS = ("saliency", "integrated_gradients", "lime")


@dataclass(frozen=True)
class Config:
    num_samples: int = 5000
    """MNIST-1D examples in all (80% train, 20% test)"""
    epochs: int = 60
    """MNIST-1D training epochs (Adam, batch 100)"""
    lr: float = 0.002
    """Adam learning rate (both models)"""
    explained: int = 200
    """test examples explained per seed"""
    ig_steps: int = 64
    """Gauss-Legendre nodes of integrated gradients (completeness is measured at 4, 8, ... up to this)"""
    lime_samples: int = 1000
    """LIME perturbations per explained example"""
    top_k: int = 10
    """points deleted in the deletion test (1 … top_k); also LIME's number of features"""
    tabular_train: int = 5000
    """tabular training examples"""
    tabular_epochs: int = 30
    """tabular training epochs"""
    seeds: int = 3
    """MNIST-1D models (seed, seed+1, ...), paired across methods; >= 2 for the claims"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        if self.num_samples < 100 or self.tabular_train < 100:
            raise ValueError(
                f"num_samples and tabular_train must be >= 100, got {self.num_samples}, {self.tabular_train}"
            )
        at_least(self, 4, "ig_steps")
        if not 1 <= self.top_k <= 40:
            raise ValueError(f"top_k must be in [1, 40] (MNIST-1D has 40 points), got {self.top_k}")
        at_least(self, 1, "epochs")
        at_least(self, 2, "explained", "lime_samples")
        at_least(self, 1, "tabular_epochs", "seeds")


PRESETS = {
    "smoke": Config(
        num_samples=1000,
        epochs=2,
        explained=10,
        ig_steps=64,
        lime_samples=200,
        tabular_train=500,
        tabular_epochs=2,
        seeds=2,
    ),
    "quick": Config(epochs=40, explained=150, seeds=3),
    "full": Config(explained=500, seeds=5),
}


def deletion_verdict(aopc: dict[str, list[float]]) -> dict[str, Verdict]:
    """Per method: its AOPC exceeds the random ranking's (paired by seed, > 2 SE)."""
    return {m: paired_difference(aopc[m], aopc["random"]).verdict for m in METHODS}


def feature_verdicts(
    attribution: Tensor, measurements: list[int], proxy: int, noise: int
) -> dict[str, Verdict]:
    """``attribution`` (N, D) |IG| per example: the noise feature below every measurement, and the proxy above the
    noise (each paired over examples, > 2 SE)."""
    col = attribution.T.tolist()
    return {
        "noise-least-attributed": all_of(
            *(paired_difference(col[j], col[noise]).verdict for j in measurements)
        ),
        "proxy-is-used": paired_difference(col[proxy], col[noise]).verdict,
    }


def _train(
    model: nn.Module, loss, x: Tensor, y: Tensor, epochs: int, lr: float, seed: int, run: Run, name: str
):
    fit(
        model,
        loss,
        Adam(model.parameters(), lr=lr),
        (x, y),
        epochs=epochs,
        batch_size=100,
        generator=torch.Generator().manual_seed(seed),
        run=run,
        name=name,
        checkpoint_every=epochs,
    )
    return model.eval().double()


def run(cfg: Config, run: Run) -> None:
    data = load_mnist1d(MNIST1DConfig(num_samples=cfg.num_samples))
    steps_grid = [s for s in (4, 8, 16, 32, 64, 128, 256) if s < cfg.ig_steps] + [cfg.ig_steps]
    ks = torch.arange(cfg.top_k + 1)
    aopc: dict[str, list[float]] = {m: [] for m in (*METHODS, "random")}
    completeness = torch.zeros(len(steps_grid))
    fidelity: list[float] = []
    curves: dict[str, Tensor] = {}
    example: dict[str, Tensor] = {}
    with run.progress(cfg.seeds, "explaining MNIST-1D models") as bar:
        for i, seed in enumerate(seed_range(cfg)):
            g = torch.Generator().manual_seed(seed)
            net = MLP(40, (128, 128), 10, activation="gelu", generator=g)
            net = _train(
                net,
                nn.functional.cross_entropy,
                data.x_train,
                data.y_train,
                cfg.epochs,
                cfg.lr,
                seed,
                run,
                f"mnist1d-seed{seed}",
            )
            x = data.x_test[: cfg.explained].double()
            with torch.no_grad():
                target = net(x).argmax(1)
                accuracy = float((net(data.x_test.double()).argmax(1) == data.y_test).double().mean())

            def f(z: Tensor, net: nn.Module = net) -> Tensor:
                return torch.log_softmax(net(z), dim=1)

            delta = (
                f(x).gather(1, target[:, None])[:, 0]
                - f(torch.zeros_like(x)).gather(1, target[:, None])[:, 0]
            )
            for j, s in enumerate(steps_grid):
                ig = integrated_gradients(f, x, None, target, n_steps=s)
                err = float((ig.sum(1) - delta).abs().max() / delta.abs().mean())
                completeness[j] = max(float(completeness[j]), err)
            surrogates = [
                lime(
                    f,
                    x[n],
                    target=int(target[n]),
                    num_samples=cfg.lime_samples,
                    num_features=cfg.top_k,
                    generator=g,
                )
                for n in range(x.shape[0])
            ]
            fidelity += [s.fidelity for s in surrogates]
            attributions = {
                "saliency": saliency(f, x, target),
                "integrated_gradients": ig,
                "lime": torch.stack([s.attributions() for s in surrogates]),
                "random": torch.rand(x.shape, generator=g, dtype=torch.float64),
            }
            for m, attr in attributions.items():
                curve = deletion_curve(f, x, attr, ks, target=target)
                drop = curve[:, :1] - curve  # (N, K+1): fall of the log-probability
                aopc[m].append(float(drop[:, 1:].mean()))
                curves[m] = curves.get(m, 0) + drop.mean(0) / cfg.seeds
            if i == 0:
                example = {"x": x[0], **{m: a[0] for m, a in attributions.items() if m != "random"}}
            run.log(seed, test_accuracy=accuracy, **{f"aopc_{m}": v[-1] for m, v in aopc.items()})
            bar.update(i + 1)

    run.check(
        "ig-completeness",
        f"Integrated gradients are complete: Σ_i IG_i = f(x) − f(0) to the quadrature's error; with {cfg.ig_steps} "
        "Gauss-Legendre nodes the largest error is below 1e-6 of mean |f(x) − f(0)| (float64, all seeds)",
        error=float(completeness[-1]),
        tolerance=1e-6,
        measured={f"steps_{s}": float(e) for s, e in zip(steps_grid, completeness, strict=True)},
    )
    verdicts = deletion_verdict(aopc)
    for m in METHODS:
        comparison: Comparison = paired_difference(aopc[m], aopc["random"])
        run.claim(
            f"{m.replace('_', '-')}-deletion-beats-random",
            f"Deleting the top 1…{cfg.top_k} points ranked by {m.replace('_', ' ')} lowers the predicted class's "
            f"log-probability more than deleting random points (AOPC, paired, {cfg.seeds} seeds)",
            holds=verdicts[m],
            measured=comparison.describe("nats", 3),
            expected="> 2 SE",
        )

    # -- 2. tabular model: ICE, PD, IG per feature -------------------------------------------------------------
    gen = torch.Generator().manual_seed(cfg.seed)
    train, test = fairness_tabular(cfg.tabular_train, generator=gen), fairness_tabular(2000, generator=gen)
    mean, std = train.x.mean(0), train.x.std(0)
    tab = MLP(train.x.shape[1], (32, 32), 1, activation="gelu", generator=gen)
    tab = _train(
        tab,
        lambda out, t: nn.functional.binary_cross_entropy_with_logits(out[:, 0], t),
        ((train.x - mean) / std).float(),
        train.y.float(),
        cfg.tabular_epochs,
        cfg.lr,
        cfg.seed,
        run,
        "tabular",
    )
    xt = ((test.x - mean) / std)[: cfg.explained * 2]
    grid = torch.linspace(-2.5, 2.5, 26, dtype=torch.float64)
    names = train.feature_names
    ice = {j: ice_curves(tab, xt, j, grid, target=0) for j in range(len(names))}
    pd = {j: partial_dependence(tab, xt, j, grid, target=0) for j in range(len(names))}
    pd_error = 0.0
    for j in range(len(names)):
        for v_idx, v in enumerate(grid):  # the definition, one grid value at a time
            xv = xt.clone()
            xv[:, j] = v
            with torch.no_grad():
                pd_error = max(pd_error, abs(float(tab(xv)[:, 0].mean()) - float(pd[j][v_idx])))
    run.check(
        "partial-dependence-is-mean-ice",
        "The partial dependence equals the mean of the ICE curves, PD_j(v) = (1/N) Σ_i f(x_i with x_ij = v), "
        "computed one grid value at a time (largest difference)",
        error=pd_error,
        tolerance=1e-12,
    )
    ig_tab = integrated_gradients(tab, xt, None, 0, n_steps=cfg.ig_steps)
    with torch.no_grad():
        tab_delta = tab(xt)[:, 0] - tab(torch.zeros_like(xt))[:, 0]
    run.check(
        "tabular-ig-completeness",
        "On the tabular model too, Σ_i IG_i = f(x) − f(mean input) (largest error / mean |difference|)",
        error=float((ig_tab.sum(1) - tab_delta).abs().max() / tab_delta.abs().mean()),
        tolerance=1e-6,
    )
    measurements = [j for j, n in enumerate(names) if n.startswith("measurement")]
    proxy, noise = names.index("group proxy"), names.index("noise")
    fv = feature_verdicts(ig_tab.abs(), measurements, proxy, noise)
    col = ig_tab.abs().T
    run.claim(
        "noise-feature-least-attributed",
        f"On the tabular model the pure-noise feature gets less |IG| than every measurement (paired over {xt.shape[0]} "
        "examples: the comparison's 'seeds')",
        holds=fv["noise-least-attributed"],
        measured={names[j]: paired_difference(col[j], col[noise]).describe("", 4) for j in measurements},
        expected="each > 2 SE",
    )
    run.claim(
        "proxy-is-used",
        "A model blind to the group still uses it: the group proxy gets more |IG| than the noise feature (paired "
        f"over {xt.shape[0]} examples)",
        holds=fv["proxy-is-used"],
        measured=paired_difference(col[proxy], col[noise]).describe("", 4),
        expected="> 2 SE",
    )
    run.summary(
        **{f"aopc_{m}": mean_se(v).mean for m, v in aopc.items()},
        lime_fidelity_r2_mean=mean_se(fidelity).mean,
        ig_completeness_error=float(completeness[-1]),
        **{f"tabular_mean_abs_ig_{n.replace(' ', '_')}": float(col[j].mean()) for j, n in enumerate(names)},
    )

    # -- figures ---------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 3, width=4.2, height=3.4)
    ax = axes[0, 0]
    ax.plot(example["x"], color="black", label="signal")
    for m in METHODS:
        a = example[m]
        ax.plot(
            a / a.abs().max().clamp(min=1e-12) * example["x"].abs().max(),
            label=m.replace("_", " "),
            alpha=0.8,
        )
    ax.set(xlabel="position", title="One test signal and its attributions (scaled)")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for m, c in curves.items():
        ax.plot(ks, c, "o-", label=m.replace("_", " "), markersize=3)
    ax.set(xlabel="points deleted (top-k)", ylabel="fall of log p(predicted class)", title="Deletion test")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    ax.loglog(steps_grid, completeness.clamp(min=1e-17), "o-")
    ax.axhline(1e-6, color="grey", linestyle=":", label="check tolerance")
    ax.set_xticks(steps_grid, [str(s) for s in steps_grid], minor=False)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set(xlabel="Gauss-Legendre nodes", ylabel="max |ΣIG − Δf| / mean |Δf|", title="IG completeness error")
    ax.legend(fontsize=7)
    run.figure("mnist1d-attributions", fig)

    fig, axes = subplots(1, 3, width=4.0, height=3.4)
    for ax, j in zip(axes[0, :2], (0, proxy), strict=True):
        raw = grid * std[j] + mean[j]
        ax.plot(raw, ice[j][:40].T, color="#3b5ba5", alpha=0.15, linewidth=0.8)
        ax.plot(raw, pd[j], color="#e07b39", linewidth=2.5, label="partial dependence")
        ax.set(xlabel=names[j], ylabel="logit", title=f"ICE curves and PD: {names[j]}")
        ax.legend(fontsize=7)
    ax = axes[0, 2]
    ax.bar(range(len(names)), col.mean(1), color="#66c2a5")
    ax.set_xticks(range(len(names)), [n.replace(" ", "\n") for n in names], fontsize=7)
    ax.set(ylabel="mean |IG|", title="Tabular attributions per feature")
    run.figure("tabular-ice-pd-ig", fig)
