"""Verdicts and config of the multi-task experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.multi_task import Config, auxiliary_task_verdict, both_tasks_verdict
from udl.stats import Verdict


def test_auxiliary_task_verdict() -> None:
    single = [58.0, 59.0, 60.0, 57.5, 58.5]
    assert (
        auxiliary_task_verdict([s + 2.0 + 0.1 * i for i, s in enumerate(single)], single).verdict
        is Verdict.HOLDS
    )
    assert auxiliary_task_verdict(single, single).verdict is Verdict.FAILS  # equal means
    assert auxiliary_task_verdict([s - 1 for s in single], single).verdict is Verdict.FAILS
    # the quick preset's measurement: +1.44 ± 0.72 points is inside the 2-SE bar
    gains = [1.9, -1.2, 2.7, 1.1, 2.7]
    assert (
        auxiliary_task_verdict([s + g for s, g in zip(single, gains, strict=True)], single).verdict
        is Verdict.NOT_ESTABLISHED
    )


def test_both_tasks_verdict() -> None:
    single = [58.0, 59.0, 60.0]
    shift = [78.0, 77.0, 79.0]
    assert both_tasks_verdict(shift, 8.33, [s + 1 for s in single], single) is Verdict.HOLDS
    assert (
        both_tasks_verdict([15.0, 16.0, 16.5], 8.33, single, single) is Verdict.FAILS
    )  # shift below 2x chance
    assert (
        both_tasks_verdict(shift, 8.33, [s - 5 for s in single], single) is Verdict.FAILS
    )  # digit lost 5 points
    assert both_tasks_verdict(shift, 8.33, single[:1], single[:1]) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    "bad",
    [
        {"train_samples": 4001},
        {"shift_bins": 1},
        {"aux_weights": (0.3, 1.0)},
        {"aux_weight": 2.0},
        {"hidden": ()},
        {"seeds": 0},
        {"data_seed": -1},
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
