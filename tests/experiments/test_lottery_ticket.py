"""The lottery-ticket experiment's verdicts and Config (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from udl.experiments.ch20.lottery_ticket import Config, control_verdict, ticket_verdict
from udl.stats import Verdict

DENSE = [0.30, 0.32, 0.31]


def test_ticket_verdict() -> None:
    assert ticket_verdict([0.29, 0.31, 0.30], DENSE)[0] is Verdict.HOLDS  # better
    assert ticket_verdict([0.31, 0.31, 0.32], DENSE)[0] is Verdict.HOLDS  # within noise: a match
    assert ticket_verdict([0.40, 0.41, 0.42], DENSE)[0] is Verdict.FAILS  # clearly worse
    assert ticket_verdict([0.30], [0.30])[0] is Verdict.NOT_ESTABLISHED  # one seed


def test_control_verdict() -> None:
    assert control_verdict([0.40, 0.41, 0.42], DENSE)[0] is Verdict.HOLDS
    assert control_verdict([0.29, 0.31, 0.30], DENSE)[0] is Verdict.FAILS
    assert control_verdict([0.40, 0.30, 0.31], DENSE)[0] is Verdict.NOT_ESTABLISHED


@pytest.mark.parametrize(
    "change",
    [{"amount": 0.0}, {"amount": 1.0}, {"moderate_round": 9}, {"moderate_round": 0}, {"control_offset": 1}],
)
def test_config_rejects(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(Config(), **change)
