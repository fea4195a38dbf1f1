"""Verdicts and config of the transfer-learning experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.transfer_learning import Config, beats_at_every_size
from udl.stats import Verdict


def test_beats_at_every_size() -> None:
    scratch = {100: [22.0, 23.0, 24.0], 800: [34.0, 35.0, 34.5]}
    better = {n: [a + 6 + 0.5 * i for i, a in enumerate(v)] for n, v in scratch.items()}
    verdict, comparisons = beats_at_every_size(better, scratch)
    assert verdict is Verdict.HOLDS and set(comparisons) == {100, 800}
    mixed = {100: better[100], 800: scratch[800]}  # no gain at one size
    assert beats_at_every_size(mixed, scratch)[0] is Verdict.FAILS
    noisy = {100: better[100], 800: [35.0, 34.0, 37.0]}  # +1.2 ± 1.2 at n = 800
    assert beats_at_every_size(noisy, scratch)[0] is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    "bad",
    [{"target_sizes": ()}, {"target_sizes": (5,)}, {"source_samples": 50}, {"probe_l2": 0.0}, {"hidden": ()}],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
