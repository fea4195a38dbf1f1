"""Verdict counting and exit codes: claims (three states, not evaluated at smoke), checks, failed runs."""

from __future__ import annotations

import pytest

from udl.report.verdicts import EXIT_CLAIM_FAILED, EXIT_OK, EXIT_RUN_FAILED, claim_mark, tally


def _result(claims=(), checks=(), preset="quick", status="ok"):
    return {
        "preset": preset,
        "status": status,
        "claims": [{"id": f"c{i}", "holds": h} for i, h in enumerate(claims)],
        "checks": [{"id": f"k{i}", "holds": h} for i, h in enumerate(checks)],
    }


@pytest.mark.parametrize(
    ("claims", "checks", "preset", "status", "code"),
    [
        ((True, True), (True,), "quick", "ok", EXIT_OK),
        ((True, None), (), "quick", "ok", EXIT_OK),  # not established is not a failure
        ((True, False), (), "quick", "ok", EXIT_CLAIM_FAILED),
        ((True,), (False,), "quick", "ok", EXIT_CLAIM_FAILED),  # a failing identity is a finding too
        ((False,), (), "smoke", "ok", EXIT_OK),  # claims are not evaluated at smoke
        ((True,), (False,), "smoke", "ok", EXIT_CLAIM_FAILED),  # checks are
        ((True,), (True,), "quick", "failed", EXIT_RUN_FAILED),
        ((False,), (), "full", "failed", EXIT_RUN_FAILED),
    ],
)
def test_exit_codes(claims, checks, preset, status, code):
    assert tally(_result(claims, checks, preset, status)).exit_code == code


def test_texts_and_marks():
    t = tally(_result((True, None, False), (True, True)))
    assert t.claims_text() == "1/3 claims hold, 1 not established" and t.checks_text() == "2/2 checks pass"
    assert tally(_result((True,), preset="smoke")).claims_text() == "1 claims not evaluated at smoke"
    assert tally(_result(status="failed")).claims_text() == "run failed"
    assert tally(_result((), (True,))).claims_text() == "no claims (checks only)"
    assert [claim_mark({"holds": h}) for h in (True, False, None)] == ["holds", "fails", "not established"]
    assert claim_mark({"holds": False}, evaluated=False) == "not evaluated"
