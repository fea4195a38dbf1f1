"""The explainability experiment's verdicts and Config."""

from __future__ import annotations

import pytest
import torch

from udl.experiments.ch21.explainability import Config, deletion_verdict, feature_verdicts
from udl.stats import Verdict


def test_deletion_verdict() -> None:
    aopc = {
        "saliency": [0.9, 1.0, 0.95],
        "integrated_gradients": [1.5, 1.6, 1.55],
        "lime": [0.30, 0.25, 0.36],  # no better than random
        "random": [0.3, 0.32, 0.31],
    }
    v = deletion_verdict(aopc)
    assert v["saliency"] is Verdict.HOLDS and v["integrated_gradients"] is Verdict.HOLDS
    assert v["lime"] is not Verdict.HOLDS
    aopc["lime"] = [0.2, 0.2, 0.2]
    assert deletion_verdict(aopc)["lime"] is Verdict.FAILS
    assert deletion_verdict({k: v[:1] for k, v in aopc.items()})["saliency"] is Verdict.NOT_ESTABLISHED


def test_feature_verdicts() -> None:
    g = torch.Generator().manual_seed(0)
    n = 100
    attr = torch.stack(
        [
            1 + 0.1 * torch.rand(n, generator=g),
            1 + 0.1 * torch.rand(n, generator=g),
            0.5 + 0.1 * torch.rand(n, generator=g),
            0.2 + 0.1 * torch.rand(n, generator=g),
            0.05 * torch.rand(n, generator=g),
        ],
        1,
    ).double()
    v = feature_verdicts(attr, [0, 1, 2], proxy=3, noise=4)
    assert v == {"noise-least-attributed": Verdict.HOLDS, "proxy-is-used": Verdict.HOLDS}
    attr[:, 4] = 0.7  # noise above measurement 3
    v = feature_verdicts(attr, [0, 1, 2], proxy=3, noise=4)
    assert v == {"noise-least-attributed": Verdict.FAILS, "proxy-is-used": Verdict.FAILS}


@pytest.mark.parametrize(
    ("field", "value"), [("ig_steps", 2), ("top_k", 41), ("explained", 1), ("lr", 0.0), ("num_samples", 10)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})
