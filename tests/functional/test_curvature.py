"""Hessian-vector products, projected Hessians, lines and subspaces vs the dense float64 Hessian of torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd.functional import hessian
from torch.nn.utils import parameters_to_vector

from udl.functional import (
    flat_loss,
    hessian_vector_product,
    line_losses,
    projected_hessian,
    random_subspace,
    trajectory_pca,
)
from udl.functional.curvature import FlatLoss
from udl.nn import MLP


def _problem() -> tuple[nn.Module, torch.Tensor, FlatLoss, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    model = MLP(3, [5, 4], 2, activation="tanh", generator=g, dtype=torch.float64)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (7,), generator=g)
    theta = parameters_to_vector(model.parameters()).detach()
    return model, theta, flat_loss(model, nn.functional.cross_entropy, x, y), x, y


def test_flat_loss_equals_the_model_loss_and_leaves_the_model_alone() -> None:
    model, theta, f, x, y = _problem()
    ref = float(nn.functional.cross_entropy(model(x), y).detach())
    assert float(f(theta)) == pytest.approx(ref, abs=1e-12)
    assert float(f(2 * theta)) != pytest.approx(ref, abs=1e-3)
    assert torch.equal(parameters_to_vector(model.parameters()), theta)


def test_hvp_matches_the_dense_hessian() -> None:
    _, theta, f, _, _ = _problem()
    dense = hessian(f, theta)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(hessian_vector_product(f, theta, v), dense @ v, atol=1e-12, rtol=1e-10)


def test_projected_hessian_matches_the_dense_projection() -> None:
    _, theta, f, _, _ = _problem()
    dense = hessian(f, theta)
    p = random_subspace(theta.numel(), 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(projected_hessian(f, theta, p), p.T @ dense @ p, atol=1e-12, rtol=1e-10)
    # full basis: the whole Hessian's spectrum
    q = random_subspace(
        theta.numel(), theta.numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    torch.testing.assert_close(
        torch.linalg.eigvalsh(projected_hessian(f, theta, q)),
        torch.linalg.eigvalsh(dense),
        atol=1e-10,
        rtol=1e-8,
    )


def test_random_subspace_is_orthonormal_and_seeded() -> None:
    a = random_subspace(50, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    b = random_subspace(50, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(a.T @ a, torch.eye(8, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.equal(a, b)
    # Haar: the mean of P Pᵀ over draws is (d/n) I
    g = torch.Generator().manual_seed(5)
    mean = torch.stack(
        [(q := random_subspace(6, 2, generator=g, dtype=torch.float64)) @ q.T for _ in range(1000)]
    )
    torch.testing.assert_close(mean.mean(0), torch.eye(6, dtype=torch.float64) / 3, atol=0.03, rtol=0)


def test_line_losses_match_pointwise_evaluation() -> None:
    _, theta, f, _, _ = _problem()
    other = theta + torch.randn(theta.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    alphas = torch.linspace(-0.5, 1.5, 9, dtype=torch.float64)
    expected = torch.stack([f((1 - a) * theta + a * other) for a in alphas])
    torch.testing.assert_close(line_losses(f, theta, other, alphas), expected, atol=1e-12, rtol=0)


def test_trajectory_pca_matches_sklearn() -> None:
    from sklearn.decomposition import PCA

    g = torch.Generator().manual_seed(7)
    path = torch.cumsum(torch.randn(30, 12, generator=g, dtype=torch.float64), 0)  # a random walk
    ratio, directions = trajectory_pca(path)
    ref = PCA().fit(path.numpy())
    torch.testing.assert_close(ratio, torch.from_numpy(ref.explained_variance_ratio_), atol=1e-12, rtol=1e-10)
    overlap = (directions[:5] * torch.from_numpy(ref.components_[:5])).sum(1).abs()
    torch.testing.assert_close(overlap, torch.ones(5, dtype=torch.float64), atol=1e-8, rtol=0)
    # a straight line is one component
    line = torch.linspace(0, 1, 10, dtype=torch.float64)[:, None] * torch.randn(
        1, 12, generator=g, dtype=torch.float64
    )
    assert float(trajectory_pca(line)[0][0]) == pytest.approx(1.0, abs=1e-12)


def test_bad_input() -> None:
    _, theta, f, _, _ = _problem()
    with pytest.raises(ValueError, match="flat vector"):
        f(theta[:-1])
    with pytest.raises(ValueError, match="shape of theta"):
        hessian_vector_product(f, theta, theta[:3])
    with pytest.raises(ValueError, match="basis"):
        projected_hessian(f, theta, torch.ones(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="d <= n"):
        random_subspace(3, 4)
    with pytest.raises(ValueError, match="T >= 2"):
        trajectory_pca(torch.ones(1, 3))
