"""udl.ethics fairness: group metrics vs fairlearn, the ROC curve vs scikit-learn, the ROC hull vs brute force, and
the fitted thresholds vs a linear program over every mixture of each group's thresholds (scipy's HiGHS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from scipy.optimize import linprog
from sklearn.metrics import accuracy_score
from sklearn.metrics import roc_curve as sk_roc_curve

from udl import ethics
from udl.data import fairness_tabular


def _data(n: int = 600, seed: int = 0, groups: int = 2):
    g = torch.Generator().manual_seed(seed)
    d = fairness_tabular(n, generator=g)
    a = d.a if groups == 2 else torch.randint(0, groups, (n,), generator=g)
    score = d.x[:, :3].mean(1) + 0.3 * d.x[:, 3]
    return d.y, score, a


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_metrics_equal_fairlearn_on_hard_predictions(seed: int) -> None:
    y, s, a = _data(seed=seed, groups=3)
    pred = (s > s.median()).long()
    yn, pn, an = y.numpy(), pred.numpy(), a.numpy()
    ours = ethics.group_rates(y, pred, a)
    frame = MetricFrame(
        metrics={
            "sel": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "acc": accuracy_score,
        },
        y_true=yn,
        y_pred=pn,
        sensitive_features=an,
    ).by_group
    np.testing.assert_allclose(ours.selection_rate.numpy(), frame["sel"].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.tpr.numpy(), frame["tpr"].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.fpr.numpy(), frame["fpr"].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.accuracy.numpy(), frame["acc"].to_numpy(), rtol=0, atol=1e-12)
    kw = {"sensitive_features": an}
    assert ethics.demographic_parity_difference(y, pred, sensitive_features=a) == pytest.approx(
        demographic_parity_difference(yn, pn, **kw), abs=1e-12
    )
    assert ethics.equalized_odds_difference(y, pred, sensitive_features=a) == pytest.approx(
        equalized_odds_difference(yn, pn, **kw), abs=1e-12
    )
    assert ethics.equal_opportunity_difference(y, pred, sensitive_features=a) == pytest.approx(
        equal_opportunity_difference(yn, pn, **kw), abs=1e-12
    )


def test_expected_rates_of_a_randomized_rule_equal_fairlearn_with_weights() -> None:
    """A probability p of a positive decision is the data set with each example twice: ŷ=1 with weight p and
    ŷ=0 with weight 1 − p (fairlearn's sample_weight)."""
    y, s, a = _data(seed=3)
    p = torch.sigmoid(s).double()
    ours = ethics.group_rates(y, p, a)
    yy, aa = np.concatenate([y.numpy()] * 2), np.concatenate([a.numpy()] * 2)
    pp = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    w = np.concatenate([p.numpy(), 1 - p.numpy()])
    frame = MetricFrame(
        metrics={"sel": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=yy,
        y_pred=pp,
        sensitive_features=aa,
        sample_params={k: {"sample_weight": w} for k in ("sel", "tpr", "fpr")},
    ).by_group
    np.testing.assert_allclose(ours.selection_rate.numpy(), frame["sel"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.tpr.numpy(), frame["tpr"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.fpr.numpy(), frame["fpr"].to_numpy(), atol=1e-12)
    assert ethics.equalized_odds_difference(y, p, sensitive_features=a) == pytest.approx(
        equalized_odds_difference(yy, pp, sensitive_features=aa, sample_weight=w), abs=1e-12
    )


@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_equals_sklearn(ties: bool) -> None:
    y, s, _ = _data(seed=4)
    if ties:
        s = (s * 2).round() / 2  # many equal scores
    fpr, tpr, thr = ethics.roc_curve(y, s)
    sf, st, sthr = sk_roc_curve(y.numpy(), s.numpy(), drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sf, atol=1e-12)
    np.testing.assert_allclose(tpr.numpy(), st, atol=1e-12)
    np.testing.assert_array_equal(thr.numpy(), sthr)


def test_roc_convex_hull_is_the_upper_hull() -> None:
    """Every ROC point lies on or under the hull, the hull is concave, and its vertices are ROC points."""
    y, s, _ = _data(n=300, seed=5)
    fpr, tpr, thr = ethics.roc_curve(y, s)
    hf, ht, hthr = ethics.roc_convex_hull(fpr, tpr, thr)
    assert (hf[0], ht[0], hf[-1], ht[-1]) == (0, 0, 1, 1)
    slopes = torch.diff(ht) / torch.diff(hf)
    assert bool((torch.diff(slopes) < 0).all())  # strictly concave
    under = np.interp(fpr.numpy(), hf.numpy(), ht.numpy())
    assert bool((tpr.numpy() <= under + 1e-12).all())
    assert set(hthr.tolist()) <= set(thr.tolist())


def _lp_optimum(y: torch.Tensor, s: torch.Tensor, a: torch.Tensor, criterion: str) -> float:
    """The most accurate mixture of thresholds per group meeting the criterion, over every ROC point (not only the
    hull's): a linear program in the mixing weights."""
    groups = torch.unique(a).tolist()
    blocks = []
    for g in groups:
        m = a == g
        f, t, _ = ethics.roc_curve(y[m], s[m])
        p, n = float(y[m].sum()), float((1 - y[m]).sum())
        blocks.append((f.numpy(), t.numpy(), p, n))
    sizes = [len(b[0]) for b in blocks]
    total = sum(sizes)
    offsets = np.cumsum([0, *sizes])
    c = np.zeros(total)
    a_eq, b_eq = [], []
    rows = []
    for i, (f, t, p, n) in enumerate(blocks):
        sl = slice(offsets[i], offsets[i + 1])
        c[sl] = -(p * t + n * (1 - f))
        one = np.zeros(total)
        one[sl] = 1
        a_eq.append(one)
        b_eq.append(1.0)
        rate = {"demographic_parity": [(p * t + n * f) / (p + n)], "equal_opportunity": [t]}.get(
            criterion, [t, f]
        )
        rows.append([(sl, r) for r in rate])
    for i in range(1, len(blocks)):
        for (sl0, r0), (sl1, r1) in zip(rows[0], rows[i], strict=True):
            row = np.zeros(total)
            row[sl0], row[sl1] = r0, -r1
            a_eq.append(row)
            b_eq.append(0.0)
    res = linprog(c, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, 1), method="highs")
    assert res.status == 0
    return -res.fun / len(y)


@pytest.mark.parametrize("criterion", ["demographic_parity", "equal_opportunity", "equalized_odds"])
@pytest.mark.parametrize(
    ("seed", "groups", "ties"), [(0, 2, False), (1, 2, False), (2, 3, False), (3, 2, True)]
)
def test_fitted_thresholds_meet_the_criterion_and_equal_the_lp_optimum(criterion, seed, groups, ties) -> None:
    y, s, a = _data(n=400, seed=seed, groups=groups)
    if ties:
        s = (s * 3).round() / 3  # a dozen distinct scores: few ROC points per group
    rule = ethics.fit_thresholds(y, s, a, criterion)
    assert torch.allclose(rule.weights.sum(1), torch.ones(len(rule.groups), dtype=torch.float64))
    assert bool((rule.weights >= -1e-15).all())
    p = rule.predict_proba(s, a)
    r = ethics.group_rates(y, p, a)
    gaps = {
        "demographic_parity": [r.selection_rate],
        "equal_opportunity": [r.tpr],
        "equalized_odds": [r.tpr, r.fpr],
    }[criterion]
    assert max(float(v.max() - v.min()) for v in gaps) < 1e-12
    accuracy = float((p * y + (1 - p) * (1 - y)).mean())
    assert accuracy == pytest.approx(_lp_optimum(y, s, a, criterion), abs=1e-9)


def test_blind_and_max_accuracy_are_the_best_deterministic_thresholds() -> None:
    y, s, a = _data(n=300, seed=6)
    cands = torch.cat([s.unique(), torch.tensor([float("inf")], dtype=torch.float64)])
    acc = ((s[None] >= cands[:, None]).long() == y[None]).double().mean(1)  # brute force over thresholds
    blind = ethics.fit_thresholds(y, s, a, "blind")
    assert (blind.thresholds[0] == blind.thresholds[1]).all()
    pb = blind.predict_proba(s, a)
    assert float((pb.round() == y).double().mean()) == pytest.approx(float(acc.max()), abs=1e-12)
    best = ethics.fit_thresholds(y, s, a, "max_accuracy").predict_proba(s, a)
    for g in (0, 1):
        m = a == g
        acc_g = ((s[m][None] >= cands[:, None]).long() == y[m][None]).double().mean(1)
        assert float((best[m] == y[m]).double().mean()) == pytest.approx(float(acc_g.max()), abs=1e-12)


def test_randomized_predictions_match_the_expected_rates() -> None:
    y, s, a = _data(n=2000, seed=7)
    rule = ethics.fit_thresholds(y, s, a, "equalized_odds")
    draws = torch.stack([rule.predict(s, a, generator=torch.Generator().manual_seed(i)) for i in range(200)])
    assert torch.allclose(draws.double().mean(0), rule.predict_proba(s, a), atol=0.15)
    assert float((draws.double().mean(0) - rule.predict_proba(s, a)).abs().mean()) < 0.03


def test_bad_input() -> None:
    y, s, a = _data(n=50)
    with pytest.raises(ValueError, match="criterion must be one of"):
        ethics.fit_thresholds(y, s, a, "fairness")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="binary"):
        ethics.group_rates(y + 2, y, a)
    with pytest.raises(ValueError, match="y_pred"):
        ethics.group_rates(y, y[:-1], a)
    with pytest.raises(ValueError, match="both classes"):
        ethics.roc_curve(torch.ones(5), torch.arange(5.0))
    rule = ethics.fit_thresholds(y, s, a, "blind")
    with pytest.raises(ValueError, match="not fitted"):
        rule.predict_proba(s, a + 5)
