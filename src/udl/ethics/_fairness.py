"""Group fairness (UDL section 21.2.1, notebook 21.1): group rates, the criteria's gaps, ROC curves and their convex
hulls, and per-group (randomized) thresholds that meet blindness, demographic parity, equal opportunity or
equalized odds.

A decision rule here thresholds a classifier score s: predict 1 iff s ≥ t (scikit-learn's ``roc_curve``
convention). A *randomized* rule for group g draws threshold t_gk with probability w_gk; its expected decision is
Σ_k w_gk 1[s ≥ t_gk], so every group rate of it is the same mixture of the rates of its thresholds. Mixing two ROC
points reaches every point of the segment between them (Hardt, Price & Srebro, 2016): any point under a group's
ROC convex hull (and above the chance diagonal) is a rule's operating point. Predictions may be probabilities of a
positive decision in [0, 1]: the rates are then the randomized rule's expected rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor

__all__ = [
    "CRITERIA",
    "Criterion",
    "GroupRates",
    "ThresholdRule",
    "demographic_parity_difference",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "fit_thresholds",
    "group_rates",
    "roc_convex_hull",
    "roc_curve",
]

Criterion = Literal["blind", "max_accuracy", "demographic_parity", "equal_opportunity", "equalized_odds"]
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)


def _as_1d(name: str, value: Tensor, n: int | None = None) -> Tensor:
    value = torch.as_tensor(value)
    if value.ndim != 1 or (n is not None and value.numel() != n):
        want = f"({n},)" if n is not None else "1-D"
        raise ValueError(f"{name} must be a {want} tensor, got shape {tuple(value.shape)}")
    return value


def _validate(y_true: Tensor, y_pred: Tensor, sensitive_features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    y_true = _as_1d("y_true", y_true)
    n = y_true.numel()
    y_pred = _as_1d("y_pred", y_pred, n).to(torch.float64)
    groups = _as_1d("sensitive_features", sensitive_features, n)
    if n == 0:
        raise ValueError("y_true is empty")
    if not bool(((y_true == 0) | (y_true == 1)).all()):
        raise ValueError("y_true must hold binary labels 0/1")
    if not bool(((y_pred >= 0) & (y_pred <= 1)).all()):
        raise ValueError("y_pred must hold decisions 0/1 or probabilities of a positive decision in [0, 1]")
    return y_true.to(torch.float64), y_pred, groups


@dataclass(frozen=True)
class GroupRates:
    """Per-group rates of a decision (each a (G,) float64 tensor, groups in increasing order)."""

    groups: Tensor
    """the distinct values of the sensitive feature"""
    count: Tensor
    """examples per group"""
    selection_rate: Tensor
    """P(ŷ = 1 | a): demographic parity equalizes it (UDL section 21.2.1)"""
    tpr: Tensor
    """true-positive rate P(ŷ = 1 | y = 1, a): equal opportunity equalizes it (NaN without positives)"""
    fpr: Tensor
    """false-positive rate P(ŷ = 1 | y = 0, a): equalized odds equalizes it with the TPR (NaN without negatives)"""
    accuracy: Tensor
    """P(ŷ = y | a)"""


def group_rates(y_true: Tensor, y_pred: Tensor, sensitive_features: Tensor) -> GroupRates:
    """Selection rate, TPR, FPR and accuracy of ``y_pred`` within each group (fairlearn's ``MetricFrame(...).by_group``
    with ``selection_rate``, ``true_positive_rate``, ``false_positive_rate`` and ``accuracy_score``).

    ``y_pred`` may be probabilities of a positive decision: the rates are then expectations over the randomization.
    """
    y, p, a = _validate(y_true, y_pred, sensitive_features)
    groups, index = torch.unique(a, sorted=True, return_inverse=True)
    g = groups.numel()

    def per_group(values: Tensor) -> Tensor:
        return torch.zeros(g, dtype=torch.float64).index_add_(0, index, values)

    count, positives = per_group(torch.ones_like(y)), per_group(y)
    selected, true_pos = per_group(p), per_group(p * y)
    correct = per_group(p * y + (1 - p) * (1 - y))
    return GroupRates(
        groups=groups,
        count=count,
        selection_rate=selected / count,
        tpr=true_pos / positives,
        fpr=(selected - true_pos) / (count - positives),
        accuracy=correct / count,
    )


def _spread(values: Tensor) -> float:
    return float(values.max() - values.min())


def demographic_parity_difference(y_true: Tensor, y_pred: Tensor, *, sensitive_features: Tensor) -> float:
    """max_a P(ŷ=1|a) − min_a P(ŷ=1|a) (fairlearn's, ``method="between_groups"``); 0 is demographic parity."""
    return _spread(group_rates(y_true, y_pred, sensitive_features).selection_rate)


def equal_opportunity_difference(y_true: Tensor, y_pred: Tensor, *, sensitive_features: Tensor) -> float:
    """The largest gap in true-positive rate between groups (fairlearn's, between groups); 0 is equal opportunity."""
    return _spread(group_rates(y_true, y_pred, sensitive_features).tpr)


def equalized_odds_difference(y_true: Tensor, y_pred: Tensor, *, sensitive_features: Tensor) -> float:
    """max(TPR gap, FPR gap) between groups (fairlearn's, ``agg="worst_case"``); 0 is equalized odds."""
    r = group_rates(y_true, y_pred, sensitive_features)
    return max(_spread(r.tpr), _spread(r.fpr))


def roc_curve(y_true: Tensor, y_score: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The ROC curve (fpr, tpr, thresholds), one point per distinct score, thresholds decreasing from +inf.

    The same as ``sklearn.metrics.roc_curve(y_true, y_score, drop_intermediate=False)``: point k is the rule
    "ŷ = 1 iff s ≥ thresholds[k]"; the first point (threshold +inf) selects nobody, the last everybody.
    Needs both classes.
    """
    y = _as_1d("y_true", y_true).to(torch.float64)
    s = _as_1d("y_score", y_score, y.numel()).to(torch.float64)
    positives = float(y.sum())
    if positives == 0 or positives == y.numel():
        raise ValueError("roc_curve needs both classes in y_true")
    order = torch.argsort(s, descending=True, stable=True)
    s, y = s[order], y[order]
    tp, fp = torch.cumsum(y, 0), torch.cumsum(1 - y, 0)
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # the last example of each run of equal scores
    zero = torch.zeros(1, dtype=torch.float64)
    fpr = torch.cat([zero, fp[last] / (y.numel() - positives)])
    tpr = torch.cat([zero, tp[last] / positives])
    thresholds = torch.cat([torch.tensor([float("inf")], dtype=torch.float64), s[last]])
    return fpr, tpr, thresholds


def roc_convex_hull(fpr: Tensor, tpr: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The vertices of the upper convex hull of ROC points ordered by increasing fpr, from (0, 0) to (1, 1).

    Each pass drops, all at once, every interior point that does not make a strictly concave turn with its current
    neighbours (it lies on or below their chord, so it is no hull vertex); passes repeat until none is dropped.
    Returns the hull's (fpr, tpr, thresholds): mixing two neighbouring vertices' thresholds reaches every point of
    the edge between them.
    """
    keep = torch.arange(fpr.numel())
    while keep.numel() > 2:
        x, y = fpr[keep], tpr[keep]
        # cross product of (p_i − p_{i−1}) and (p_{i+1} − p_i): > 0 is a left (convex) turn, 0 collinear
        cross = (x[1:-1] - x[:-2]) * (y[2:] - y[1:-1]) - (y[1:-1] - y[:-2]) * (x[2:] - x[1:-1])
        concave = torch.ones_like(x, dtype=torch.bool)
        concave[1:-1] = cross < 0
        if bool(concave.all()):
            break
        keep = keep[concave]
    return fpr[keep], tpr[keep], thresholds[keep]


@dataclass(frozen=True)
class ThresholdRule:
    """Per-group randomized thresholds: group ``groups[g]`` uses threshold ``thresholds[g, k]`` with probability
    ``weights[g, k]`` (rows sum to 1; ±inf thresholds select nobody / everybody)."""

    groups: Tensor
    """(G,) the sensitive-feature values, increasing"""
    thresholds: Tensor
    """(G, K) float64"""
    weights: Tensor
    """(G, K) float64, non-negative, rows summing to 1"""

    def _rows(self, sensitive_features: Tensor) -> Tensor:
        a = torch.as_tensor(sensitive_features)
        rows = torch.searchsorted(self.groups, a).clamp(max=self.groups.numel() - 1)
        if not bool((self.groups[rows] == a).all()):
            raise ValueError(
                f"sensitive_features holds a group the rule was not fitted on; known: {self.groups}"
            )
        return rows

    def predict_proba(self, y_score: Tensor, sensitive_features: Tensor) -> Tensor:
        """P(ŷ = 1) = Σ_k w_gk 1[s ≥ t_gk] for each example (float64)."""
        rows = self._rows(sensitive_features)
        s = torch.as_tensor(y_score, dtype=torch.float64).unsqueeze(1)  # (N, 1)
        return ((s >= self.thresholds[rows]).double() * self.weights[rows]).sum(1)

    def predict(self, y_score: Tensor, sensitive_features: Tensor, *, generator: torch.Generator) -> Tensor:
        """One draw of the randomized decisions (int64 0/1): each example draws its threshold independently."""
        rows = self._rows(sensitive_features)
        pick = torch.multinomial(self.weights[rows], 1, generator=generator)  # (N, 1)
        threshold = self.thresholds[rows].gather(1, pick).squeeze(1)
        return (torch.as_tensor(y_score, dtype=torch.float64) >= threshold).long()


def _segment(axis: Tensor, target: Tensor, *, right: bool) -> tuple[Tensor, Tensor, Tensor]:
    """For each target on a non-decreasing axis: the hull edge (lo, lo+1) holding it and the weight λ of vertex
    lo+1. ``right``: on a flat stretch take its last vertex (most of the other coordinate), else its first."""
    # right: lo = the last vertex with axis ≤ target; left: hi = the first vertex with axis ≥ target
    lo = (torch.searchsorted(axis, target, right=right) - 1).clamp(0, axis.numel() - 2)
    width = axis[lo + 1] - axis[lo]
    lam = torch.where(width > 0, (target - axis[lo]) / width.clamp(min=1e-300), torch.zeros_like(target))
    return lo, lo + 1, lam.clamp(0, 1)


def _interp(axis: Tensor, values: Tensor, target: Tensor, *, right: bool) -> Tensor:
    lo, hi, lam = _segment(axis, target, right=right)
    return (1 - lam) * values[lo] + lam * values[hi]


def _crossings(f1: Tensor, t1: Tensor, f2: Tensor, t2: Tensor) -> Tensor:
    """The fprs where two piecewise-linear hulls cross (every pair of edges, vectorized)."""
    a0, a1, b0, b1 = f1[:-1, None], f1[1:, None], t1[:-1, None], t1[1:, None]  # (S1, 1)
    c0, c1, d0, d1 = f2[None, :-1], f2[None, 1:], t2[None, :-1], t2[None, 1:]  # (1, S2)
    s1 = (b1 - b0) / (a1 - a0).clamp(min=1e-300)
    s2 = (d1 - d0) / (c1 - c0).clamp(min=1e-300)
    x = (d0 - c0 * s2 - b0 + a0 * s1) / (s1 - s2)  # where b0 + s1 (x − a0) = d0 + s2 (x − c0)
    lo, hi = torch.maximum(a0, c0), torch.minimum(a1, c1)
    ok = (a1 > a0) & (c1 > c0) & (s1 != s2) & (x >= lo) & (x <= hi)
    return x[ok]


def fit_thresholds(
    y_true: Tensor, y_score: Tensor, sensitive_features: Tensor, criterion: Criterion
) -> ThresholdRule:
    """The most accurate threshold rule (on these data) that meets ``criterion`` (notebook 21.1):

    - ``"blind"``: one threshold for every group (fairness through unawareness of the group);
    - ``"max_accuracy"``: each group's own most accurate threshold (no constraint);
    - ``"demographic_parity"``: equal selection rates P(ŷ=1|a);
    - ``"equal_opportunity"``: equal true-positive rates P(ŷ=1|y=1,a);
    - ``"equalized_odds"``: equal TPR and FPR: one common ROC point, under every group's ROC convex hull.

    The constrained rules mix thresholds (Hardt et al., 2016): each group's operating point lies on its ROC convex
    hull (for equalized odds: below it, mixed with the chance diagonal), and accuracy, a linear function of the
    common rate, is maximized exactly over the hulls' breakpoints. On the fitted data the rule's expected rates meet
    the constraint up to rounding.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    y, s, a = _validate(y_true, torch.zeros(torch.as_tensor(y_true).numel()), sensitive_features)
    s = _as_1d("y_score", y_score, y.numel()).to(torch.float64)
    if not bool(torch.isfinite(s).all()):
        raise ValueError("y_score must be finite")
    groups = torch.unique(a, sorted=True)
    inf = float("inf")

    def rule(thresholds: list[Tensor], weights: list[Tensor]) -> ThresholdRule:
        k = max(t.numel() for t in thresholds)
        pad = [torch.cat([t, torch.full((k - t.numel(),), inf, dtype=torch.float64)]) for t in thresholds]
        padw = [torch.cat([w, torch.zeros(k - w.numel(), dtype=torch.float64)]) for w in weights]
        return ThresholdRule(groups, torch.stack(pad), torch.stack(padw))

    one = torch.ones(1, dtype=torch.float64)
    if criterion == "blind":
        fpr, tpr, thr = roc_curve(y, s)
        p = float(y.sum())
        best = int(torch.argmax(p * tpr + (y.numel() - p) * (1 - fpr)))
        return rule([thr[best : best + 1]] * groups.numel(), [one] * groups.numel())

    hulls, pos, neg = [], [], []
    for g in groups:
        mask = a == g
        yg = y[mask]
        if yg.sum() == 0 or yg.sum() == yg.numel():
            raise ValueError(f"group {g.item()} needs both classes to fit {criterion} thresholds")
        hulls.append(roc_convex_hull(*roc_curve(yg, s[mask])))
        pos.append(float(yg.sum()))
        neg.append(float(yg.numel() - yg.sum()))
    if criterion == "max_accuracy":
        picks = [
            int(torch.argmax(p * t + q * (1 - f))) for (f, t, _), p, q in zip(hulls, pos, neg, strict=True)
        ]
        return rule([h[2][i : i + 1] for h, i in zip(hulls, picks, strict=True)], [one] * groups.numel())

    if criterion in ("demographic_parity", "equal_opportunity"):
        # the common rate: selection rate (DP) or TPR (EO); per group, the hull point with that rate
        axes = [
            (p * t + q * f) / (p + q) if criterion == "demographic_parity" else t
            for (f, t, _), p, q in zip(hulls, pos, neg, strict=True)
        ]
        candidates = torch.unique(torch.cat(axes))
        correct = torch.stack(
            [
                _interp(ax, p * t + q * (1 - f), candidates, right=False)
                for ax, (f, t, _), p, q in zip(axes, hulls, pos, neg, strict=True)
            ]
        ).sum(0)
        target = candidates[int(torch.argmax(correct))].reshape(1)
        thresholds, weights = [], []
        for ax, (_, _, thr) in zip(axes, hulls, strict=True):
            lo, hi, lam = _segment(ax, target, right=False)
            thresholds.append(torch.cat([thr[lo], thr[hi]]))
            weights.append(torch.cat([1 - lam, lam]))
        return rule(thresholds, weights)

    # equalized odds: maximize P·t − N·f over the common points (f, t ≤ min_g hull_g(f)); the objective is concave
    # and piecewise linear in f, so its maximum is at a hull vertex of some group or where two hulls cross.
    cands = [h[0] for h in hulls]
    for i in range(len(hulls)):
        for j in range(i + 1, len(hulls)):
            cands.append(_crossings(hulls[i][0], hulls[i][1], hulls[j][0], hulls[j][1]))
    f_cand = torch.unique(torch.cat(cands).clamp(0, 1))
    envelope = torch.stack([_interp(f, t, f_cand, right=True) for f, t, _ in hulls]).min(0).values
    best = int(torch.argmax(sum(pos) * envelope - sum(neg) * f_cand))
    f_star, t_star = f_cand[best : best + 1], envelope[best : best + 1]
    thresholds, weights = [], []
    for f, t, thr in hulls:
        lo, hi, mu = _segment(f, f_star, right=True)
        top = (1 - mu) * t[lo] + mu * t[hi]  # the hull's TPR at f*: ≥ t*
        gap = top - f_star
        lam = torch.where(gap > 0, (t_star - f_star) / gap.clamp(min=1e-300), torch.zeros_like(gap)).clamp(
            0, 1
        )
        # λ of the hull point (f*, top) + (1 − λ) of the chance point (f*, f*): everybody w.p. f*, nobody else
        thresholds.append(torch.cat([thr[lo], thr[hi], torch.tensor([-inf, inf], dtype=torch.float64)]))
        weights.append(torch.cat([lam * (1 - mu), lam * mu, (1 - lam) * f_star, (1 - lam) * (1 - f_star)]))
    return rule(thresholds, weights)
