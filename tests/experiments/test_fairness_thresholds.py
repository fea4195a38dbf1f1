"""The fairness-thresholds experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch21.fairness_thresholds import (
    CRITERIA,
    Config,
    conflict_verdict,
    costs_accuracy_verdict,
    odds_cost_verdict,
    transfer_verdict,
)
from udl.stats import Verdict


def _accuracy(**means: float) -> dict[str, list[float]]:
    base = {"blind": 0.77, "max_accuracy": 0.78, "demographic_parity": 0.75, "equal_opportunity": 0.745}
    base["equalized_odds"] = 0.68
    base.update(means)
    return {c: [base[c] + 0.001 * (s % 3) for s in range(6)] for c in CRITERIA}


def test_accuracy_verdicts() -> None:
    assert costs_accuracy_verdict(_accuracy()) is Verdict.HOLDS
    assert odds_cost_verdict(_accuracy()) is Verdict.HOLDS
    # parity as accurate as the unconstrained rule: no cost, fails
    assert costs_accuracy_verdict(_accuracy(demographic_parity=0.78)) is Verdict.FAILS
    assert odds_cost_verdict(_accuracy(equalized_odds=0.75)) is Verdict.FAILS
    noisy = _accuracy()
    noisy["equalized_odds"] = [0.745 + d for d in (0.01, -0.02, 0.015, -0.01, 0.012, -0.006)]
    assert odds_cost_verdict(noisy) is Verdict.NOT_ESTABLISHED  # a small mean gap inside 2 SE


def _gaps(dp_rule_tpr_gap: float, eo_rule_sel_gap: float) -> dict[str, dict[str, list[float]]]:
    def arm(dp: float, eo: float, eodds: float) -> dict[str, list[float]]:
        return {
            k: [v + 0.001 * s for s in range(5)]
            for k, v in (("dp_gap", dp), ("eo_gap", eo), ("eodds_gap", eodds))
        }

    return {
        "blind": arm(0.2, 0.3, 0.3),
        "max_accuracy": arm(0.36, 0.5, 0.5),
        "demographic_parity": arm(0.01, dp_rule_tpr_gap, 0.2),
        "equal_opportunity": arm(eo_rule_sel_gap, 0.02, 0.25),
        "equalized_odds": arm(0.06, 0.02, 0.03),
    }


def test_gap_verdicts() -> None:
    assert conflict_verdict(_gaps(0.07, 0.05)) is Verdict.HOLDS
    assert conflict_verdict(_gaps(0.01, 0.05)) is Verdict.FAILS  # the parity rule has no larger TPR gap
    assert conflict_verdict(_gaps(0.07, 0.005)) is Verdict.FAILS
    assert transfer_verdict(_gaps(0.07, 0.05)) is Verdict.HOLDS
    bad = _gaps(0.07, 0.05)
    bad["equalized_odds"]["eodds_gap"] = [0.4] * 5  # worse than blind on test
    assert transfer_verdict(bad) is Verdict.FAILS


@pytest.mark.parametrize(("field", "value"), [("num_val", 10), ("seeds", 0), ("lr", 0.0), ("hidden", 0)])
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
