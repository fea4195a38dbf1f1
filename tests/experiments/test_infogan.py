"""The infogan experiment's verdict, chance level and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch15.infogan import Config, above, shuffled_chance
from udl.stats import Verdict


def test_above() -> None:
    assert above([0.6, 0.7, 0.65], [0.12, 0.11, 0.12]).verdict is Verdict.HOLDS
    assert above([0.1, 0.11, 0.1], [0.12, 0.11, 0.12]).verdict is Verdict.FAILS
    assert above([0.6], [0.1]).verdict is Verdict.NOT_ESTABLISHED


def test_shuffled_chance_is_near_one_over_k() -> None:
    labels = torch.arange(10).repeat(50)
    value = shuffled_chance(labels.clone(), labels, 10, torch.Generator().manual_seed(0))
    assert 0.1 <= value < 0.2  # a perfect clustering, shuffled, keeps only the matching's bias


@pytest.mark.parametrize(
    ("field", "value"), [("categories", 1), ("continuous", -1), ("lr", 0.0), ("shuffles", 0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
