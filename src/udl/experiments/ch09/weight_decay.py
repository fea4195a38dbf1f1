r"""L2 regularization / weight decay (UDL section 9.1) on a small MNIST-1D training set.

Protocol. With only ``num_train`` training examples (a few hundred) an MLP 40-100-100-10 (ReLU, He init) fits
the training set exactly and generalizes poorly, so regularization has room to help. We train it with SGD
(learning rate ``lr``, momentum ``momentum``, batch ``batch_size``, ``epochs`` epochs) on the regularized loss of
UDL eq. 9.5,

.. math:: \tilde L[\boldsymbol\phi] = \frac1I\sum_i \ell_i + \lambda \sum_j \phi_j^2 ,

the penalty (``udl.functional.l2_penalty``) over the weights only (the book: biases are usually not penalized),
for every λ in ``lambdas`` and ``seeds`` initializations; all (λ, seed) pairs train at once as one
``udl.train.StackedMLP`` through ``udl.train.fit`` — the loss is the sum of the members' own losses, so each
member trains exactly as it would alone. We report the test error and the weights' norm against λ.

Then Adam versus AdamW: for each coefficient w in ``adam_weight_decays``, Adam on L + (w/2)‖φ‖² (the L2 term,
what ``Adam(weight_decay=w)`` does) and AdamW(weight_decay=w) (decoupled: φ ← (1 − αw)φ besides the Adam step),
from the same initializations and batch order, plus unregularized Adam. For plain SGD the two are the same
update (tested in tests/functional/test_regularization.py); for Adam they are not, because Adam divides the
penalty's gradient by its running gradient scale. We report how far apart the trained weights are and both test
errors. There is no book protocol for this experiment on MNIST-1D (fig. 9.2 uses a toy regression), so ``full``
only adds seeds and a finer λ grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.data import MNIST1DConfig, load_mnist1d
from udl.functional import l2_penalty
from udl.optim import SGD, Adam, AdamW
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import spearman
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
    """training examples (small on purpose, so that regularization matters)"""
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
        if 0.0 not in self.lambdas or any(not math.isfinite(v) or v < 0 for v in self.lambdas):
            raise ValueError(f"lambdas must be >= 0 and include 0 (the baseline), got {self.lambdas}")
        if len(set(self.lambdas)) != len(self.lambdas) or len(self.lambdas) < 2:
            raise ValueError(f"lambdas must hold at least two distinct values, got {self.lambdas}")
        if not self.adam_weight_decays or any(
            not math.isfinite(w) or w <= 0 for w in self.adam_weight_decays
        ):
            raise ValueError(f"adam_weight_decays must be positive, got {self.adam_weight_decays}")
        if (
            min(
                self.num_train, self.num_test, self.epochs, self.batch_size, self.seeds, self.checkpoint_every
            )
            < 1
        ):
            raise ValueError(
                "num_train, num_test, epochs, batch_size, seeds and checkpoint_every must be >= 1"
            )
        if (self.num_train + self.num_test) % 10 or (self.num_train + self.num_test) < 20:
            raise ValueError("num_train + num_test must be a multiple of 10 (MNIST-1D makes equal classes)")
        if self.lr <= 0 or self.adam_lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("need lr > 0, adam_lr > 0 and 0 <= momentum < 1")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")


PRESETS = {
    "smoke": Config(
        lambdas=(0.0, 1e-2),
        hidden=(32, 32),
        num_train=200,
        num_test=800,
        epochs=3,
        adam_weight_decays=(0.1,),
        seeds=1,
        checkpoint_every=1,
    ),
    "quick": Config(),
    "full": Config(lambdas=(0.0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1), seeds=10),
}


def cross_entropy_per_member_sum(logits: Tensor, target: Tensor) -> Tensor:
    """Σ_m (mean cross-entropy of member m): each member's gradient is the one it would get alone."""
    m, b, c = logits.shape  # (members, batch, classes)
    return nn.functional.cross_entropy(logits.reshape(m * b, c), target.repeat(m)) * m


def member_weights(model: StackedMLP) -> Tensor:
    """Every member's weight matrices flattened into one row, (M, P)."""
    return torch.cat([w.detach().flatten(1) for w in model.weights], dim=1)


def run(cfg: Config, run: Run) -> None:
    # -- data: a small training set and a large test set ------------------------------------------------------------
    total = cfg.num_train + cfg.num_test
    data = load_mnist1d(
        MNIST1DConfig(num_samples=total, train_split=cfg.num_train / total, seed=cfg.data_seed)
    )
    dev = run.device
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))

    def stack(n_settings: int) -> StackedMLP:
        """n_settings × seeds members; member (i, s) is initialized from seed s, like udl.nn.MLP alone."""
        return StackedMLP(
            x_train.shape[1],
            [cfg.hidden] * (n_settings * cfg.seeds),
            10,
            seeds=seeds * n_settings,
            device=dev,
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

    scale = lam.sqrt().view(-1, 1, 1)

    def sgd_loss(logits: Tensor, target: Tensor) -> Tensor:
        # member m pays its own λ_m Σ w² (eq. 9.5): Σ_m λ_m Σ w_m² is the L2 penalty of the slices scaled by √λ_m
        return cross_entropy_per_member_sum(logits, target) + l2_penalty(
            [scale * p for p in penalized(model)]
        )

    train(model, sgd_loss, SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum), "sgd_l2")
    test_error = error_rates(model, x_test, y_test).view(len(lambdas), cfg.seeds).double()
    train_error = error_rates(model, x_train, y_train).view(len(lambdas), cfg.seeds).double()
    norm = member_weights(model).double().norm(dim=1).view(len(lambdas), cfg.seeds)
    for i, v in enumerate(lambdas):
        run.log(
            i + 1,
            lam=v,
            test_error=float(test_error[i].mean()),
            train_error=float(train_error[i].mean()),
            weight_norm=float(norm[i].mean()),
        )

    # -- Adam + L2 vs AdamW at each coefficient w ------------------------------------------------------------------
    def adam_run(kind: str, w: float, name: str) -> StackedMLP:
        net = stack(1)

        def loss(logits: Tensor, target: Tensor) -> Tensor:
            ce = cross_entropy_per_member_sum(logits, target)
            return ce + 0.5 * w * l2_penalty(penalized(net)) if kind == "adam_l2" else ce

        if kind == "adamw":
            decayed = penalized(net)
            rest = [p for p in net.parameters() if all(p is not q for q in decayed)]
            groups = [{"params": decayed, "weight_decay": w}, {"params": rest, "weight_decay": 0.0}]
            opt: torch.optim.Optimizer = AdamW(groups, lr=cfg.adam_lr)
        else:
            opt = Adam(net.parameters(), lr=cfg.adam_lr)
        train(net, loss, opt, name)
        return net

    plain_adam = adam_run("adam", 0.0, "adam")
    adam_rows = []
    for i, w in enumerate(sorted(cfg.adam_weight_decays)):
        with_l2 = adam_run("adam_l2", w, f"adam_l2_{i}")
        decoupled = adam_run("adamw", w, f"adamw_{i}")
        a, b = member_weights(with_l2).double(), member_weights(decoupled).double()
        row = {
            "w": w,
            "relative_distance": float(((a - b).norm(dim=1) / b.norm(dim=1)).mean()),
            "adam_l2_test_error": float(error_rates(with_l2, x_test, y_test).double().mean()),
            "adamw_test_error": float(error_rates(decoupled, x_test, y_test).double().mean()),
            "adam_l2_weight_norm": float(a.norm(dim=1).mean()),
            "adamw_weight_norm": float(b.norm(dim=1).mean()),
        }
        adam_rows.append(row)
        run.log(len(lambdas) + i + 1, **row)
    adam_test_error = float(error_rates(plain_adam, x_test, y_test).double().mean())

    # -- claims -------------------------------------------------------------------------------------------------------
    mean_test = test_error.mean(dim=1)
    base = lambdas.index(0.0)
    best = min((i for i in range(len(lambdas)) if i != base), key=lambda i: float(mean_test[i]))
    gain = test_error[base] - test_error[best]  # paired over seeds: same initialization, same batch order
    gain_se = float(gain.std() / math.sqrt(cfg.seeds)) if cfg.seeds > 1 else 0.0
    run.claim(
        "l2-lowers-test-error",
        f"With {cfg.num_train} training examples, a suitable L2 strength λ lowers the test error below the "
        "unregularized model's (mean over seeds; the gain exceeds twice its standard error)",
        holds=float(gain.mean()) > 2 * gain_se and float(gain.mean()) > 0,
        measured={
            "best_lambda": lambdas[best],
            "test_error_best_lambda": round(float(mean_test[best]), 4),
            "test_error_no_regularization": round(float(mean_test[base]), 4),
            "gain": round(float(gain.mean()), 4),
            "gain_standard_error": round(gain_se, 4),
            "per_lambda": {
                f"{v:g}": round(float(e), 4) for v, e in zip(lambdas, mean_test.tolist(), strict=True)
            },
        },
        expected="gain > 2 standard errors",
    )
    mean_norm = norm.mean(dim=1).tolist()
    rho = spearman(lambdas, mean_norm)
    run.claim(
        "l2-shrinks-weights",
        "The L2 penalty shrinks the weights: the trained weights' norm falls as λ grows",
        holds=all(b < a for a, b in itertools.pairwise(mean_norm)),
        measured={
            "spearman": round(rho, 3),
            "norm_per_lambda": {f"{v:g}": round(n, 3) for v, n in zip(lambdas, mean_norm, strict=True)},
        },
        expected="strictly decreasing in λ",
    )
    largest = len(lambdas) - 1
    mean_train = train_error.mean(dim=1)
    run.claim(
        "too-much-l2-underfits",
        "Too large a λ over-smooths: at the largest λ the model no longer fits the training data and its test "
        "error is above the best λ's",
        holds=float(mean_train[largest] - mean_train[base]) > 0.1
        and float(mean_test[largest]) > float(mean_test[best]),
        measured={
            "largest_lambda": lambdas[largest],
            "train_error_largest_lambda": round(float(mean_train[largest]), 4),
            "train_error_no_regularization": round(float(mean_train[base]), 4),
            "test_error_largest_lambda": round(float(mean_test[largest]), 4),
            "test_error_best_lambda": round(float(mean_test[best]), 4),
        },
        expected="train error up by > 10 points; test error above the best λ's",
    )
    run.claim(
        "adam-l2-is-not-adamw",
        "For Adam, an L2 term in the loss is not weight decay: Adam + (w/2)‖φ‖² and AdamW(weight_decay=w) from the "
        "same start end at different weights (relative distance > 10% at every w); both test errors are reported",
        holds=all(r["relative_distance"] > 0.1 for r in adam_rows),
        measured={
            f"w={r['w']:g}": {
                "relative_distance": round(r["relative_distance"], 3),
                "adam_l2_test_error": round(r["adam_l2_test_error"], 4),
                "adamw_test_error": round(r["adamw_test_error"], 4),
            }
            for r in adam_rows
        }
        | {"adam_unregularized_test_error": round(adam_test_error, 4)},
        expected="relative distance > 0.1",
    )
    run.summary(
        best_lambda=lambdas[best],
        test_error_best_lambda=float(mean_test[best]),
        test_error_no_regularization=float(mean_test[base]),
        adam_test_error=adam_test_error,
    )

    # -- figures: test error and weight norm against λ; Adam + L2 vs AdamW ------------------------------------------
    positive = [v for v in lambdas if v > 0]
    floor = min(positive) / 3  # where λ = 0 is drawn on the log axis
    xs = [v if v > 0 else floor for v in lambdas]
    fig, axes = subplots(1, 3, width=4.4)
    ax = axes[0, 0]
    spread = test_error.std(dim=1) if cfg.seeds > 1 else torch.zeros(len(lambdas), dtype=torch.float64)
    ax.errorbar(xs, 100 * mean_test, yerr=100 * spread, fmt="o-", capsize=3, label="test")
    ax.plot(xs, 100 * mean_train, "s--", label="train")
    ax.axvline(lambdas[best], color="gray", ls=":", label=f"best λ = {lambdas[best]:g}")
    ax.set(
        xscale="log", xlabel="λ  (λ = 0 drawn at the left)", ylabel="error (%)", title="Error vs L2 strength"
    )
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.plot(xs, mean_norm, "o-")
    ax.set(xscale="log", xlabel="λ", ylabel="‖weights‖₂", title="Weight norm vs λ")
    ax = axes[0, 2]
    ws = [r["w"] for r in adam_rows]
    ax.plot(ws, [100 * r["adam_l2_test_error"] for r in adam_rows], "o-", label="Adam + (w/2)‖φ‖²")
    ax.plot(ws, [100 * r["adamw_test_error"] for r in adam_rows], "s-", label="AdamW(weight_decay=w)")
    ax.axhline(100 * adam_test_error, color="gray", ls=":", label="Adam, no regularization")
    ax.set(
        xscale="log", xlabel="coefficient w", ylabel="test error (%)", title="L2 in Adam vs decoupled decay"
    )
    ax.legend(fontsize=8)
    run.figure("weight-decay", fig)
