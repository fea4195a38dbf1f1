"""Generative-model metrics against closed forms, scipy and designed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from udl.data import load_digits_split, ring_of_gaussians
from udl.metrics import (
    DigitsClassifierRecipe,
    clustering_accuracy,
    digits_features,
    discrete_wasserstein,
    frechet_digits_distance,
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    mode_coverage,
    precision_recall,
    wasserstein_1d,
    within_class_diversity,
)


def _random_psd(d: int, g: torch.Generator, rank: int | None = None) -> torch.Tensor:
    a = torch.randn(d, rank or d, generator=g, dtype=torch.float64)
    return a @ a.T


def test_frechet_commuting_covariances_closed_form() -> None:
    # Σ₁ = Q diag(a) Qᵀ, Σ₂ = Q diag(b) Qᵀ commute: d² = ‖Δμ‖² + Σ_i (√a_i − √b_i)².
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    a, b = (
        torch.rand(6, generator=g, dtype=torch.float64) * 3,
        torch.rand(6, generator=g, dtype=torch.float64),
    )
    mu1, mu2 = (
        torch.randn(6, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    s1, s2 = q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T
    expected = float((mu1 - mu2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum())
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_frechet_matches_scipy_sqrtm_and_is_symmetric() -> None:
    g = torch.Generator().manual_seed(1)
    s1, s2 = _random_psd(5, g), _random_psd(5, g)
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    cross = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float((mu1 - mu2).pow(2).sum()) + float(np.trace(s1.numpy() + s2.numpy() - 2 * cross))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-9)


def test_frechet_one_dimensional_and_degenerate() -> None:
    # 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)²
    one = frechet_distance(
        torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-1.0]), torch.tensor([[9.0]])
    )
    assert one == pytest.approx(4.0 + 1.0)
    # rank-deficient covariances (fewer samples than dimensions) stay finite; a set against itself is 0
    g = torch.Generator().manual_seed(2)
    x = torch.randn(10, 30, generator=g, dtype=torch.float64)
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    low = _random_psd(8, g, rank=2)
    value = frechet_distance(torch.zeros(8), low, torch.zeros(8), _random_psd(8, g, rank=3))
    assert math.isfinite(value) and value >= 0


def test_gaussian_statistics_match_numpy() -> None:
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(3))
    mean, cov = gaussian_statistics(x)
    assert torch.allclose(mean, x.double().mean(0))
    assert np.allclose(cov.numpy(), np.cov(x.double().numpy(), rowvar=False), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        gaussian_statistics(x[:1])


def test_frechet_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="one D"):
        frechet_distance(torch.zeros(2), torch.eye(2), torch.zeros(3), torch.eye(3))


def test_precision_recall_designed_cases() -> None:
    g = torch.Generator().manual_seed(4)
    mixture = ring_of_gaussians(8, radius=2.0, std=0.05)
    real, z = mixture.sample(800, generator=g, return_components=True)
    same = precision_recall(real, real, k=3)
    assert same.precision == 1.0 and same.recall == 1.0
    fresh = precision_recall(real, mixture.sample(800, generator=g), k=3)
    assert fresh.precision > 0.9 and fresh.recall > 0.9
    collapsed = precision_recall(real, real[z < 2], k=3)  # two of eight modes
    assert collapsed.precision == 1.0 and collapsed.recall < 0.35
    noise = precision_recall(real, 2.5 * torch.randn(800, 2, generator=g, dtype=torch.float64), k=3)
    assert noise.precision < 0.2
    with pytest.raises(ValueError, match="k must"):
        precision_recall(real[:3], real[:3], k=3)
    with pytest.raises(ValueError, match="dimension"):
        precision_recall(real, torch.zeros(5, 3))


def test_precision_recall_brute_force() -> None:
    g = torch.Generator().manual_seed(5)
    real, fake = torch.randn(40, 2, generator=g), torch.randn(30, 2, generator=g) + 0.7
    k = 2

    def manifold(points: np.ndarray) -> list[tuple[np.ndarray, float]]:
        balls = []
        for i, p in enumerate(points):
            dist = sorted(float(np.linalg.norm(p - q)) for j, q in enumerate(points) if j != i)
            balls.append((p, dist[k - 1]))
        return balls

    def share(points: np.ndarray, balls: list[tuple[np.ndarray, float]]) -> float:
        return float(np.mean([any(np.linalg.norm(p - c) <= r for c, r in balls) for p in points]))

    r, f = real.double().numpy(), fake.double().numpy()
    result = precision_recall(real, fake, k=k)
    assert result.precision == pytest.approx(share(f, manifold(r)))
    assert result.recall == pytest.approx(share(r, manifold(f)))


def test_mode_coverage() -> None:
    g = torch.Generator().manual_seed(6)
    mixture = ring_of_gaussians(8, radius=2.0, std=0.05)
    x, z = mixture.sample(4000, generator=g, return_components=True)
    full = mode_coverage(x, mixture, k_sigma=3.0)
    assert full.modes_hit == 8 and full.n_modes == 8
    # in 2-D, Pr(‖ε‖ <= 3) = 1 − exp(−9/2) for ε ~ Norm[0, I]
    assert full.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert sum(full.counts) == round(full.high_quality * 4000)
    part = mode_coverage(x[z < 3], mixture)
    assert part.modes_hit == 3 and part.high_quality > 0.95
    off = mode_coverage(torch.zeros(100, 2), mixture)  # all at the centre: far from every mode
    assert off.modes_hit == 0 and off.high_quality == 0.0
    assert mode_coverage(x[z == 0][:4], mixture, min_count=5).modes_hit == 0
    with pytest.raises(ValueError, match="k_sigma"):
        mode_coverage(x, mixture, k_sigma=0)


def test_wasserstein_1d_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    for n, m in ((50, 50), (37, 91), (1, 5)):
        u, v = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
        wu, wv = rng.random(n), rng.random(m)
        assert wasserstein_1d(torch.tensor(u), torch.tensor(v)) == pytest.approx(
            scipy.stats.wasserstein_distance(u, v), rel=1e-10, abs=1e-12
        )
        assert wasserstein_1d(torch.tensor(u), torch.tensor(v), torch.tensor(wu), torch.tensor(wv)) == (
            pytest.approx(scipy.stats.wasserstein_distance(u, v, wu, wv), rel=1e-10, abs=1e-12)
        )
    # equal sizes, equal weights: the mean distance between sorted values; a shift by c costs |c|
    u = torch.randn(64, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    assert wasserstein_1d(u, u + 1.5) == pytest.approx(1.5)
    assert wasserstein_1d(u, u.flip(0)) == 0.0


def test_discrete_wasserstein_linear_program() -> None:
    # notebook 15.2's distributions: the LP equals the 1-D closed form on bins 0..9
    p = torch.tensor([5, 3, 2, 1, 8, 7, 5, 9, 2, 1], dtype=torch.float64)
    q = torch.tensor([4, 10, 1, 1, 4, 6, 3, 2, 0, 1], dtype=torch.float64)
    result = discrete_wasserstein(p, q)
    bins = torch.arange(10, dtype=torch.float64)
    assert result.distance == pytest.approx(wasserstein_1d(bins, bins, p, q), abs=1e-9)
    # the 1-D closed form Σ_i |CDF_p(i) − CDF_q(i)|
    closed = float((torch.cumsum(p / p.sum(), 0) - torch.cumsum(q / q.sum(), 0)).abs().sum())
    assert result.distance == pytest.approx(closed, abs=1e-9)
    assert torch.allclose(result.plan.sum(1), p / p.sum(), atol=1e-9)
    assert torch.allclose(result.plan.sum(0), q / q.sum(), atol=1e-9)
    assert bool((result.plan >= -1e-12).all())
    # a custom cost: moving everything from bin 0 to bin 1 at cost 7
    custom = discrete_wasserstein([1.0, 0.0], [0.0, 1.0], torch.tensor([[0.0, 7.0], [7.0, 0.0]]))
    assert custom.distance == pytest.approx(7.0)
    with pytest.raises(ValueError, match="cost"):
        discrete_wasserstein([1.0, 0.0], [0.0, 1.0], torch.ones(3, 3))
    with pytest.raises(ValueError, match="p must"):
        discrete_wasserstein([-1.0, 2.0], [0.5, 0.5])


def test_digits_features_cached_and_retrained(tmp_path) -> None:
    recipe = DigitsClassifierRecipe(epochs=2, channels=(4, 8))
    first = digits_features(recipe, cache_dir=tmp_path)
    files = list(tmp_path.glob("digits-classifier-*.safetensors"))
    assert len(files) == 1 and not list(tmp_path.glob(".*tmp"))
    data = load_digits_split()
    x = data.x_test[:64]
    fresh = digits_features(recipe, cache=False)  # the seeded recipe is deterministic
    assert torch.equal(first.features(x), fresh.features(x))
    files[0].write_bytes(b"not a safetensors file")  # a corrupt file is retrained and replaced
    again = digits_features(recipe, cache_dir=tmp_path)
    assert torch.equal(again.features(x), first.features(x))
    assert files[0].stat().st_size > 1000
    other = DigitsClassifierRecipe(epochs=3, channels=(4, 8))
    digits_features(other, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("digits-classifier-*.safetensors"))) == 2  # the key includes the recipe
    assert first.features(x).shape == (64, 32) and first.predict(x).shape == (64,)
    with pytest.raises(ValueError, match="shape"):
        first.features(torch.zeros(3, 8, 8))


def test_frechet_digits_distance_orders_sets(tmp_path) -> None:
    features = digits_features(DigitsClassifierRecipe(epochs=5), cache_dir=tmp_path)
    data = load_digits_split()
    shuffled = data.x_test.flatten(1)[:, torch.randperm(64, generator=torch.Generator().manual_seed(0))]
    held_out = frechet_digits_distance(data.x_train, data.x_test, features)
    assert frechet_digits_distance(data.x_train, data.x_train, features) == pytest.approx(0.0, abs=1e-7)
    assert held_out < 0.1 * frechet_digits_distance(data.x_train, shuffled.reshape(-1, 1, 8, 8), features)


def test_clustering_accuracy_matches_brute_force() -> None:
    import itertools

    g = torch.Generator().manual_seed(9)
    labels = torch.randint(4, (60,), generator=g)
    clusters = torch.where(
        torch.rand(60, generator=g) < 0.7, (labels + 1) % 4, torch.randint(4, (60,), generator=g)
    )
    best = max(
        float(sum(int(perm[int(c)] == int(y)) for c, y in zip(clusters, labels, strict=True))) / 60
        for perm in itertools.permutations(range(4))
    )
    assert clustering_accuracy(clusters, labels) == pytest.approx(best)
    assert clustering_accuracy(labels + 5, labels) == 1.0  # renamed clusters are still perfect
    assert clustering_accuracy(torch.zeros(10, dtype=torch.long), torch.arange(10)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="equal-length"):
        clustering_accuracy(torch.zeros(3), torch.zeros(4))


def test_within_class_diversity_brute_force_and_collapse() -> None:
    g = torch.Generator().manual_seed(0)
    f = torch.randn(12, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2] * 4)
    expected = []
    for c in range(3):
        rows = f[labels == c]
        d = [float((rows[i] - rows[j]).norm()) for i in range(len(rows)) for j in range(i + 1, len(rows))]
        expected.append(sum(d) / len(d))
    assert math.isclose(within_class_diversity(f, labels), sum(expected) / 3, rel_tol=1e-12)
    collapsed = torch.arange(3.0, dtype=torch.float64)[labels][:, None].expand(12, 3)
    assert within_class_diversity(collapsed, labels) == 0.0  # each class one point: no diversity
    singleton = torch.tensor([0, 0, 1])  # class 1 has one member: skipped
    assert math.isclose(within_class_diversity(f[:3], singleton), float((f[0] - f[1]).norm()), rel_tol=1e-12)
    with pytest.raises(ValueError, match="at least two"):
        within_class_diversity(f[:2], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must have shape"):
        within_class_diversity(f, labels[:5])
