"""The backprop experiment's Config."""

from __future__ import annotations

import pytest

from udl.experiments.ch07.backprop import Config


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("batch_size", 4001),
        ("hidden", ()),
        ("hidden", (0,)),
        ("lr", 0.0),
        ("momentum", 1.0),
        ("fd_checks", 0),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
