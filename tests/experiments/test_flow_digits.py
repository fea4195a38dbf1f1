"""The flow-digits experiment's verdict and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch16.flow_digits import Config, beats_baseline_verdict
from udl.stats import Verdict


def test_beats_baseline_verdict() -> None:
    g = torch.Generator().manual_seed(0)
    flow = 2.2 + 0.3 * torch.randn(900, generator=g, dtype=torch.float64)
    assert beats_baseline_verdict(flow + 1.0, flow) is Verdict.HOLDS
    assert beats_baseline_verdict(flow - 0.1, flow) is Verdict.FAILS  # the flow is worse
    noisy = flow + 0.001 + 0.5 * torch.randn(900, generator=g, dtype=torch.float64)
    assert beats_baseline_verdict(noisy, flow) is not Verdict.HOLDS  # 0.001 bits against 0.017 SE


@pytest.mark.parametrize(
    ("field", "value"), [("scales", 4), ("scales", 0), ("num_val", 899), ("eval_draws", 0), ("alpha", 0.5)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
