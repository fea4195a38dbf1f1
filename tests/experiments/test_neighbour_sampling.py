"""neighbour-sampling's verdicts (shared with graph-partitioning) and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch13.neighbour_sampling import Config, memory_verdict, near_full_batch_verdict
from udl.stats import Verdict


def test_near_full_batch_verdict() -> None:
    full = [0.84, 0.85, 0.83]
    assert near_full_batch_verdict(full, [0.835, 0.845, 0.826], 0.03) is Verdict.HOLDS
    assert near_full_batch_verdict(full, [0.85, 0.86, 0.84], 0.03) is Verdict.HOLDS  # mini-batch better
    assert near_full_batch_verdict(full, [0.80, 0.81, 0.79], 0.03) is Verdict.FAILS  # 4 points below
    assert near_full_batch_verdict(full, [0.83, 0.80, 0.83], 0.03) is Verdict.NOT_ESTABLISHED  # too noisy
    assert near_full_batch_verdict([0.84], [0.84], 0.03) is Verdict.NOT_ESTABLISHED


def test_memory_verdict() -> None:
    assert memory_verdict([0.3, 0.35], 0.5) is Verdict.HOLDS
    assert memory_verdict([0.3, 0.55], 0.5) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"), [("fanouts", ()), ("fanouts", (10, 0)), ("train_fraction", 0.0), ("num_nodes", 500)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
