"""The diffusion-1d experiment's helpers, verdicts and Config."""

from __future__ import annotations

import math

import pytest
import torch

from udl.data import GaussianMixture
from udl.experiments.ch18.diffusion_1d import (
    NOTEBOOK_MIXTURE,
    Config,
    close_verdict,
    ks_distance,
    marginal_cdf,
    mode_histogram,
)
from udl.stats import Verdict


def _mixture() -> GaussianMixture:
    return GaussianMixture([[m] for m in NOTEBOOK_MIXTURE["means"]], NOTEBOOK_MIXTURE["stds"],
                           NOTEBOOK_MIXTURE["weights"])  # fmt: skip


def test_marginal_cdf_is_the_mixture_cdf_at_alpha_one_and_normal_at_zero() -> None:
    m = _mixture()
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    direct = sum(
        w * torch.distributions.Normal(mu, s).cdf(z)
        for mu, s, w in zip(
            NOTEBOOK_MIXTURE["means"], NOTEBOOK_MIXTURE["stds"], NOTEBOOK_MIXTURE["weights"], strict=True
        )
    )
    torch.testing.assert_close(marginal_cdf(m, 1.0, z), direct)
    torch.testing.assert_close(marginal_cdf(m, 0.0, z), torch.distributions.Normal(0.0, 1.0).cdf(z).double())


def test_ks_distance_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    z = torch.randn(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64).sort().values
    cdf = torch.distributions.Normal(torch.tensor(0.3, dtype=torch.float64), 1.2).cdf(z)
    expected = scipy_stats.kstest(z.numpy(), "norm", args=(0.3, 1.2)).statistic
    assert math.isclose(ks_distance(z, cdf), expected, rel_tol=1e-12)


def test_mode_histogram_recovers_the_weights_of_well_separated_modes() -> None:
    m = GaussianMixture([[-5.0], [0.0], [5.0]], 0.1, [0.2, 0.5, 0.3])
    x = m.sample(20_000, generator=torch.Generator().manual_seed(0))
    assert isinstance(x, torch.Tensor)
    torch.testing.assert_close(mode_histogram(m, x), m.weights, atol=0.015, rtol=0)


def test_close_verdict() -> None:
    assert close_verdict([0.01, 0.02, 0.015], [0.01, -0.02, 0.0]) is Verdict.HOLDS
    assert close_verdict([0.2, 0.3, 0.25], [0.01, -0.02, 0.0]) is Verdict.FAILS  # histograms differ
    assert close_verdict([0.01, 0.02, 0.015], [-0.5, -0.6, -0.55]) is Verdict.FAILS  # density gap too large
    assert close_verdict([0.01], [0.0]) is Verdict.NOT_ESTABLISHED  # one seed


@pytest.mark.parametrize(
    ("field", "value"), [("beta", 0.0), ("beta", 0.9), ("ddim_steps", 200), ("seeds", 0), ("train_points", 5)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def test_near_floor_verdict() -> None:
    from udl.experiments.ch18.diffusion_1d import near_floor_verdict

    floors = [0.010, 0.011, 0.009]
    assert near_floor_verdict([0.012, 0.013, 0.011], floors) is Verdict.HOLDS
    assert near_floor_verdict([0.05, 0.06, 0.04], floors) is Verdict.FAILS  # 5x the floor
    assert near_floor_verdict([0.012], [0.010]) is Verdict.NOT_ESTABLISHED  # one seed
