"""graph-partitioning's Config (its verdicts are neighbour-sampling's, tested there)."""

from __future__ import annotations

import pytest

from udl.experiments.ch13 import graph_partitioning, neighbour_sampling
from udl.experiments.ch13.graph_partitioning import Config


def test_shares_the_verdicts() -> None:
    assert graph_partitioning.near_full_batch_verdict is neighbour_sampling.near_full_batch_verdict
    assert graph_partitioning.memory_verdict is neighbour_sampling.memory_verdict


@pytest.mark.parametrize(
    ("field", "value"), [("num_parts", 0), ("parts_per_batch", 50), ("memory_fraction", 1.5)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
