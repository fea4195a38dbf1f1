"""The outer-alignment experiment's proxy MDP, verdicts and Config."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from udl.experiments.ch21.outer_alignment import Config, alignment_gap_verdict, learner_verdict, proxy_mdp
from udl.rl import PenguinOnIce
from udl.stats import Verdict

OPT = [2.5, 2.6, 2.4]


def test_proxy_mdp_moves_the_goal_to_the_corner_only() -> None:
    env = PenguinOnIce(slip=0.2, shape=(4, 4), holes=(5, 15), fish=6)
    true, proxy = env.mdp(0.9), proxy_mdp(env, 0.9)
    assert torch.equal(true.P[:6], proxy.P[:6])  # same dynamics away from the two goals
    assert bool(proxy.terminal[15]) and not bool(proxy.terminal[6])
    assert (
        float(proxy.R[0, 0, 15]) == 3.0 and float(proxy.R[0, 0, 6]) == 0.0 and float(proxy.R[0, 0, 5]) == -2.0
    )
    corner = PenguinOnIce(slip=0.2, shape=(4, 4), holes=(5,), fish=15)
    same = proxy_mdp(corner, 0.9)
    assert torch.equal(same.P, corner.mdp(0.9).P) and torch.equal(same.R, corner.mdp(0.9).R)


def test_alignment_gap_verdict() -> None:
    assert alignment_gap_verdict(OPT, [1.0, 1.1, 0.9])[0] is Verdict.HOLDS
    assert alignment_gap_verdict(OPT, OPT)[0] is Verdict.FAILS
    assert alignment_gap_verdict(OPT, [2.5, 0.0, 2.4])[0] is Verdict.NOT_ESTABLISHED


def test_learner_verdict() -> None:
    assert learner_verdict([0.01, 0.02, 0.0], OPT, [1.0, 1.1, 0.9], 0.1)[0] is Verdict.HOLDS
    assert (
        learner_verdict([0.5, 0.6, 0.55], OPT, [1.0, 1.1, 0.9], 0.1)[0] is Verdict.FAILS
    )  # did not learn the proxy
    assert learner_verdict([0.01, 0.02, 0.0], OPT, OPT, 0.1)[0] is Verdict.FAILS  # no gap: aligned after all


@pytest.mark.parametrize("change", [{"size": 2}, {"holes": 30}, {"gamma": 1.0}, {"steps": 0}])
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
