r"""L2 regularization / weight decay (UDL section 9.1) on a small MNIST-1D training set.

Protocol. With only ``num_train`` training examples to fit, an MLP 40-100-100-10 (ReLU, He init) fits them exactly
and generalizes poorly, so regularization has room to help. We train it with SGD (``lr``, ``momentum``,
``batch_size``, ``epochs``) on the regularized loss of UDL eq. 9.5,
:math:`\tilde L = \frac1I\sum_i \ell_i + \lambda \sum_j \phi_j^2`, the penalty (``udl.losses.l2_penalty``)
over the weights only (the book: biases are usually not penalized), for every λ in ``lambdas`` and ``seeds``
initializations, all (λ, seed) pairs at once as one ``udl.train.StackedMLP`` through ``udl.train.fit`` (the loss
is the sum of the members' own losses, ``udl.losses.stacked_cross_entropy``, so each trains as it would alone).
λ is selected on a validation split: ``num_val`` further training examples held out at random
(``udl.data.validation_split``, seeded with ``seed``), never fitted; the λ with the lowest seed-mean validation
error (λ = 0 included) is chosen, and the test set only reports its gain over λ = 0, paired by seed
(``udl.stats.paired_difference``, > 2 SE). Whether the weights' norm falls with λ is an empirical claim, not an
identity: global minimizers of L + λ‖φ‖² have a norm that cannot grow with λ, but SGD stopped after ``epochs``
on a non-convex loss need not find them; every adjacent pair of λ must differ by > 2 SE, paired by seed.

Protocol change (review): the best λ used to be picked on the test set and its gain reported on that same set.
Now ``num_val`` = 100 examples are carved from a larger generated training split (``num_train + num_val``), so the
model still fits ``num_train`` = 400 examples; the generated data differ from the old protocol's.

Then Adam versus AdamW: for each w in ``adam_weight_decays``, Adam on L + (w/2)‖φ‖² (what ``Adam(weight_decay=w)``
does) and AdamW(weight_decay=w) (decoupled: φ ← (1 − αw)φ besides the Adam step), from the same initializations
and batch order, plus unregularized Adam. For plain SGD the two are the same update (tested in
tests/losses/test_losses_regularized.py); for Adam they are not, because Adam divides the penalty's gradient by its
running gradient scale. Claim: the trained weights end more than 10% apart (relative distance > 0.1 by > 2 SE over
the seeds, at every w); both test errors are reported. There is no book protocol for this experiment on MNIST-1D
(fig. 9.2 uses a toy regression), so ``full`` only adds seeds and a finer λ grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import in_range
from udl.data import MNIST1DConfig, load_mnist1d, validation_split
from udl.experiments._recipes import claim_comparison, seed_range
from udl.losses import l2_penalty, stacked_cross_entropy, stacked_l2_penalty
from udl.optim import SGD, Adam, AdamW, decay_groups
from udl.report import Run
from udl.report.figures import log_positions, plot_curves, plot_train_test_errors, subplots
from udl.stats import Verdict, all_of, paired_difference, spearman
from udl.train import StackedMLP, error_rates, fit

CHAPTER = 9
SECTION = "9.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "L2 regularization on 400 MNIST-1D examples: a suitable λ lowers test error; Adam + L2 is not AdamW"
CONTEXT = (
    "Section 9.1 adds an explicit regularizer to the loss; the L2 penalty λΣφ² (eq. 9.5) favours small weights "
    "and hence smoother functions. With few training data a suitable λ improves test performance; too large a λ "
    "underfits. In gradient descent the penalty shrinks every weight by a constant fraction per step (weight "
    "decay), which is why the names are used interchangeably for SGD; for Adam, an L2 term in the loss and "
    "decoupled weight decay (AdamW) are different algorithms."
)


@dataclass(frozen=True)
class Config:
    lambdas: tuple[float, ...] = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    """L2 strengths λ (the loss adds λ Σ w², weights only); must include 0, the unregularized baseline"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths of the MLP"""
    num_train: int = 400
    """training examples fitted (small on purpose, so that regularization matters)"""
    num_val: int = 100
    """further training examples held out (seeded) to select λ on; never fitted, never the test set"""
    num_test: int = 3600
    """test examples"""
    epochs: int = 200
    """training epochs (the unregularized model reaches zero training error well before)"""
    batch_size: int = 100
    """mini-batch size"""
    lr: float = 0.05
    """SGD learning rate"""
    momentum: float = 0.9
    """SGD momentum"""
    penalize_biases: bool = False
    """also put the biases in the L2 penalty"""
    adam_lr: float = 1e-3
    """Adam / AdamW learning rate"""
    adam_weight_decays: tuple[float, ...] = (0.01, 0.1, 1.0)
    """coefficients w compared between Adam + (w/2)‖φ‖² and AdamW(weight_decay=w) (torch's default w is 0.01)"""
    seeds: int = 5
    """initializations per setting (seed, seed+1, ...); claims use the mean test error over them"""
    data_seed: int = 42
    """MNIST-1D generation seed"""
    checkpoint_every: int = 50
    """epochs between checkpoints"""
    seed: int = 0
    """first initialization seed; also the batch-order seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 10), adam_lr=(0, 1))
        in_range(self, closed_low=True, adam_weight_decays=(0, 1))
        if 0.0 not in self.lambdas or any(not math.isfinite(v) or v < 0 for v in self.lambdas):
            raise ValueError(f"lambdas must be >= 0 and include 0 (the baseline), got {self.lambdas}")
        if len(set(self.lambdas)) != len(self.lambdas) or len(self.lambdas) < 2:
            raise ValueError(f"lambdas must hold at least two distinct values, got {self.lambdas}")
        if not self.adam_weight_decays or not all(0 < w < math.inf for w in self.adam_weight_decays):
            raise ValueError(f"adam_weight_decays must be positive, got {self.adam_weight_decays}")
        counts = ("num_train", "num_val", "num_test", "epochs", "batch_size", "seeds", "checkpoint_every")
        for name in counts:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        total = self.num_train + self.num_val + self.num_test
        if total % 10 or total < 20:
            raise ValueError(
                f"num_train + num_val + num_test must be a multiple of 10 and >= 20 (MNIST-1D), got {total}"
            )
        if self.lr <= 0 or self.adam_lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("need lr > 0, adam_lr > 0 and 0 <= momentum < 1")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")


PRESETS = {
    "smoke": Config(
        lambdas=(0.0, 1e-2),
        hidden=(32, 32),
        num_train=200,
        num_val=50,
        num_test=750,
        epochs=3,
        adam_weight_decays=(0.1,),
        seeds=1,
        checkpoint_every=1,
    ),
    "quick": Config(),
    "full": Config(lambdas=(0.0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1), seeds=10),
}


def choose_lambda(val_error: Tensor) -> int:
    """Index of the λ with the lowest seed-mean validation error; ``val_error`` is (λs, seeds), ties → first."""
    return int(val_error.double().mean(dim=1).argmin())


def shrink_verdict(norm: Tensor) -> Verdict:
    """The weights' norm falls at every step up the λ grid, paired by seed; ``norm`` is (λs in order, seeds)."""
    return all_of(*(paired_difference(norm[i], norm[i + 1]).verdict for i in range(len(norm) - 1)))


def underfit_verdict(
    train_largest: Tensor, train_base: Tensor, test_largest: Tensor, test_chosen: Tensor, margin: float
) -> Verdict:
    """The largest λ underfits: its training error exceeds λ = 0's by more than ``margin`` and its test error is
    above the chosen λ's, each by > 2 SE paired by seed."""
    return all_of(
        paired_difference(train_largest, train_base + margin).verdict,
        paired_difference(test_largest, test_chosen).verdict,
    )


def apart_verdict(distances: list[Tensor], threshold: float) -> Verdict:
    """At every coefficient, the per-seed relative distances exceed ``threshold`` by > 2 SE."""
    return all_of(*(paired_difference(d, torch.full_like(d, threshold)).verdict for d in distances))


def run(cfg: Config, run: Run) -> None:
    # -- data: a small training set, a seeded validation split carved from it, a large test set --------------------
    n_train, total = cfg.num_train + cfg.num_val, cfg.num_train + cfg.num_val + cfg.num_test
    data = load_mnist1d(MNIST1DConfig(num_samples=total, train_split=n_train / total, seed=cfg.data_seed))
    dev = run.device
    fit_idx, val_idx = validation_split(
        n_train, cfg.num_val, generator=torch.Generator().manual_seed(cfg.seed)
    )
    x_train, y_train = data.x_train[fit_idx].to(dev), data.y_train[fit_idx].to(dev)
    x_val, y_val = data.x_train[val_idx].to(dev), data.y_train[val_idx].to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    seeds = list(seed_range(cfg))

    def stack(n_settings: int) -> StackedMLP:
        """n_settings × seeds members; member (i, s) is initialized from seed s, like udl.nn.MLP alone."""
        return StackedMLP(
            x_train.shape[1], [cfg.hidden] * n_settings * cfg.seeds, 10, seeds=seeds * n_settings, device=dev
        )

    def penalized(model: StackedMLP) -> list[Tensor]:
        return [*model.weights, *model.biases] if cfg.penalize_biases else list(model.weights)

    def train(model: StackedMLP, loss_fn, optimizer: torch.optim.Optimizer, name: str) -> None:
        fit(
            model,
            loss_fn,
            optimizer,
            (x_train, y_train),
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            generator=torch.Generator().manual_seed(cfg.seed),
            run=run,
            name=name,
            checkpoint_every=cfg.checkpoint_every,
        )

    # -- SGD with λ Σ w², every (λ, seed) at once -------------------------------------------------------------------
    lambdas = sorted(cfg.lambdas)
    model = stack(len(lambdas))
    lam = torch.tensor([v for v in lambdas for _ in seeds], device=dev)  # (M,), member (λ, seed)

    def sgd_loss(logits: Tensor, target: Tensor) -> Tensor:  # member m pays its own λ_m Σ w² (eq. 9.5)
        return stacked_cross_entropy(logits, target) + stacked_l2_penalty(penalized(model), lam)

    train(model, sgd_loss, SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum), "sgd_l2")
    test_error = error_rates(model, x_test, y_test).view(len(lambdas), cfg.seeds).double()
    val_error = error_rates(model, x_val, y_val).view(len(lambdas), cfg.seeds).double()
    train_error = error_rates(model, x_train, y_train).view(len(lambdas), cfg.seeds).double()
    norm = model.weight_vectors().double().norm(dim=1).view(len(lambdas), cfg.seeds)
    logged = dict(val_error=val_error, test_error=test_error, train_error=train_error, weight_norm=norm)
    for i, v in enumerate(lambdas):
        run.log(i + 1, lam=v, **{k: float(t[i].mean()) for k, t in logged.items()})

    # -- Adam + L2 vs AdamW at each coefficient w ------------------------------------------------------------------
    def adam_run(kind: str, w: float, name: str) -> StackedMLP:
        net = stack(1)

        def loss(logits: Tensor, target: Tensor) -> Tensor:
            ce = stacked_cross_entropy(logits, target)
            return ce + 0.5 * w * l2_penalty(penalized(net)) if kind == "adam_l2" else ce

        if kind == "adamw":
            opt: torch.optim.Optimizer = AdamW(decay_groups(net, w, penalized(net)), lr=cfg.adam_lr)
        else:
            opt = Adam(net.parameters(), lr=cfg.adam_lr)
        train(net, loss, opt, name)
        return net

    plain_adam = adam_run("adam", 0.0, "adam")
    adam_rows, distances = [], []
    for i, w in enumerate(sorted(cfg.adam_weight_decays)):
        with_l2, decoupled = adam_run("adam_l2", w, f"adam_l2_{i}"), adam_run("adamw", w, f"adamw_{i}")
        a, b = with_l2.weight_vectors().double(), decoupled.weight_vectors().double()
        distances.append((a - b).norm(dim=1) / b.norm(dim=1))  # (seeds,)
        row = {
            "w": w,
            "relative_distance": float(distances[-1].mean()),
            "adam_l2_test_error": float(error_rates(with_l2, x_test, y_test).double().mean()),
            "adamw_test_error": float(error_rates(decoupled, x_test, y_test).double().mean()),
            "adam_l2_weight_norm": float(a.norm(dim=1).mean()),
            "adamw_weight_norm": float(b.norm(dim=1).mean()),
        }
        adam_rows.append(row)
        run.log(len(lambdas) + i + 1, **row)
    adam_test_error = float(error_rates(plain_adam, x_test, y_test).double().mean())

    # -- claims (λ chosen on the validation split; the test set only reports) ---------------------------------------
    mean_test, mean_train = test_error.mean(dim=1), train_error.mean(dim=1)
    base, best, largest = lambdas.index(0.0), choose_lambda(val_error), len(lambdas) - 1
    gain = paired_difference(test_error[base], test_error[best])
    val_means = val_error.mean(dim=1).tolist()
    per_lambda = {f"{v:g}": round(float(e), 4) for v, e in zip(lambdas, mean_test.tolist(), strict=True)}
    claim_comparison(
        run,
        "l2-lowers-test-error",
        f"With {cfg.num_train} training examples, the L2 strength λ chosen on a {cfg.num_val}-example validation "
        f"split lowers the test error below the unregularized model's (paired by seed over {cfg.seeds} runs, mean "
        "difference > 2 SE)",
        gain,
        expected="test error(λ = 0) − test error(chosen λ) > 2 SE (paired by seed)",
        described=gain.describe(digits=4),
        chosen_lambda=lambdas[best],
        val_error_per_lambda={f"{v:g}": round(e, 4) for v, e in zip(lambdas, val_means, strict=True)},
        test_error_per_lambda=per_lambda,
    )
    mean_norm = norm.mean(dim=1).tolist()
    run.claim(
        "l2-shrinks-weights",
        "The L2 penalty shrinks the weights: the trained weights' norm falls at every step up the λ grid (paired "
        f"by seed over {cfg.seeds} runs, each step > 2 SE)",
        holds=shrink_verdict(norm),
        measured={
            "spearman": round(spearman(lambdas, mean_norm), 3),
            "norm_per_lambda": {f"{v:g}": round(n, 3) for v, n in zip(lambdas, mean_norm, strict=True)},
        },
        expected="every adjacent pair: norm(smaller λ) − norm(larger λ) > 2 SE",
    )
    run.claim(
        "too-much-l2-underfits",
        "Too large a λ over-smooths: at the largest λ the training error is more than 10 points above λ = 0's and "
        f"the test error above the chosen λ's (paired by seed over {cfg.seeds} runs, each > 2 SE)",
        holds=underfit_verdict(
            train_error[largest], train_error[base], test_error[largest], test_error[best], 0.1
        ),
        measured={
            "largest_lambda": lambdas[largest],
            "chosen_lambda": lambdas[best],
            "train_error_largest_lambda": round(float(mean_train[largest]), 4),
            "train_error_no_regularization": round(float(mean_train[base]), 4),
            "test_error_largest_lambda": round(float(mean_test[largest]), 4),
            "test_error_chosen_lambda": round(float(mean_test[best]), 4),
        },
        expected="train error up by > 10 points and test error above the chosen λ's, each > 2 SE",
    )
    run.claim(
        "adam-l2-is-not-adamw",
        "For Adam, an L2 term in the loss is not weight decay: Adam + (w/2)‖φ‖² and AdamW(weight_decay=w) from the "
        f"same start end at different weights (relative distance > 10% by > 2 SE over {cfg.seeds} seeds, at every "
        "w); both test errors are reported",
        holds=apart_verdict(distances, 0.1),
        measured={
            f"w={r['w']:g}": {
                "relative_distance": round(r["relative_distance"], 3),
                "adam_l2_test_error": round(r["adam_l2_test_error"], 4),
                "adamw_test_error": round(r["adamw_test_error"], 4),
            }
            for r in adam_rows
        }
        | {"adam_unregularized_test_error": round(adam_test_error, 4)},
        expected="relative distance − 0.1 > 2 SE at every w",
    )
    run.summary(
        chosen_lambda=lambdas[best],
        test_error_chosen_lambda=float(mean_test[best]),
        test_error_no_regularization=float(mean_test[base]),
        adam_test_error=adam_test_error,
    )

    # -- figures: test error and weight norm against λ; Adam + L2 vs AdamW ------------------------------------------
    xs = log_positions(lambdas)  # λ = 0 drawn at the left
    fig, axes = subplots(1, 3, width=4.4)
    ax = axes[0, 0]
    plot_train_test_errors(ax, xs, test_error, train_error)
    ax.axvline(lambdas[best], color="gray", ls=":", label=f"chosen λ = {lambdas[best]:g} (validation)")
    ax.set(
        xscale="log", xlabel="λ  (λ = 0 drawn at the left)", ylabel="error (%)", title="Error vs L2 strength"
    )
    ax.legend(fontsize=8)
    plot_curves(axes[0, 1], xs, {"": mean_norm}, legend=None, xscale="log", xlabel="λ", ylabel="‖weights‖₂")
    axes[0, 1].set(title="Weight norm vs λ")
    ax = axes[0, 2]
    ax.axhline(100 * adam_test_error, color="gray", ls=":", label="Adam, no regularization")
    ws, arms = [r["w"] for r in adam_rows], {"Adam + (w/2)‖φ‖²": "adam_l2", "AdamW(weight_decay=w)": "adamw"}
    curves = {label: [r[f"{key}_test_error"] for r in adam_rows] for label, key in arms.items()}
    plot_curves(ax, ws, curves, scale=100, xscale="log", xlabel="coefficient w", ylabel="test error (%)")
    ax.set(title="L2 in Adam vs decoupled decay")
    run.figure("weight-decay", fig)
