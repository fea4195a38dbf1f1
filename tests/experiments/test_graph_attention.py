"""graph-attention's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch13.graph_attention import Config, attention_helps, attention_selects
from udl.stats import Verdict


def test_paired_comparisons() -> None:
    for compare in (attention_helps, attention_selects):
        assert compare([0.7, 0.72, 0.71], [0.6, 0.61, 0.6]).verdict is Verdict.HOLDS
        assert compare([0.58, 0.6, 0.57], [0.62, 0.63, 0.61]).verdict is Verdict.FAILS
        assert compare([0.0924, 0.0915, 0.094], [0.0891, 0.0903, 0.0889]).verdict is Verdict.HOLDS
        assert compare([0.7, 0.5, 0.71], [0.6, 0.61, 0.6]).verdict is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"), [("homophilies", ()), ("homophilies", (0.9, 1.2)), ("heads", 0), ("num_nodes", 100)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
