"""graph-classification's verdict and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch13.graph_classification import Config, held_out_verdict
from udl.stats import Verdict


def test_held_out_verdict() -> None:
    assert held_out_verdict([0.97, 0.98, 0.96], [0.5, 0.52, 0.49], 0.9) is Verdict.HOLDS
    assert held_out_verdict([0.85, 0.86, 0.84], [0.5, 0.52, 0.49], 0.9) is Verdict.FAILS  # below the floor
    assert (
        held_out_verdict([0.97, 0.98, 0.96], [0.97, 0.98, 0.96], 0.9) is Verdict.FAILS
    )  # no gain over atoms
    assert held_out_verdict([0.99, 0.8, 0.99], [0.5, 0.5, 0.5], 0.9) is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    ("field", "value"), [("layers", 0), ("lr", 2.0), ("accuracy_floor", 1.5), ("seeds", 0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
