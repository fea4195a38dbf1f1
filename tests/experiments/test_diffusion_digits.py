"""The diffusion-digits experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch18.diffusion_digits import (
    PRESETS,
    Config,
    accelerated_close_verdict,
    fewer_steps_worse_verdict,
    guidance_costs_diversity_verdict,
    guidance_raises_verdict,
)
from udl.stats import Verdict


def test_fewer_steps_worse_verdict() -> None:
    assert fewer_steps_worse_verdict([25.0, 24.0, 26.0], [5.0, 5.5, 5.2]) is Verdict.HOLDS
    assert (
        fewer_steps_worse_verdict([5.0, 5.5, 5.2], [25.0, 24.0, 26.0]) is Verdict.FAILS
    )  # fewer steps better
    assert fewer_steps_worse_verdict([5.1, 5.4, 5.3], [5.0, 5.5, 5.2]) is Verdict.NOT_ESTABLISHED  # noise
    assert fewer_steps_worse_verdict([25.0], [5.0]) is Verdict.NOT_ESTABLISHED  # one seed


def test_accelerated_close_verdict() -> None:
    assert accelerated_close_verdict([5.4, 5.5, 5.3], [4.2, 4.4, 4.1], 1.5) is Verdict.HOLDS
    assert accelerated_close_verdict([9.0, 9.5, 9.3], [4.2, 4.4, 4.1], 1.5) is Verdict.FAILS  # over 1.5×
    assert accelerated_close_verdict([5.4, 5.5, 5.3], [4.2, 4.4, 4.1], 1.0) is Verdict.FAILS  # factor matters


def test_guidance_verdicts() -> None:
    assert guidance_raises_verdict([1.0, 0.99, 1.0], [0.94, 0.95, 0.93]) is Verdict.HOLDS
    assert guidance_raises_verdict([0.90, 0.91, 0.89], [0.94, 0.95, 0.93]) is Verdict.FAILS
    assert guidance_costs_diversity_verdict([8.2, 8.3, 8.1], [9.8, 9.7, 9.9]) is Verdict.HOLDS
    assert (
        guidance_costs_diversity_verdict([10.2, 10.3, 10.1], [9.8, 9.7, 9.9]) is Verdict.FAILS
    )  # more diverse


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"samples": 45}, "multiple of 10"),
        ({"ddim_counts": (5, 2)}, "strictly increasing"),
        ({"ddim_counts": (2, 500)}, r"ddim_counts must be in \[1, steps_t"),
        ({"guidance_weights": (0.5, 1.0)}, "start at 0"),
        ({"accelerated_steps": 7}, "one of ddim_counts"),
        ({"widths": (8, 8, 8, 8)}, "widths"),
        ({"p_uncond": 1.5}, "p_uncond"),
        ({"train_steps": 0}, "train_steps"),
    ],
)
def test_config_refuses_bad_values(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Config(**change)


def test_presets_are_consistent() -> None:
    for cfg in PRESETS.values():
        assert cfg.accelerated_steps in cfg.ddim_counts and cfg.ddim_counts[-1] == cfg.steps_t
