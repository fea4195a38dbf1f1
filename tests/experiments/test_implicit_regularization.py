"""Verdict functions and identities of the implicit-regularization experiment (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch09.implicit_regularization import (
    PRESETS,
    Config,
    closer_to_modified_verdict,
    flatter_verdict,
    order_verdict,
    quadratic_identities,
)


def test_closer_verdict() -> None:
    assert closer_to_modified_verdict([0.02, 0.04], [0.001, 0.005])
    assert not closer_to_modified_verdict([0.02, 0.04], [0.001, 0.05])  # one α where GD is closer to L's flow
    assert not closer_to_modified_verdict([0.02], [0.02])  # equal is not closer
    with pytest.raises(ValueError):
        closer_to_modified_verdict([0.1], [])


def test_order_verdict() -> None:
    alphas = [0.0125, 0.025, 0.05, 0.1]
    linear, quadratic = [3 * a for a in alphas], [5 * a**2 for a in alphas]
    assert order_verdict(alphas, linear, 1.0, 0.3) and order_verdict(alphas, quadratic, 2.0, 0.3)
    assert not order_verdict(alphas, linear, 2.0, 0.3)  # first order is not second order
    assert not order_verdict(alphas, [a**1.5 for a in alphas], 2.0, 0.3)


def test_flatter_verdict() -> None:
    assert flatter_verdict([1.1, 1.15], [1.2, 1.2])
    assert not flatter_verdict([1.1, 1.25], [1.2, 1.2])
    assert not flatter_verdict([1.2], [1.2])


@pytest.mark.parametrize("alpha", [0.0125, 0.1])
def test_quadratic_identities_hold_at_the_presets_steps(alpha: float) -> None:
    for cfg in PRESETS.values():
        grad_error, flow_error = quadratic_identities(alpha, min(cfg.alphas) / cfg.rk4_substeps, cfg.horizon)
        assert grad_error <= 1e-12 and flow_error <= 1e-6


def test_quadratic_flow_check_can_fail() -> None:
    # a far too coarse RK4 step: the integrator check must notice
    assert quadratic_identities(0.1, 1.0, 5.0)[1] > 1e-6


@pytest.mark.parametrize(
    "change",
    [
        {"alphas": (0.05,)},
        {"alphas": (0.05, 0.05)},
        {"alphas": (0.05, -0.1)},
        {"horizon": 0.0},
        {"horizon": 1.01},
        {"figure_alpha": 0.2},
        {"slope_tolerance": 0.6},
        {"rk4_substeps": 0},
    ],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
