"""Field checks for frozen Config dataclasses (the experiments', the RL agents'): one line each in
``__post_init__``, one message format (a ValueError naming the field and the valid range).

``at_least(self, 1, "steps", "seeds")`` refuses (ValueError naming the field and the bound) a count below 1.

``in_range(self, lr=(0, 10))`` refuses (ValueError naming the field and the range) any value of ``self.lr``
outside the half-open interval (0, 10]; tuple fields are checked element by element. Scale parameters (learning
rates, noise levels, condition numbers) get an upper bound as well as a lower one: a learning rate of 1e23 is not
an experiment, it is a typo, and it should be refused before the run rather than diverge at step 1.

``in_unit_interval(self, "gamma")`` refuses a probability or discount outside [0, 1] ((0, 1] with ``open_low``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["at_least", "in_range", "in_unit_interval"]


def in_range(cfg: Any, *, closed_low: bool = False, **bounds: tuple[float, float]) -> None:
    """Each named field's values lie in (low, high] ((low, high] or [low, high] with ``closed_low``)."""
    for name, (low, high) in bounds.items():
        value = getattr(cfg, name)
        for v in value if isinstance(value, tuple) else (value,):
            above = v >= low if closed_low else v > low
            if not (above and v <= high):
                interval = f"{'[' if closed_low else '('}{low:g}, {high:g}]"
                raise ValueError(f"{name} must be in {interval}, got {v!r}")


def at_least(cfg: Any, low: float, *names: str, why: str = "") -> None:
    """Each field in ``names`` is >= ``low`` (counts: steps, widths, seeds, sample sizes); ``why``, if given,
    is the reason the message adds in parentheses after the bound."""
    for name in names:
        if getattr(cfg, name) < low:
            reason = f" ({why})" if why else ""
            raise ValueError(f"{name} must be >= {low}{reason}, got {getattr(cfg, name)}")


def in_unit_interval(cfg: Any, *names: str, open_low: bool = False) -> None:
    """Each field in ``names`` lies in [0, 1] (``open_low``: in (0, 1])."""
    for name in names:
        v = getattr(cfg, name)
        if not (0 < v <= 1 if open_low else 0 <= v <= 1):
            raise ValueError(f"{name} must be in {'(' if open_low else '['}0, 1], got {v}")
