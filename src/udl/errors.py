"""The exceptions udl raises on purpose.

``UsageError`` is bad input: the command line maps it to one line on stderr and exit code 2.
``DivergenceError`` is a run that produced NaN/inf: the run stops at that step and is recorded as failed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(ValueError):
    """Bad input from the user (unknown name, impossible value, unusable directory, corrupt file)."""


class CheckpointError(UsageError):
    """A checkpoint that cannot be read back (missing part, corrupt file, wrong structure)."""


class DivergenceError(RuntimeError):
    """A non-finite loss or gradient; the message names the step and the quantity."""

    def __init__(self, quantity: str, step: int, value: float | None = None) -> None:
        self.quantity = quantity
        self.step = step
        self.value = value
        shown = "" if value is None else f" ({value})"
        super().__init__(f"{quantity} became non-finite{shown} at step {step}; the run was stopped there")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A short suffix suggesting the closest valid names, or listing them all when none is close."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "? valid: " + ", ".join(choices)
    return "valid: " + ", ".join(choices)
