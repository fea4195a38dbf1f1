"""k-hop's verdicts, Config and the autograd receptive-field reference."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch13.k_hop import Config, covers_majority, expansion_verdict, receptive_field_mismatch
from udl.stats import Verdict


def test_covers_majority() -> None:
    assert covers_majority([0.9, 0.92, 0.91]) is Verdict.HOLDS
    assert covers_majority([0.2, 0.3, 0.25]) is Verdict.FAILS
    assert covers_majority([0.55, 0.9, 0.4]) is Verdict.NOT_ESTABLISHED
    assert covers_majority([0.9]) is Verdict.NOT_ESTABLISHED


def test_expansion_verdict_needs_the_lattice_contrast() -> None:
    assert expansion_verdict([0.9, 0.92], [0.01, 0.01]) is Verdict.HOLDS
    assert expansion_verdict([0.9, 0.92], [0.2, 0.3]) is Verdict.FAILS
    assert expansion_verdict([0.1, 0.12], [0.01, 0.01]) is Verdict.FAILS


def test_receptive_field_reference_detects_a_wrong_neighbourhood() -> None:
    path = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # 0 - 1 - 2 - 3
    probes = torch.tensor([0, 3])
    for hops in (1, 2, 3):  # node 0 sees {0..hops}: autograd agrees with the hop count on a path
        assert receptive_field_mismatch(path, 4, probes, hops, seed=0) == 0
    # a directed shortcut 0 -> 3 (3 sees 0 at once)
    extra = torch.cat([path, torch.tensor([[0], [3]])], dim=1)
    assert receptive_field_mismatch(extra, 4, probes, 1, seed=0) == 0


@pytest.mark.parametrize(
    ("field", "value"), [("max_hops", 0), ("coverage_hops", 9), ("rewire", 1.5), ("num_nodes", 10)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
