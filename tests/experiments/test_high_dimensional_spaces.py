"""The high-dimensional-spaces experiment's helpers against closed forms, brute force and Monte Carlo."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

import udl.experiments.ch08.high_dimensional_spaces as hd
from reference import F64, gen
from udl.experiments._registry import Experiment
from udl.report import runner


# -- volumes --------------------------------------------------------------------------------------------------
def test_ball_volume_known_values() -> None:
    assert hd.ball_volume(1) == pytest.approx(2.0)
    assert hd.ball_volume(2) == pytest.approx(math.pi)
    assert hd.ball_volume(3) == pytest.approx(4 * math.pi / 3)
    assert hd.ball_volume(4) == pytest.approx(math.pi**2 / 2)
    assert hd.ball_volume(2, radius=0.5) == pytest.approx(math.pi / 4)  # the notebook's diameter-1 circle
    volumes = [hd.ball_volume(d) for d in range(1, 30)]
    assert volumes.index(max(volumes)) + 1 == 5  # the unit ball's volume peaks at D = 5


def test_ball_to_cube_volume() -> None:
    assert hd.ball_to_cube_volume(1) == 1.0
    assert hd.ball_to_cube_volume(2) == pytest.approx(math.pi / 4, rel=1e-14)
    assert hd.ball_to_cube_volume(3) == pytest.approx(math.pi / 6, rel=1e-14)
    # D = 20: π^10 / (10! · 2^20), computed without lgamma
    assert hd.ball_to_cube_volume(20) == pytest.approx(math.pi**10 / math.factorial(10) / 2**20, rel=1e-12)
    # same as a ball of diameter 1 inside the unit cube
    for d in (5, 17, 40):
        assert hd.ball_to_cube_volume(d) == pytest.approx(hd.ball_volume(d, radius=0.5), rel=1e-12)
    ratios = [hd.ball_to_cube_volume(d) for d in range(1, 200)]
    assert all(b < a for a, b in itertools.pairwise(ratios))


def test_outer_shell_fraction() -> None:
    assert hd.outer_shell_fraction(1, 0.01) == pytest.approx(0.01)
    assert hd.outer_shell_fraction(2, 0.01) == pytest.approx(1 - 0.99**2)
    assert hd.outer_shell_fraction(300, 0.01) == pytest.approx(1 - 0.99**300)
    # = 1 − vol(ball of radius 1 − ε) / vol(unit ball)
    for d in (3, 10, 50):
        assert hd.outer_shell_fraction(d, 0.05) == pytest.approx(
            1 - hd.ball_volume(d, 0.95) / hd.ball_volume(d)
        )


def test_ball_monte_carlo_matches_exact() -> None:
    samples, eps = 200_000, 0.05
    inside, shell = hd.ball_monte_carlo(1, samples, eps, gen(0))
    assert inside == samples  # in 1-D the ball is the whole cube
    for d in (2, 3, 5):
        inside, shell = hd.ball_monte_carlo(d, samples, eps, gen(d))
        assert hd.binomial_z(inside, samples, hd.ball_to_cube_volume(d)) < 4
        assert hd.binomial_z(shell, inside, hd.outer_shell_fraction(d, eps)) < 4


def test_ball_monte_carlo_is_chunked_and_seeded() -> None:
    a = hd.ball_monte_carlo(3, 10_000, 0.1, gen(7))
    assert a == hd.ball_monte_carlo(3, 10_000, 0.1, gen(7))
    assert hd._blocks(10, 4) == [10]
    rows = hd.CHUNK_ELEMENTS // 1000
    assert hd._blocks(2 * rows + 5, 1000) == [rows, rows, 5]


def test_binomial_z() -> None:
    assert hd.binomial_z(50, 100, 0.5) == 0.0
    assert hd.binomial_z(60, 100, 0.5) == pytest.approx(2.0)
    assert hd.binomial_z(0, 100, 0.0) == 0.0
    assert hd.binomial_z(100, 100, 1.0 + 2e-16) == 0.0  # rounding above 1 is clamped
    assert hd.binomial_z(1, 100, 0.0) == math.inf


# -- distances ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 3, 100])
def test_pairwise_distances_match_brute_force(d: int) -> None:
    x = torch.randn(7, d, generator=gen(d), dtype=F64)
    brute = [math.dist(x[i].tolist(), x[j].tolist()) for i in range(7) for j in range(i + 1, 7)]
    dist = hd.pairwise_distances(x)
    assert dist.shape == (21,)
    torch.testing.assert_close(dist, torch.tensor(brute, dtype=F64), rtol=1e-12, atol=0)
    assert hd.distance_ratio(x) == pytest.approx(max(brute) / min(brute), rel=1e-12)


def test_smallest_distance_is_exact_in_low_dimensions() -> None:
    # the Gram-matrix shortcut would lose most digits of a 1e-9 gap between points of size ~5
    x = torch.tensor([[5.0], [5.0 + 1e-9], [-3.0]], dtype=F64)
    dist = hd.pairwise_distances(x)
    assert float(dist.min()) == pytest.approx(1e-9, rel=1e-6)
    assert hd.distance_ratio(x) == pytest.approx(8.0 / 1e-9, rel=1e-6)


def test_sample_points_and_expected_distance() -> None:
    for dist in hd.DISTRIBUTIONS:
        x = hd.sample_points(dist, 400, 500, gen(1))
        assert x.shape == (400, 500) and x.dtype == F64
        mean_sq = float((hd.pairwise_distances(x) ** 2).mean())
        assert mean_sq == pytest.approx(hd.expected_squared_distance(dist, 500), rel=0.02)
    uniform = hd.sample_points("uniform", 100, 10, gen(2))
    assert float(uniform.min()) >= 0 and float(uniform.max()) <= 1
    with pytest.raises(ValueError, match="unknown distribution"):
        hd.sample_points("cauchy", 3, 3, gen(0))


def test_distance_ratio_falls_with_dimension() -> None:
    ratios = [hd.distance_ratio(hd.sample_points("normal", 200, d, gen(d))) for d in (2, 20, 200, 2000)]
    assert all(b < a for a, b in itertools.pairwise(ratios))
    assert ratios[-1] < 1.3


def test_power_law_exponent() -> None:
    x = [1.0, 10.0, 100.0, 1000.0]
    assert hd.power_law_exponent(x, [3 * v**-0.5 for v in x]) == pytest.approx(-0.5, abs=1e-12)
    assert hd.power_law_exponent(x, [2 * v**1.5 for v in x]) == pytest.approx(1.5, abs=1e-12)


# -- the Gaussian's norm --------------------------------------------------------------------------------------
def test_chi_cdf_closed_forms() -> None:
    r = torch.linspace(0.0, 5.0, 51, dtype=F64)
    erf = torch.erf(r / math.sqrt(2))
    torch.testing.assert_close(hd.chi_cdf(r, 1), erf)  # |x| of a standard normal
    torch.testing.assert_close(hd.chi_cdf(r, 2), 1 - torch.exp(-(r**2) / 2))  # Rayleigh
    maxwell = erf - math.sqrt(2 / math.pi) * r * torch.exp(-(r**2) / 2)
    torch.testing.assert_close(hd.chi_cdf(r, 3), maxwell)
    # median of chi²_D ≈ D (1 − 2/(9D))³ (Wilson-Hilferty), so P(‖x‖ ≤ that root) ≈ 1/2
    for d in (100, 10_000):
        median = math.sqrt(d * (1 - 2 / (9 * d)) ** 3)
        assert float(hd.chi_cdf(torch.tensor(median), d)) == pytest.approx(0.5, abs=2e-3)


def test_chi_pdf_integrates_to_cdf() -> None:
    for d in (1, 4, 50):
        top = math.sqrt(d) + 1.0
        r = torch.linspace(1e-9, top, 200_001, dtype=F64)
        integral = float(torch.trapezoid(hd.chi_pdf(r, d), r))
        assert integral == pytest.approx(float(hd.chi_cdf(torch.tensor(top), d)), abs=1e-6)


def test_log10_chi_cdf_matches_direct_and_survives_underflow() -> None:
    for d in (1, 2, 5, 10, 100):
        for r in (0.5, 1.0, 2.0):
            direct = math.log10(float(hd.chi_cdf(torch.tensor(r), d)))
            assert hd.log10_chi_cdf(r, d) == pytest.approx(direct, rel=1e-10, abs=1e-12)
    assert float(hd.chi_cdf(torch.tensor(1.0), 1000)) == 0.0  # underflows in float64
    # leading term: (1/2)^500 e^(−1/2) / Γ(501), up to the factor Σ ≈ 1.001
    lead = (500 * math.log(0.5) - 0.5 - math.lgamma(501)) / math.log(10)
    assert hd.log10_chi_cdf(1.0, 1000) == pytest.approx(lead, abs=1e-3)
    assert hd.log10_chi_cdf(0.0, 3) == -math.inf


def test_gaussian_norms_follow_chi() -> None:
    m = 4000
    for d in (1, 7, 300):
        norms = hd.gaussian_norms(d, m, gen(d))
        assert norms.shape == (m,) and norms.dtype == F64
        assert hd.ks_statistic(norms, hd.chi_cdf(norms, d)) < 1.95 / math.sqrt(m)
    # a wrong dimension is caught
    norms = hd.gaussian_norms(300, m, gen(3))
    assert hd.ks_statistic(norms, hd.chi_cdf(norms, 280)) > 1.95 / math.sqrt(m)


def test_ks_statistic_matches_brute_force() -> None:
    samples = torch.rand(50, generator=gen(0), dtype=F64)
    cdf = samples**2  # a deliberately wrong CDF for uniform samples
    ordered = sorted(zip(samples.tolist(), cdf.tolist(), strict=True))
    brute = max(max((i + 1) / 50 - f, f - i / 50) for i, (_, f) in enumerate(ordered))
    assert hd.ks_statistic(samples, cdf) == pytest.approx(brute, abs=1e-15)
    assert hd.ks_statistic(torch.tensor([0.3], dtype=F64), torch.tensor([0.5], dtype=F64)) == 0.5


# -- the experiment -------------------------------------------------------------------------------------------
def test_config_validation() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        hd.Config(dims=(10, 5, 100, 1000))
    with pytest.raises(ValueError, match="rate_min_dim"):
        hd.Config(dims=(1, 2, 100))
    with pytest.raises(ValueError, match="distributions"):
        hd.Config(distributions=("cauchy",))
    with pytest.raises(ValueError, match="mc_max_dim"):
        hd.Config(mc_max_dim=200)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        hd.Config(shell_width=1.5)
    for cfg in hd.PRESETS.values():
        assert isinstance(cfg, hd.Config)


def test_smoke_preset_runs(tmp_path) -> None:
    exp = Experiment.from_module("high-dimensional-spaces", hd)
    out = tmp_path / "run"
    runner.execute(exp, hd.PRESETS["smoke"], "smoke", final=out, device="cpu")
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    assert {c["id"] for c in result["claims"]} == {
        "distances-concentrate",
        "distance-spread-rate",
        "ball-volume-vanishes",
        "ball-volume-monte-carlo",
        "volume-in-outer-shell",
        "gaussian-mass-in-shell",
        "gaussian-norm-is-chi",
    }
    assert result["figures"] == ["figures/distances-and-volumes.png", "figures/gaussian-shell.png"]
    assert all((out / f).stat().st_size > 1000 for f in result["figures"])
