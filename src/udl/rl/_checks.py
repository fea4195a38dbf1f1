"""Field checks the reinforcement-learning configs share (``__post_init__``): one ValueError naming the field."""

from __future__ import annotations

from typing import Any


def at_least(cfg: Any, low: int, *names: str) -> None:
    """Each field in ``names`` is >= ``low``."""
    for name in names:
        if getattr(cfg, name) < low:
            raise ValueError(f"{name} must be >= {low}, got {getattr(cfg, name)}")


def in_unit_interval(cfg: Any, *names: str, open_low: bool = False) -> None:
    """Each field in ``names`` lies in [0, 1] (``open_low``: in (0, 1])."""
    for name in names:
        v = getattr(cfg, name)
        if not (0 < v <= 1 if open_low else 0 <= v <= 1):
            raise ValueError(f"{name} must be in {'(' if open_low else '['}0, 1], got {v}")
