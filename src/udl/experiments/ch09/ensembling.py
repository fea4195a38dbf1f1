"""Ensembling by bagging (UDL section 9.3.2, notebook 9.3): combine models trained on bootstrap samples.

Protocol.

- *1D regression* (the notebook's data): ``datasets`` independent training sets of ``num_train`` = 15 points of
  f(x) = exp(sin 2πx) on [0, 1], one uniform draw per bin (``udl.data.regression_1d``, stratified), noise σ = 0.3.
  On each, ``members`` bootstrap samples (15 indices drawn with replacement, ``udl.functional.bootstrap_indices``),
  each fitted by its own shallow ReLU network with ``hidden`` = 14 units (the notebook's 14; He-initialized
  slopes and joints drawn uniformly on [0, 1], a different draw per member), all datasets × members networks
  trained at once as one ``udl.nn.BatchedShallowNetwork``: full-batch Adam on each member's mean squared error,
  ``steps`` steps (they reach a training MSE of about 0.03, below the noise variance 0.09: the members overfit).
  (The notebook fits a fixed-joint model in closed form; here the members are trained networks, so they also
  differ by initialization, the other source of diversity the book names.) Errors are mean squared distances
  to the true f on a grid of ``test_points`` in [0, 1], as in the notebook.
- *MNIST-1D classification*: ``members`` MLPs 40-``width``-``width``-10 (He initialization, seeds seed+m),
  each on its own bootstrap sample of the training set, trained together by ``udl.train.train_sweep`` with
  per-member data (M, N, 40): SGD with momentum, each member its own batch order.
- *Combinations* (UDL 9.3.2): the mean of the outputs and their median (regression); the mean of the pre-softmax
  activations, the mean of the softmax probabilities and the most frequent class (classification).
- *Error against ensemble size* K = 1..M: the error of the combination of K members, averaged over member subsets
  (all subsets when there are at most ``subsets`` of them, else ``subsets`` random ones) and over data sets.

Check (an identity, at every preset). For squared error the ensemble mean's error is the members' average error
minus their spread (the ambiguity decomposition, ``udl.functional.ambiguity_decomposition``), so "the mean beats
the average member" cannot fail: it is verified as an identity (float64), not claimed. For the same reason the
1D *mean*'s error, averaged over all K-member subsets, falls with K by construction; the size claim below leaves it
out.

Claims (empirical). (1) The notebook's "both the median and mean models are better than any of the individual
models", on every 1D training set. It does *not* hold as a rule: with 15 points a bootstrap sample drops about a
third of them, members vary a lot, and on many training sets one member happens to land closer to f than the
combination (with the notebook's own closed-form model we measured the same: the mean beats all four members on
about half the training sets); kept as the notebook states it, measured not to hold. (2) The 1D median beats the
average member (the decomposition does not cover the median): paired over the ``datasets`` training sets,
mean difference > 2 SE. (3) MNIST-1D: every combination has a lower test error than the best member (chosen on
the test set, which only favours the member), paired over the test examples (per-example 0/1 errors), > 2 SE.
(4) The error falls with the ensemble size K: monotone up to wiggles of at most ``trend_tolerance`` of the total
fall *and* K = M below K = 1 by > 2 SE, paired over training sets (1D median) or test examples (MNIST-1D mean
logits and mean probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import in_range
from udl.data import MNIST1DConfig, load_mnist1d, regression_1d, sine_exp_function
from udl.experiments._mnist1d import sweep_classifiers
from udl.experiments._recipes import claim_comparison
from udl.functional import (
    ambiguity_decomposition,
    bootstrap_samples,
    classifier_ensemble_errors,
    largest_step_up,
    regression_ensemble_errors,
)
from udl.nn import BatchedShallowNetwork
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import plot_members_and_combinations, plot_size_curves, subplots
from udl.stats import Comparison, Verdict, all_of, paired_difference
from udl.train import train_members_full_batch

CHAPTER = 9
SECTION = "9.3.2"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "Bagging: the mean/median of bootstrap-trained members vs each member, and error vs ensemble size (9.3.2)"
)
CONTEXT = (
    "Section 9.3.2: training several models and averaging their predictions (the mean, or the median / most "
    "frequent class for robustness) usually generalizes better than any one of them; the members are made "
    "different by their random initializations and by training each on a bootstrap sample of the data (bagging)."
)


@dataclass(frozen=True)
class Config:
    members: int = 8
    """ensemble members M, in both parts (the notebook: 4)"""
    datasets: int = 20
    """independent 1D training sets (each with its own M bootstrap members)"""
    num_train: int = 15
    """points per 1D training set (the notebook: 15)"""
    noise_std: float = 0.3
    """noise σ of the 1D targets (the notebook: 0.3)"""
    hidden: int = 14
    """hidden units of each 1D shallow network (the notebook's model: 14)"""
    steps: int = 4000
    """full-batch Adam steps for the 1D networks"""
    lr_1d: float = 0.01
    """Adam learning rate for the 1D networks"""
    test_points: int = 1001
    """grid points on [0, 1] for the 1D errors"""
    width: int = 100
    """hidden width of the MNIST-1D MLPs 40-width-width-10"""
    epochs: int = 50
    """MNIST-1D training epochs"""
    lr: float = 0.01
    """MNIST-1D SGD learning rate"""
    momentum: float = 0.9
    """MNIST-1D SGD momentum"""
    batch_size: int = 100
    """MNIST-1D mini-batch size"""
    num_samples: int = 5000
    """MNIST-1D examples in all"""
    train_split: float = 0.8
    """fraction of MNIST-1D used for training (the default split: 4000 / 1000)"""
    subsets: int = 100
    """member subsets averaged per ensemble size K (all of them when there are fewer)"""
    trend_tolerance: float = 0.05
    """largest step up of an error-vs-size curve, as a fraction of its total fall, that still counts as 'falls'
    (finite test sets and subset sampling make the flat end of a curve wiggle)"""
    seed: int = 0
    """seed for the 1D data, the bootstrap samples, the initializations and the batch orders"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), lr_1d=(0, 1))
        if self.members < 2 or self.datasets < 1:
            raise ValueError(f"need members >= 2 and datasets >= 1, got {self.members} and {self.datasets}")
        if min(self.num_train, self.hidden, self.steps, self.test_points, self.width, self.epochs) < 1:
            raise ValueError("num_train, hidden, steps, test_points, width and epochs must be >= 1")
        if min(self.batch_size, self.num_samples, self.subsets) < 1:
            raise ValueError("batch_size, num_samples and subsets must be >= 1")
        if self.noise_std < 0 or self.lr_1d <= 0 or self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("need noise_std >= 0, lr_1d > 0, lr > 0 and 0 <= momentum < 1")
        if not 0 < self.train_split < 1 or not 0 <= self.trend_tolerance < 1:
            raise ValueError("need 0 < train_split < 1 and 0 <= trend_tolerance < 1")


PRESETS = {
    "smoke": Config(
        members=3, datasets=2, steps=50, test_points=101, width=16, epochs=1, num_samples=1000, subsets=5
    ),
    "quick": Config(),
    "full": Config(members=16, datasets=50, steps=8000, epochs=100, num_samples=10000),
}


def beats_every_member(ensemble_error: Tensor, best_member_error: Tensor) -> bool:
    """The combination is below the best member's error on every training set (both (S,))."""
    return bool((ensemble_error < best_member_error).all())


def beats_best_member(member_wrong: Tensor, ensemble_wrong: Tensor) -> Comparison:
    """The combination errs less often than the best member, paired over test examples (0/1 errors, (N,))."""
    return paired_difference(member_wrong.double(), ensemble_wrong.double())


def falls_with_size(curve: Sequence[float], tolerance: float) -> bool:
    """The curve falls from K = 1 to K = M, no step up larger than ``tolerance`` × the total fall."""
    drop = curve[0] - curve[-1]
    return drop > 0 and largest_step_up(curve) <= tolerance * drop


def size_verdict(curve: Sequence[float], first: Tensor, last: Tensor, tolerance: float) -> Verdict:
    """Error falls with ensemble size: :func:`falls_with_size` and K = 1 above K = M by > 2 SE (paired units)."""
    return all_of(falls_with_size(curve, tolerance), paired_difference(first, last).verdict)


def run(cfg: Config, run: Run) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    dev = run.device
    m_count, s_count = cfg.members, cfg.datasets

    # == part 1: 1D regression ====================================================================================
    # -- data: S training sets, M bootstrap samples of each -------------------------------------------------------
    def training_set() -> tuple[Tensor, ...]:  # x, y (N, 1) and their M bootstrap samples (M, N, 1)
        xy = regression_1d(cfg.num_train, noise_std=cfg.noise_std, sampling="stratified", generator=generator)
        return *xy, *bootstrap_samples(xy, m_count, generator=generator)

    xs, ys, boot_x, boot_y = zip(*(training_set() for _ in range(s_count)), strict=True)
    x_boot, y_boot = torch.cat(boot_x).to(dev), torch.cat(boot_y).to(dev)  # (S·M, N, 1): member b = s·M + m

    # -- model and training: every member of every data set in one batched module --------------------------------
    nets = BatchedShallowNetwork(1, [cfg.hidden] * (s_count * m_count), 1, init="he", generator=generator)
    # He slopes, and joints −θ_0/θ_1 uniform on [0, 1] where the data are (the notebook fixes them at d/D)
    nets.uniform_joints(0.0, 1.0, generator=generator).to(dev)
    train_members_full_batch(  # each member's own MSE, (S·M,)
        nets,
        lambda: (nets(x_boot) - y_boot).pow(2).mean(dim=(1, 2)),
        Adam(nets.parameters(), lr=cfg.lr_1d),
        steps=cfg.steps,
        run=run,
        name="regression",
        metric="regression_train_mse",
        description="1D members (Adam steps)",
    )

    grid = torch.linspace(0, 1, cfg.test_points, device=dev).unsqueeze(1)  # (G, 1)
    truth = sine_exp_function(grid).squeeze(1)  # (G,)
    with torch.no_grad():
        fits = nets(grid).squeeze(-1).view(s_count, m_count, -1).cpu()  # (S, M, G)
    truth, grid = truth.cpu(), grid.cpu()

    regression = regression_ensemble_errors(fits, truth, cfg.subsets, generator)  # per training set
    member_err, (mean_err, median_err) = regression.member_error, regression.error.values()
    best_member = regression.best_member
    per_set_log = {  # one row per training set
        "member_mse_best": best_member,
        "member_mse_average": member_err.mean(dim=1),
        "ensemble_mean_mse": mean_err,
        "ensemble_median_mse": median_err,
    }
    for s in range(s_count):
        run.log(s, **{k: float(v[s]) for k, v in per_set_log.items()})
    curves_1d = {k: (v.sum(0) / s_count).tolist() for k, v in regression.size_curves.items()}  # set means

    # == part 2: MNIST-1D classification ==========================================================================
    data = load_mnist1d(MNIST1DConfig(num_samples=cfg.num_samples, train_split=cfg.train_split))
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)

    result = sweep_classifiers(
        [(cfg.width, cfg.width)] * m_count,
        bootstrap_samples((x_train, y_train), m_count, generator=generator, device=dev),
        (x_test, y_test),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        momentum=cfg.momentum,
        seeds=[cfg.seed + m for m in range(m_count)],
        order_seed=cfg.seed,
        run=run,
        name="mnist1d",
        description="MNIST-1D members",
        shared_order=False,
    )
    logits = result.outputs(x_test)  # (M, N_test, 10), members in order
    test_member = result.final("test_error")
    for m in range(m_count):
        run.log(m, member_test_error=test_member[m], member_train_error=result.final("train_error")[m])
    mnist = classifier_ensemble_errors(logits, y_test, cfg.subsets, generator)  # each combination's errors

    # -- check: the ambiguity decomposition (float64), which makes "the mean beats the average member" certain --
    terms = ambiguity_decomposition(fits.double(), truth.double(), dim=1)  # each (S, G)
    worst = float((terms.member_error - terms.ambiguity - terms.ensemble_error).abs().max())
    averaged = dict(zip(("average_member_mse", "spread", "mean_mse"), terms, strict=True))
    run.check(
        "ambiguity-decomposition",
        "1D regression: the ensemble mean's squared error is the members' average error minus their spread, on "
        "every training set (so the mean is never worse than the average member)",
        error=worst,
        tolerance=1e-10,
        measured={"max_abs_residual": worst, **{k: float(t.mean()) for k, t in averaged.items()}},
        expected="residual ≤ 1e-10 (float64 rounding)",
    )

    # -- claims ---------------------------------------------------------------------------------------------------
    regression_mse = regression.averages()  # over the training sets: in the first claim and the summary
    run.claim(
        "regression-beats-every-member",
        "1D regression (notebook 9.3): both the mean and the median of the bootstrap members are better than any "
        f"individual member, on every one of {s_count} training sets",
        holds=beats_every_member(torch.maximum(mean_err, median_err), best_member),
        measured={
            "training_sets": s_count,
            **{f"{k}_beats_all_members": int((e < best_member).sum()) for k, e in regression.error.items()},
            **regression_mse,
        },
        expected=f"mean and median below the best member's error on all {s_count} training sets",
    )
    median_vs_average = paired_difference(member_err.mean(dim=1).double(), median_err.double())
    claim_comparison(
        run,
        "regression-median-beats-average-member",
        "1D regression: the median of the members is better than the average member (paired over "
        f"{s_count} training sets, mean difference > 2 SE)",
        median_vs_average,
        expected="average member MSE − median MSE > 2 SE",
    )
    best = min(range(m_count), key=lambda m: test_member[m])
    versus_best = {k: beats_best_member(mnist.member_wrong[best], w) for k, w in mnist.wrong.items()}
    run.claim(
        "classification-beats-every-member",
        "MNIST-1D: the ensemble (mean of pre-softmax activations, mean of probabilities, most frequent class) has "
        f"a lower test error than the best of its {m_count} members (paired over {len(y_test)} test examples, "
        "mean difference > 2 SE, for each combination)",
        holds=all_of(*(c.verdict for c in versus_best.values())),
        measured={
            **{k: {"test_error": round(mnist.error[k], 4), **c.to_json()} for k, c in versus_best.items()},
            "best_member": round(test_member[best], 4),
            "worst_member": round(max(test_member), 4),
        },
        expected="best member − combination > 2 SE for every combination",
    )
    median_sets = regression.size_curves["median"]  # (S, M): per training set, K = 1..M
    size_parts = {  # curve, K = 1 and K = M per unit (units: training sets or test examples)
        "regression_median": (curves_1d["median"], median_sets[:, 0], median_sets[:, -1]),
        **{
            f"classification_{k}": (mnist.size_curves[k], mnist.member_wrong.mean(dim=0), mnist.wrong[k])
            for k in ("mean_logits", "mean_probabilities")
        },
    }
    run.claim(
        "error-falls-with-ensemble-size",
        "The error of the combined prediction falls as members are added, from K = 1 to K = M, monotone up to "
        f"small wiggles (no step up larger than {cfg.trend_tolerance:.0%} of the total fall) and K = M below K = 1 "
        f"by > 2 SE (paired over {s_count} training sets or {len(y_test)} test examples); 1D median, MNIST-1D mean "
        "logits and mean probabilities, averaged over member subsets",
        holds=all_of(*(size_verdict(c, k1, km, cfg.trend_tolerance) for c, k1, km in size_parts.values())),
        measured={
            k: {
                "K1": round(c[0], 4),
                f"K{m_count}": round(c[-1], 4),
                "largest_step_up": round(largest_step_up(c), 5),
                "ends": paired_difference(k1, km).to_json(),
            }
            for k, (c, k1, km) in size_parts.items()
        },
        expected=f"largest step up ≤ {cfg.trend_tolerance:g} × (K1 − K{m_count}) and K1 − K{m_count} > 2 SE",
    )
    run.summary(
        **{f"regression_{k}": v for k, v in regression_mse.items()},
        mnist1d_member_test_error_mean=sum(test_member) / m_count,
        **{f"mnist1d_{k}_test_error": v for k, v in mnist.error.items()},
    )

    # -- figure 1: the members of the first training set and their combinations (cf. notebook 9.3) ----------------
    combos = {k: (fit[0], float(regression.error[k][0])) for k, fit in regression.fit.items()}
    fig, axes = subplots(1, 2, width=5.2)
    g0, xs0, ys0, e0 = grid.squeeze(1), xs[0].squeeze(1), ys[0].squeeze(1), member_err[0].tolist()
    plot_members_and_combinations(axes[0], g0, fits[0], e0, combos, truth, xs0, ys0, ylim=(-1, 4))
    axes[0, 0].set(title=f"{m_count} bootstrap members (training set 1)")
    axes[0, 1].set(title=f"Combined (best member MSE {float(best_member[0]):.3f})")
    run.figure("members-and-ensemble", fig)

    # -- figure 2: error against ensemble size --------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.2)
    title = f"1D regression (average over {s_count} training sets)"
    plot_size_curves(axes[0, 0], curves_1d, ylabel="MSE to the true function", title=title)
    named = {name.replace("_", " "): curve for name, curve in mnist.size_curves.items()}
    title = "MNIST-1D, bagged MLPs"
    plot_size_curves(
        axes[0, 1], named, singles=test_member, markers="o^s", scale=100, ylabel="test error (%)", title=title
    )
    run.figure("error-vs-ensemble-size", fig)
