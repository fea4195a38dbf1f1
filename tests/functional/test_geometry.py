"""udl.functional.geometry and udl.functional.distributions against closed forms, brute force and Monte Carlo."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from reference import F64, gen
from udl.functional import (
    POINT_DISTRIBUTIONS,
    ball_estimate,
    ball_in_cube_monte_carlo,
    ball_to_cube_volume,
    ball_volume,
    binomial_z,
    chi_cdf,
    chi_pdf,
    distance_concentration,
    distance_ratio,
    expected_squared_distance,
    gaussian_norms,
    gaussian_shell_estimate,
    ks_statistic,
    log10_chi_cdf,
    loglog_slope,
    outer_shell_fraction,
    pairwise_distances,
    random_points,
)
from udl.functional.geometry import CHUNK_ELEMENTS, sample_blocks


# -- volumes --------------------------------------------------------------------------------------------------
def test_ball_volume_known_values() -> None:
    assert ball_volume(1) == pytest.approx(2.0)
    assert ball_volume(2) == pytest.approx(math.pi)
    assert ball_volume(3) == pytest.approx(4 * math.pi / 3)
    assert ball_volume(4) == pytest.approx(math.pi**2 / 2)
    assert ball_volume(2, radius=0.5) == pytest.approx(math.pi / 4)  # the notebook's diameter-1 circle
    volumes = [ball_volume(d) for d in range(1, 30)]
    assert volumes.index(max(volumes)) + 1 == 5  # the unit ball's volume peaks at D = 5


def test_ball_to_cube_volume() -> None:
    assert ball_to_cube_volume(1) == 1.0
    assert ball_to_cube_volume(2) == pytest.approx(math.pi / 4, rel=1e-14)
    assert ball_to_cube_volume(3) == pytest.approx(math.pi / 6, rel=1e-14)
    # D = 20: π^10 / (10! · 2^20), computed without lgamma
    assert ball_to_cube_volume(20) == pytest.approx(math.pi**10 / math.factorial(10) / 2**20, rel=1e-12)
    # same as a ball of diameter 1 inside the unit cube
    for d in (5, 17, 40):
        assert ball_to_cube_volume(d) == pytest.approx(ball_volume(d, radius=0.5), rel=1e-12)
    ratios = [ball_to_cube_volume(d) for d in range(1, 200)]
    assert all(b < a for a, b in itertools.pairwise(ratios))


def test_outer_shell_fraction() -> None:
    assert outer_shell_fraction(1, 0.01) == pytest.approx(0.01)
    assert outer_shell_fraction(2, 0.01) == pytest.approx(1 - 0.99**2)
    assert outer_shell_fraction(300, 0.01) == pytest.approx(1 - 0.99**300)
    # = 1 − vol(ball of radius 1 − ε) / vol(unit ball)
    for d in (3, 10, 50):
        assert outer_shell_fraction(d, 0.05) == pytest.approx(1 - ball_volume(d, 0.95) / ball_volume(d))


def test_ball_monte_carlo_matches_exact() -> None:
    samples, eps = 200_000, 0.05
    inside, shell = ball_in_cube_monte_carlo(1, samples, eps, gen(0))
    assert inside == samples  # in 1-D the ball is the whole cube
    for d in (2, 3, 5):
        inside, shell = ball_in_cube_monte_carlo(d, samples, eps, gen(d))
        assert binomial_z(inside, samples, ball_to_cube_volume(d)) < 4
        assert binomial_z(shell, inside, outer_shell_fraction(d, eps)) < 4


def test_ball_monte_carlo_is_chunked_and_seeded() -> None:
    a = ball_in_cube_monte_carlo(3, 10_000, 0.1, gen(7))
    assert a == ball_in_cube_monte_carlo(3, 10_000, 0.1, gen(7))
    assert sample_blocks(10, 4) == [10]
    rows = CHUNK_ELEMENTS // 1000
    assert sample_blocks(2 * rows + 5, 1000) == [rows, rows, 5]


def test_binomial_z() -> None:
    assert binomial_z(50, 100, 0.5) == 0.0
    assert binomial_z(60, 100, 0.5) == pytest.approx(2.0)
    assert binomial_z(0, 100, 0.0) == 0.0
    assert binomial_z(100, 100, 1.0 + 2e-16) == 0.0  # rounding above 1 is clamped
    assert binomial_z(1, 100, 0.0) == math.inf


# -- distances ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 3, 100])
def test_pairwise_distances_match_brute_force(d: int) -> None:
    x = torch.randn(7, d, generator=gen(d), dtype=F64)
    brute = [math.dist(x[i].tolist(), x[j].tolist()) for i in range(7) for j in range(i + 1, 7)]
    dist = pairwise_distances(x)
    assert dist.shape == (21,)
    torch.testing.assert_close(dist, torch.tensor(brute, dtype=F64), rtol=1e-12, atol=0)
    assert distance_ratio(x) == pytest.approx(max(brute) / min(brute), rel=1e-12)


def test_smallest_distance_is_exact_in_low_dimensions() -> None:
    # the Gram-matrix shortcut would lose most digits of a 1e-9 gap between points of size ~5
    x = torch.tensor([[5.0], [5.0 + 1e-9], [-3.0]], dtype=F64)
    dist = pairwise_distances(x)
    assert float(dist.min()) == pytest.approx(1e-9, rel=1e-6)
    assert distance_ratio(x) == pytest.approx(8.0 / 1e-9, rel=1e-6)


def test_sample_points_and_expected_distance() -> None:
    for dist in POINT_DISTRIBUTIONS:
        x = random_points(dist, 400, 500, gen(1))
        assert x.shape == (400, 500) and x.dtype == F64
        mean_sq = float((pairwise_distances(x) ** 2).mean())
        assert mean_sq == pytest.approx(expected_squared_distance(dist, 500), rel=0.02)
    uniform = random_points("uniform", 100, 10, gen(2))
    assert float(uniform.min()) >= 0 and float(uniform.max()) <= 1
    with pytest.raises(ValueError, match="unknown distribution"):
        random_points("cauchy", 3, 3, gen(0))


def test_distance_ratio_falls_with_dimension() -> None:
    ratios = [distance_ratio(random_points("normal", 200, d, gen(d))) for d in (2, 20, 200, 2000)]
    assert all(b < a for a, b in itertools.pairwise(ratios))
    assert ratios[-1] < 1.3


def test_power_law_exponent() -> None:
    x = [1.0, 10.0, 100.0, 1000.0]
    assert loglog_slope(x, [3 * v**-0.5 for v in x]) == pytest.approx(-0.5, abs=1e-12)
    assert loglog_slope(x, [2 * v**1.5 for v in x]) == pytest.approx(1.5, abs=1e-12)


# -- the Gaussian's norm --------------------------------------------------------------------------------------
def test_chi_cdf_closed_forms() -> None:
    r = torch.linspace(0.0, 5.0, 51, dtype=F64)
    erf = torch.erf(r / math.sqrt(2))
    torch.testing.assert_close(chi_cdf(r, 1), erf)  # |x| of a standard normal
    torch.testing.assert_close(chi_cdf(r, 2), 1 - torch.exp(-(r**2) / 2))  # Rayleigh
    maxwell = erf - math.sqrt(2 / math.pi) * r * torch.exp(-(r**2) / 2)
    torch.testing.assert_close(chi_cdf(r, 3), maxwell)
    # median of chi²_D ≈ D (1 − 2/(9D))³ (Wilson-Hilferty), so P(‖x‖ ≤ that root) ≈ 1/2
    for d in (100, 10_000):
        median = math.sqrt(d * (1 - 2 / (9 * d)) ** 3)
        assert float(chi_cdf(torch.tensor(median), d)) == pytest.approx(0.5, abs=2e-3)


def test_chi_pdf_integrates_to_cdf() -> None:
    for d in (1, 4, 50):
        top = math.sqrt(d) + 1.0
        r = torch.linspace(1e-9, top, 200_001, dtype=F64)
        integral = float(torch.trapezoid(chi_pdf(r, d), r))
        assert integral == pytest.approx(float(chi_cdf(torch.tensor(top), d)), abs=1e-6)


def test_log10_chi_cdf_matches_direct_and_survives_underflow() -> None:
    for d in (1, 2, 5, 10, 100):
        for r in (0.5, 1.0, 2.0):
            direct = math.log10(float(chi_cdf(torch.tensor(r), d)))
            assert log10_chi_cdf(r, d) == pytest.approx(direct, rel=1e-10, abs=1e-12)
    assert float(chi_cdf(torch.tensor(1.0), 1000)) == 0.0  # underflows in float64
    # leading term: (1/2)^500 e^(−1/2) / Γ(501), up to the factor Σ ≈ 1.001
    lead = (500 * math.log(0.5) - 0.5 - math.lgamma(501)) / math.log(10)
    assert log10_chi_cdf(1.0, 1000) == pytest.approx(lead, abs=1e-3)
    assert log10_chi_cdf(0.0, 3) == -math.inf


def test_gaussian_norms_follow_chi() -> None:
    m = 4000
    for d in (1, 7, 300):
        norms = gaussian_norms(d, m, gen(d))
        assert norms.shape == (m,) and norms.dtype == F64
        assert ks_statistic(norms, chi_cdf(norms, d)) < 1.95 / math.sqrt(m)
    # a wrong dimension is caught
    norms = gaussian_norms(300, m, gen(3))
    assert ks_statistic(norms, chi_cdf(norms, 280)) > 1.95 / math.sqrt(m)


def test_ks_statistic_matches_brute_force() -> None:
    samples = torch.rand(50, generator=gen(0), dtype=F64)
    cdf = samples**2  # a deliberately wrong CDF for uniform samples
    ordered = sorted(zip(samples.tolist(), cdf.tolist(), strict=True))
    brute = max(max((i + 1) / 50 - f, f - i / 50) for i, (_, f) in enumerate(ordered))
    assert ks_statistic(samples, cdf) == pytest.approx(brute, abs=1e-15)
    assert ks_statistic(torch.tensor([0.3], dtype=F64), torch.tensor([0.5], dtype=F64)) == 0.5


# -- the one-dimension measurements -----------------------------------------------------------------------------
def test_distance_concentration_matches_its_parts() -> None:
    s = distance_concentration("normal", 50, 20, 2, gen(5))
    g = gen(5)
    sets = [pairwise_distances(random_points("normal", 50, 20, g)) for _ in range(2)]
    ratio = math.exp(sum(math.log(float(d.max() / d.min())) for d in sets) / 2)
    assert s.ratio == pytest.approx(ratio, rel=1e-12)
    rms = math.sqrt(expected_squared_distance("normal", 20))
    assert s.largest == pytest.approx(sum(float(d.max()) for d in sets) / 2 / rms, rel=1e-12)
    assert s.smallest < s.mean < s.largest


def test_ball_estimate_and_gaussian_shell_estimate() -> None:
    e = ball_estimate(3, 50_000, 0.1, gen(1))
    inside, shell = ball_in_cube_monte_carlo(3, 50_000, 0.1, gen(1))
    assert (e.dim, e.inside, e.ball_fraction_mc) == (3, inside, inside / 50_000)
    assert e.shell_fraction_mc == shell / inside and e.ball_z < 4 and e.shell_z < 4
    est, norms = gaussian_shell_estimate(50, 5000, 0.1, 1.0, gen(2))
    assert norms.shape == (5000,) and est.dim == 50
    assert est.shell_mc == pytest.approx(
        float(((norms >= 0.9 * 50**0.5) & (norms <= 1.1 * 50**0.5)).double().mean())
    )
    assert est.shell_z < 4 and est.ks < 1.95 / math.sqrt(5000) and est.center_mc == 0.0
