"""The flows-2d experiment's verdict and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch16.flows_2d import KL_BAR, Config, approach_verdict, beats_baseline_verdict
from udl.stats import Verdict


def _log_q(log_p: torch.Tensor, kl: float, noise: float, seed: int) -> torch.Tensor:
    """log q with mean log p − log q = kl exactly and a spread of ``noise`` (symmetric pairs of draws)."""
    g = torch.Generator().manual_seed(seed)
    half = torch.randn(len(log_p) // 2, generator=g, dtype=torch.float64)
    return log_p - kl + noise * torch.cat([half, -half])


def test_approach_verdict() -> None:
    log_p = {
        "ring": -2 * torch.ones(5000, dtype=torch.float64),
        "grid": -2.5 * torch.ones(5000, dtype=torch.float64),
    }
    flat = {"ring": (0.05, 0.02), "grid": (0.05, 0.02)}
    close = {d: _log_q(p, 0.02, 0.5, i) for i, (d, p) in enumerate(log_p.items())}
    assert approach_verdict(close, log_p, flat) is Verdict.HOLDS
    far = dict(close, grid=_log_q(log_p["grid"], 0.3, 0.5, 7))  # one density 0.3 nats away
    levelled = {"ring": (0.05, 0.02), "grid": (0.32, 0.3)}  # gained 0.02 in the second half, 0.2 to go
    assert approach_verdict(far, log_p, levelled) is Verdict.FAILS
    falling = {"ring": (0.05, 0.02), "grid": (0.6, 0.3)}  # gained 0.3, more than the 0.2 still to go
    assert approach_verdict(far, log_p, falling) is Verdict.NOT_ESTABLISHED
    borderline = {d: _log_q(p, KL_BAR - 0.005, 0.5, i) for i, (d, p) in enumerate(log_p.items())}
    assert approach_verdict(borderline, log_p, flat) is Verdict.NOT_ESTABLISHED  # below the bar, within 2 SE


def test_beats_baseline_verdict() -> None:
    log_p = {
        "ring": -2 * torch.ones(4000, dtype=torch.float64),
        "grid": -2.5 * torch.ones(4000, dtype=torch.float64),
    }
    good = {d: _log_q(p, 0.1, 0.5, i) for i, (d, p) in enumerate(log_p.items())}
    poor = {d: _log_q(p, 1.0, 0.5, i + 2) for i, (d, p) in enumerate(log_p.items())}
    assert beats_baseline_verdict(good, poor) is Verdict.HOLDS
    assert beats_baseline_verdict(poor, good) is Verdict.FAILS
    mixed = dict(good, grid=poor["grid"] - 0.1)  # worse than the baseline on one density
    assert beats_baseline_verdict(mixed, poor) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("densities", ("moons",)),
        ("families", ("glow",)),
        ("steps", 0),
        ("n_test", 1),
        ("n_val", 1),
        ("lr", 0.0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
