"""Verdicts and config of the self-supervised experiment (no training)."""

from __future__ import annotations

import pytest

from udl.experiments.ch09.self_supervised import Config, beats_baselines
from udl.stats import Verdict


def test_beats_baselines() -> None:
    raw = [32.8] * 3
    random = [57.0, 56.0, 56.5]
    assert beats_baselines([62.7, 63.4, 62.9], random, raw) is Verdict.HOLDS
    assert beats_baselines([47.9, 52.6, 50.0], random, raw) is Verdict.FAILS  # beats raw, not random
    assert beats_baselines(random, random, raw) is Verdict.FAILS  # equal to the random encoder
    assert beats_baselines([62.7], random[:1], raw[:1]) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    "bad",
    [{"encoder": "rnn"}, {"probe_labels": 5}, {"batch_size": 1}, {"mask_span": 40}, {"max_shift": 40}],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError):
        Config(**bad)
