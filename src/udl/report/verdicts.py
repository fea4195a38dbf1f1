"""What a result.json says, counted: claims held / failed / not established, checks held / failed, exit code.

Exit codes (the CLI's, ``udl --help`` and the README list them):

- 0: the run finished and every evaluated claim and every check held (claims "not established" do not fail it);
- 1: the run finished and a claim or a check did not hold — a finding, which the report explains;
- 2: bad input (never reaches a result.json);
- 3: the run failed (an exception, a NaN): no verdict at all.

At the ``smoke`` preset claims are *not evaluated*: smoke proves the code path in seconds, with too little
training for a verdict, so its claims are shown as such and never set the exit code. Checks (identities) are
evaluated at every preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_RUN_FAILED = 0, 1, 2, 3
UNEVALUATED_PRESETS = frozenset({"smoke"})


@dataclass(frozen=True)
class Tally:
    status: str
    preset: str
    claims_held: int
    claims_failed: int
    claims_open: int
    """claims not established (the evidence does not reach the stated bar)"""
    checks_held: int
    checks_failed: int

    @property
    def claims(self) -> int:
        return self.claims_held + self.claims_failed + self.claims_open

    @property
    def checks(self) -> int:
        return self.checks_held + self.checks_failed

    @property
    def evaluated(self) -> bool:
        """Whether the claims' verdicts count (not at smoke)."""
        return self.preset not in UNEVALUATED_PRESETS

    @property
    def exit_code(self) -> int:
        if self.status != "ok":
            return EXIT_RUN_FAILED
        if self.checks_failed or (self.evaluated and self.claims_failed):
            return EXIT_CLAIM_FAILED
        return EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def claims_text(self) -> str:
        """``"3/4 claims hold, 1 not established"``, ``"2 claims not evaluated at smoke"`` or ``"failed"``."""
        if self.status != "ok":
            return "run failed"
        if not self.claims:
            return "no claims (checks only)"
        if not self.evaluated:
            return f"{self.claims} claims not evaluated at {self.preset}"
        text = f"{self.claims_held}/{self.claims} claims hold"
        if self.claims_open:
            text += f", {self.claims_open} not established"
        return text

    def checks_text(self) -> str:
        if self.status != "ok":
            return ""
        return f"{self.checks_held}/{self.checks} checks pass" if self.checks else "no checks"


def claim_mark(claim: dict[str, Any], *, evaluated: bool = True) -> str:
    """One word for a claim or check in a result.json: holds, fails, not established or not evaluated."""
    if not evaluated:
        return "not evaluated"
    if claim.get("holds") is None:
        return "not established"
    return "holds" if claim["holds"] else "fails"


def tally(result: dict[str, Any]) -> Tally:
    """Count a result.json document's verdicts."""
    claims = result.get("claims", [])
    checks = result.get("checks", [])
    return Tally(
        status=str(result.get("status")),
        preset=str(result.get("preset")),
        claims_held=sum(c.get("holds") is True for c in claims),
        claims_failed=sum(c.get("holds") is False for c in claims),
        claims_open=sum(c.get("holds") is None for c in claims),
        checks_held=sum(c.get("holds") is True for c in checks),
        checks_failed=sum(c.get("holds") is not True for c in checks),
    )
