"""The vae-mnist1d experiment's verdicts and Config."""

from __future__ import annotations

import pytest

from udl.experiments._vae import collapse_verdict, fewer_collapsed_verdict
from udl.experiments.ch17.vae_mnist1d import Config
from udl.stats import Verdict


def test_collapse_verdict() -> None:
    assert collapse_verdict([5.0, 6.0, 4.0]) is Verdict.HOLDS
    assert collapse_verdict([0.0, 0.0, 0.0]) is Verdict.FAILS
    assert collapse_verdict([0.0, 3.0, 0.0]) is Verdict.NOT_ESTABLISHED
    assert collapse_verdict([4.0]) is Verdict.NOT_ESTABLISHED


def test_fewer_collapsed_verdict() -> None:
    assert fewer_collapsed_verdict([8.0, 9.0, 7.0], [1.0, 0.0, 1.0]) is Verdict.HOLDS
    assert fewer_collapsed_verdict([8.0, 9.0, 7.0], [8.0, 9.0, 7.0]) is Verdict.FAILS
    assert fewer_collapsed_verdict([1.0, 0.0, 1.0], [8.0, 9.0, 7.0]) is Verdict.FAILS


@pytest.mark.parametrize(
    ("field", "value"),
    [("latent_dim", 0), ("decoder_hidden", ()), ("warmup_fraction", 0.0), ("free_bits", -1.0), ("iwae_k", 0)],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
