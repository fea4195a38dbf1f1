"""Chapter 21: deep learning and ethics: group fairness criteria and thresholds, explainability."""

from udl.ethics._fairness import (
    CRITERIA,
    Criterion,
    GroupRates,
    ThresholdRule,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    fit_thresholds,
    group_rates,
    roc_convex_hull,
    roc_curve,
)

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
