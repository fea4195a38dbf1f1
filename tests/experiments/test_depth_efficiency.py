"""The depth-efficiency experiment's Config and parameter arithmetic."""

from __future__ import annotations

import pytest

from udl.experiments.ch04.depth_efficiency import Config, shallow_units
from udl.nn import count_parameters, sawtooth_mlp


def test_shallow_units_fit_the_parameter_budget() -> None:
    for params in (4, 10, 13, 22, 100):
        d = shallow_units(params)
        assert 3 * d + 1 <= params or d == 1
        assert 3 * (d + 1) + 1 > params


def test_deep_beats_shallow_is_arithmetic_for_w_at_least_3() -> None:
    # the check's guarantee: W^K > ⌊(P − 1)/3⌋ + 1 for W >= 3, K >= 2; not for W = 2, K = 2 (4 against 5)
    for width in (3, 4, 5):
        for depth in range(2, 6):
            assert width**depth > shallow_units(count_parameters(sawtooth_mlp(width, depth))) + 1
    assert 2**2 < shallow_units(count_parameters(sawtooth_mlp(2, 2))) + 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("widths", (2, 3)),
        ("widths", (3, 3)),
        ("widths", ()),
        ("max_depth", 1),
        ("span", 0.0),
        ("random_nets", -1),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def test_config_rejects_a_count_too_large_to_sample() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        Config(widths=(6,), max_depth=12)
