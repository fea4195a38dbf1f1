"""Fairness thresholds (UDL section 21.2.1, notebook 21.1): per-group thresholds for one classifier score under
blindness, demographic parity, equal opportunity and equalized odds, and what each costs in accuracy.

Protocol. For each seed, ``udl.data.fairness_tabular`` draws a training, a validation and a test set (minority
group 30%, base rates 0.5 / 0.3, class separation 2 / 1 standard deviations: the score is less informative for
the minority, so the groups' ROC curves differ). A small MLP sees only the features (not the group, though one
feature is a noisy proxy of it) and is trained with ``udl.train.fit`` (Adam, logistic loss); its logit is the
score. On the validation split ``udl.ethics.fit_thresholds`` picks, for each criterion, the most accurate
(randomized) per-group threshold rule meeting it: ``blind`` (one threshold for all), ``max_accuracy`` (each
group's own best threshold, no constraint), ``demographic_parity``, ``equal_opportunity`` and
``equalized_odds`` (one common ROC point, reached by mixing thresholds, Hardt et al. 2016). Everything is then
measured on the test split with the rules' expected decisions.

Checks (every preset): each criterion's constraint holds on the validation data it was fitted on (gap ≤ 1e-9); on
those data no constrained rule beats the unconstrained one, and equalized odds (a stronger constraint) never beats
equal opportunity. Claims (test split, paired by seed, bar 2 SE): each fairness criterion costs accuracy; equalized
odds costs more than equal opportunity; with unequal base rates demographic parity and equal opportunity conflict
(meeting one breaks the other); each fitted criterion transfers: its own gap on test is smaller than the blind
rule's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import fairness_tabular
from udl.ethics import (
    CRITERIA,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    fit_thresholds,
    group_rates,
    roc_curve,
)
from udl.experiments._recipes import seed_range
from udl.nn import MLP
from udl.optim import Adam
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, mean_se, paired_difference
from udl.train import fit

CHAPTER = 21
SECTION = "21.2.1"
SUMMARY = (
    "Per-group thresholds for demographic parity, equal opportunity, equalized odds: the accuracy each costs"
)
CONTEXT = (
    "Section 21.2.1 defines group fairness criteria for a classifier and a protected attribute: demographic parity "
    "(equal selection rates), equal opportunity (equal true-positive rates) and equalized odds (equal true- and "
    "false-positive rates); blindness to the attribute achieves none of them, and when base rates differ they "
    "cannot all hold at once. Each is met by choosing thresholds per group, at a cost in accuracy."
)

FAIR: tuple[str, ...] = ("demographic_parity", "equal_opportunity", "equalized_odds")
GAP = {"demographic_parity": "dp_gap", "equal_opportunity": "eo_gap", "equalized_odds": "eodds_gap"}


@dataclass(frozen=True)
class Config:
    num_train: int = 20000
    """training examples per seed"""
    num_val: int = 20000
    """validation examples per seed (the thresholds are chosen here)"""
    num_test: int = 50000
    """test examples per seed (accuracy and gaps are measured here)"""
    hidden: int = 16
    """hidden units of the one-hidden-layer MLP that produces the score"""
    epochs: int = 20
    """training epochs (Adam, batch 200)"""
    lr: float = 0.003
    """Adam learning rate"""
    seeds: int = 20
    """data draws and trainings (seed, seed+1, ...), paired across criteria; >= 2 for the claims"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        at_least(self, 100, "num_train", "num_val", "num_test", why="both classes in both groups")
        at_least(self, 1, "hidden", "epochs", "seeds")


PRESETS = {
    "smoke": Config(num_train=1000, num_val=1000, num_test=2000, epochs=3, seeds=2),
    "quick": Config(num_train=10000, num_val=10000, num_test=50000, epochs=15, seeds=20),
    "full": Config(),
}


def costs_accuracy_verdict(accuracy: dict[str, list[float]]) -> Verdict:
    """Every fairness criterion's test accuracy is below the unconstrained rule's (paired, > 2 SE each)."""
    return all_of(*(paired_difference(accuracy["max_accuracy"], accuracy[c]).verdict for c in FAIR))


def odds_cost_verdict(accuracy: dict[str, list[float]]) -> Verdict:
    """Equalized odds' test accuracy is below equal opportunity's (paired, > 2 SE)."""
    return paired_difference(accuracy["equal_opportunity"], accuracy["equalized_odds"]).verdict


def conflict_verdict(gaps: dict[str, dict[str, list[float]]]) -> Verdict:
    """The parity rule's TPR gap exceeds the opportunity rule's, and the opportunity rule's selection-rate gap
    exceeds the parity rule's (paired, > 2 SE each): meeting one criterion breaks the other."""
    dp, eo = gaps["demographic_parity"], gaps["equal_opportunity"]
    return all_of(
        paired_difference(dp["eo_gap"], eo["eo_gap"]).verdict,
        paired_difference(eo["dp_gap"], dp["dp_gap"]).verdict,
    )


def transfer_verdict(gaps: dict[str, dict[str, list[float]]]) -> Verdict:
    """Each fitted criterion's own gap on test is below the blind rule's gap (paired, > 2 SE each)."""
    return all_of(*(paired_difference(gaps["blind"][GAP[c]], gaps[c][GAP[c]]).verdict for c in FAIR))


def _score_model(cfg: Config, x: Tensor, y: Tensor, run: Run, seed: int) -> nn.Module:
    model = MLP(x.shape[1], (cfg.hidden,), 1, generator=torch.Generator().manual_seed(seed))
    fit(
        model,
        lambda out, target: nn.functional.binary_cross_entropy_with_logits(out.squeeze(1), target),
        Adam(model.parameters(), lr=cfg.lr),
        (x, y),
        epochs=cfg.epochs,
        batch_size=200,
        generator=torch.Generator().manual_seed(seed),
        run=run,
        name=f"score-seed{seed}",
        checkpoint_every=cfg.epochs,
    )
    return model.eval()


def run(cfg: Config, run: Run) -> None:
    accuracy: dict[str, list[float]] = {c: [] for c in CRITERIA}
    gaps: dict[str, dict[str, list[float]]] = {c: {g: [] for g in GAP.values()} for c in CRITERIA}
    fit_gap = {c: 0.0 for c in FAIR}
    dominance, nesting = 0.0, 0.0
    shown = None
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        train, val, test = (
            fairness_tabular(n, generator=g) for n in (cfg.num_train, cfg.num_val, cfg.num_test)
        )
        mean, std = train.x.mean(0), train.x.std(0)
        model = _score_model(cfg, ((train.x - mean) / std).float(), train.y.float(), run, seed)
        with torch.no_grad():
            s_val, s_test = (model(((d.x - mean) / std).float()).squeeze(1).double() for d in (val, test))
        rules = {c: fit_thresholds(val.y, s_val, val.a, c) for c in CRITERIA}
        val_acc: dict[str, float] = {}
        for c, rule in rules.items():
            p_val = rule.predict_proba(s_val, val.a)
            val_acc[c] = float(group_rates(val.y, p_val, torch.zeros_like(val.a)).accuracy[0])
            if c in FAIR:
                measure = {
                    "demographic_parity": demographic_parity_difference,
                    "equal_opportunity": equal_opportunity_difference,
                    "equalized_odds": equalized_odds_difference,
                }[c]
                fit_gap[c] = max(fit_gap[c], measure(val.y, p_val, sensitive_features=val.a))
            p = rule.predict_proba(s_test, test.a)
            accuracy[c].append(float(group_rates(test.y, p, torch.zeros_like(test.a)).accuracy[0]))
            kw = {"sensitive_features": test.a}
            gaps[c]["dp_gap"].append(demographic_parity_difference(test.y, p, **kw))
            gaps[c]["eo_gap"].append(equal_opportunity_difference(test.y, p, **kw))
            gaps[c]["eodds_gap"].append(equalized_odds_difference(test.y, p, **kw))
        dominance = max(dominance, *(val_acc[c] - val_acc["max_accuracy"] for c in (*FAIR, "blind")))
        nesting = max(nesting, val_acc["equalized_odds"] - val_acc["equal_opportunity"])
        run.log(seed, **{f"test_accuracy_{c}": accuracy[c][-1] for c in CRITERIA})
        if shown is None:
            shown = (val, s_val, rules)

    # -- checks: exact properties on the data the thresholds were fitted on --------------------------------------
    for fair in FAIR:
        run.check(
            f"{fair.replace('_', '-')}-met-on-fit-data",
            f"The {fair.replace('_', ' ')} rule meets its constraint on the validation data it was fitted on "
            f"(largest {GAP[fair].replace('_', ' ')} of its expected decisions over {cfg.seeds} seeds)",
            error=fit_gap[fair],
            tolerance=1e-9,
        )
    run.check(
        "unconstrained-rule-most-accurate-on-fit-data",
        "On the fitting data no rule beats each group's own best threshold (largest accuracy excess)",
        error=max(dominance, 0.0),
        tolerance=1e-12,
    )
    run.check(
        "equalized-odds-no-better-than-equal-opportunity-on-fit-data",
        "Equalized odds constrains more than equal opportunity, so on the fitting data it is never more accurate",
        error=max(nesting, 0.0),
        tolerance=1e-12,
    )

    # -- claims on the test split ----------------------------------------------------------------------------
    n = cfg.seeds
    cost = {c: paired_difference(accuracy["max_accuracy"], accuracy[c]) for c in FAIR}
    run.claim(
        "fairness-costs-accuracy",
        f"Each fairness criterion costs test accuracy against each group's own best threshold (paired, {n} seeds)",
        holds=costs_accuracy_verdict(accuracy),
        measured={c: cost[c].describe("accuracy", 4) for c in FAIR},
        expected="each difference > 2 SE",
    )
    odds = paired_difference(accuracy["equal_opportunity"], accuracy["equalized_odds"])
    run.claim(
        "equalized-odds-costs-more",
        f"Equalized odds costs more test accuracy than equal opportunity (paired, {n} seeds)",
        holds=odds_cost_verdict(accuracy),
        measured=odds.describe("accuracy", 4),
        expected="> 2 SE",
    )
    dp, eo = gaps["demographic_parity"], gaps["equal_opportunity"]
    run.claim(
        "parity-and-opportunity-conflict",
        "With unequal base rates, demographic parity and equal opportunity conflict: the parity rule has the larger "
        f"TPR gap, the opportunity rule the larger selection-rate gap (test, paired, {n} seeds)",
        holds=conflict_verdict(gaps),
        measured={
            "tpr_gap_dp_minus_eo_rule": paired_difference(dp["eo_gap"], eo["eo_gap"]).describe("", 4),
            "selection_gap_eo_minus_dp_rule": paired_difference(eo["dp_gap"], dp["dp_gap"]).describe("", 4),
        },
        expected="both > 2 SE",
    )
    run.claim(
        "fitted-criteria-transfer-to-test",
        f"Thresholds fitted on validation data keep each criterion's gap on test below the blind rule's ({n} seeds)",
        holds=transfer_verdict(gaps),
        measured={c: paired_difference(gaps["blind"][GAP[c]], gaps[c][GAP[c]]).describe("", 4) for c in FAIR},
        expected="each difference > 2 SE",
    )
    run.summary(
        **{f"test_accuracy_{c}": mean_se(accuracy[c]).mean for c in CRITERIA},
        **{f"test_{k}_{c}": mean_se(v).mean for c in CRITERIA for k, v in gaps[c].items()},
    )

    # -- figures ---------------------------------------------------------------------------------------------
    assert shown is not None
    val, s_val, rules = shown
    fig, axes = subplots(1, 2, width=5.0, height=4.2)
    ax = axes[0, 0]
    markers = {"blind": "o", "max_accuracy": "s", "demographic_parity": "^", "equal_opportunity": "v"}
    markers["equalized_odds"] = "*"
    for grp, colour in ((0, "#3b5ba5"), (1, "#e07b39")):
        m = val.a == grp
        f, t, _ = roc_curve(val.y[m], s_val[m])
        ax.plot(f, t, color=colour, label=f"group {grp} ROC (validation)")
        for c, rule in rules.items():
            r = group_rates(val.y[m], rule.predict_proba(s_val[m], val.a[m]), val.a[m])
            ax.plot(r.fpr, r.tpr, markers[c], color=colour, markersize=9, markeredgecolor="black")
    for name, mk in markers.items():
        ax.plot([], [], mk, color="grey", markeredgecolor="black", label=name.replace("_", " "))
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=f"ROC per group, seed {cfg.seed}")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[0, 1]
    names = list(CRITERIA)
    means = [mean_se(accuracy[c]) for c in names]
    ax.bar(range(len(names)), [s.mean for s in means], yerr=[s.se for s in means], color="#8da0cb")
    low = min(s.mean for s in means)
    ax.set_ylim(low - 0.03, max(s.mean for s in means) + 0.01)
    ax.set_xticks(range(len(names)), [c.replace("_", "\n") for c in names], fontsize=8)
    ax.set(ylabel="test accuracy (mean ± SE)", title=f"Accuracy per criterion, {n} seeds")
    run.figure("roc-and-accuracy", fig)

    fig, axes = subplots(1, 3, width=3.6, height=3.4)
    for ax, key, title in zip(
        axes[0], GAP.values(), ("selection-rate gap", "TPR gap", "max(TPR, FPR) gap"), strict=True
    ):
        vals = [mean_se(gaps[c][key]) for c in names]
        ax.bar(range(len(names)), [v.mean for v in vals], yerr=[v.se for v in vals], color="#66c2a5")
        ax.set_xticks(range(len(names)), [c.replace("_", "\n") for c in names], fontsize=6)
        ax.set(title=f"test {title}", ylabel="gap between groups")
    run.figure("test-gaps", fig)
