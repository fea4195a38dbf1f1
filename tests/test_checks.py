"""The Config field checks the experiments and the RL agents share (udl.checks)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from udl.checks import at_least, in_range


@dataclass(frozen=True)
class _Cfg:
    steps: int = 10
    seeds: int = 3
    lr: float = 0.1
    widths: tuple[float, ...] = (0.5, 1.0)


def test_at_least_accepts_the_bound_itself() -> None:
    at_least(_Cfg(steps=1, seeds=1), 1, "steps", "seeds")
    at_least(_Cfg(), 3, "seeds")


def test_at_least_refuses_with_a_message_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^seeds must be >= 2, got 1$"):
        at_least(_Cfg(seeds=1), 2, "steps", "seeds")


def test_at_least_reports_the_first_bad_field_in_order() -> None:
    with pytest.raises(ValueError, match=r"^steps must be >= 1, got 0$"):
        at_least(_Cfg(steps=0, seeds=0), 1, "steps", "seeds")


def test_at_least_gives_the_reason_and_takes_float_fields() -> None:
    with pytest.raises(ValueError, match=r"^steps must be >= 100 \(both classes\), got 10$"):
        at_least(_Cfg(), 100, "steps", why="both classes")
    at_least(_Cfg(lr=0.0), 0, "lr")
    with pytest.raises(ValueError, match=r"^lr must be >= 0, got -0.5$"):
        at_least(_Cfg(lr=-0.5), 0, "lr")


def test_in_range_is_half_open_unless_closed_low() -> None:
    in_range(_Cfg(lr=1.0), lr=(0, 1))
    with pytest.raises(ValueError, match=r"^lr must be in \(0, 1\], got 0$"):
        in_range(_Cfg(lr=0), lr=(0, 1))
    in_range(_Cfg(lr=0), closed_low=True, lr=(0, 1))
    with pytest.raises(ValueError, match=r"widths must be in \(0, 0.8\], got 1.0"):
        in_range(_Cfg(), widths=(0, 0.8))


@dataclass(frozen=True)
class _Discount:
    gamma: float = 0.99
    rate: float = 0.5


def test_in_unit_interval_closed_and_open_low() -> None:
    from udl.checks import in_unit_interval

    in_unit_interval(_Discount(gamma=0.0), "gamma")  # [0, 1] includes 0
    in_unit_interval(_Discount(gamma=1.0), "gamma", "rate")
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got 1.5"):
        in_unit_interval(_Discount(gamma=1.5), "gamma")
    with pytest.raises(ValueError, match=r"rate must be in \(0, 1\], got 0.0"):
        in_unit_interval(_Discount(rate=0.0), "gamma", "rate", open_low=True)
