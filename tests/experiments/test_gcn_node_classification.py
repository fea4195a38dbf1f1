"""gcn-node-classification's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch13.gcn_node_classification import (
    Config,
    graph_helps,
    karate_verdict,
    kipf_helps,
)
from udl.stats import Verdict


def test_paired_comparisons() -> None:
    better = [0.70, 0.72, 0.69, 0.71, 0.73]
    worse = [0.60, 0.61, 0.62, 0.60, 0.59]
    for compare in (graph_helps, kipf_helps):
        assert compare(better, worse).verdict is Verdict.HOLDS
        assert compare(worse, better).verdict is Verdict.FAILS
        assert compare(better, better).verdict is Verdict.FAILS  # no difference
        assert compare([0.70, 0.60, 0.71], [0.65, 0.66, 0.64]).verdict is Verdict.NOT_ESTABLISHED  # noisy


def test_karate_verdict() -> None:
    assert karate_verdict([0.9, 0.92, 0.95, 0.91]) is Verdict.HOLDS
    assert karate_verdict([0.7, 0.75, 0.8]) is Verdict.FAILS
    assert karate_verdict([0.6, 0.99, 0.98]) is Verdict.NOT_ESTABLISHED  # mean above, spread too wide
    assert karate_verdict([0.9]) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("homophily", 1.5),
        ("num_classes", 1),
        ("seeds", 0),
        ("degree_exponent", 1.0),
        ("num_nodes", 50),
        ("lr", 0.0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
