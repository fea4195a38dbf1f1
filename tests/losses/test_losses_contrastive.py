"""InfoNCE / NT-Xent against brute-force per-row log-softmax loops in float64 (values and gradients), their
known limits, and the masked inpainting loss against ``F.mse_loss`` on the masked entries."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from reference import F64, gen
from udl.data import random_span_mask
from udl.losses import info_nce, masked_inpainting_loss, nt_xent

# -- brute-force references: one anchor at a time, the formula written out with Python sums ------------------


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum() / (a.norm() * b.norm())


def _brute_info_nce(z1: torch.Tensor, z2: torch.Tensor, tau: float, symmetric: bool) -> torch.Tensor:
    n = len(z1)

    def one_way(a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        losses = []
        for i in range(n):
            scores = [torch.exp(_cos(a[i], b[j]) / tau) for j in range(n)]
            losses.append(-torch.log(scores[i] / sum(scores)))
        return losses

    forward = one_way(z1, z2)
    if not symmetric:
        return torch.stack(forward).mean()
    backward = one_way(z2, z1)
    return torch.stack([0.5 * (f + b) for f, b in zip(forward, backward, strict=True)]).mean()


def _brute_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    n = len(z1)
    views = [*z1, *z2]
    losses = []
    for a in range(2 * n):
        partner = a + n if a < n else a - n
        denominator = sum(torch.exp(_cos(views[a], views[b]) / tau) for b in range(2 * n) if b != a)
        losses.append(-torch.log(torch.exp(_cos(views[a], views[partner]) / tau) / denominator))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("tau", [0.07, 0.5, 2.0])
def test_info_nce_matches_brute_force_values_and_gradients(symmetric, tau):
    z1 = torch.randn(6, 5, dtype=F64, generator=gen(0), requires_grad=True)
    z2 = torch.randn(6, 5, dtype=F64, generator=gen(1), requires_grad=True)
    ours = info_nce(z1, z2, tau, symmetric=symmetric)
    reference = _brute_info_nce(z1, z2, tau, symmetric)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    g_ours = torch.autograd.grad(ours, (z1, z2))
    g_ref = torch.autograd.grad(reference, (z1, z2))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_nt_xent_matches_brute_force_values_and_gradients(tau):
    z1 = torch.randn(5, 4, dtype=F64, generator=gen(2), requires_grad=True)
    z2 = torch.randn(5, 4, dtype=F64, generator=gen(3), requires_grad=True)
    ours = nt_xent(z1, z2, tau)
    reference = _brute_nt_xent(z1, z2, tau)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    for a, b in zip(
        torch.autograd.grad(ours, (z1, z2)), torch.autograd.grad(reference, (z1, z2)), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_info_nce_is_cross_entropy_on_the_similarity_matrix_and_reductions_agree():
    z1, z2 = torch.randn(7, 3, dtype=F64, generator=gen(4)), torch.randn(7, 3, dtype=F64, generator=gen(5))
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / 0.3
    per_row = F.cross_entropy(logits, torch.arange(7), reduction="none")
    per_col = F.cross_entropy(logits.T, torch.arange(7), reduction="none")
    torch.testing.assert_close(info_nce(z1, z2, 0.3, reduction="none"), per_row)
    torch.testing.assert_close(
        info_nce(z1, z2, 0.3, symmetric=True, reduction="none"), 0.5 * (per_row + per_col)
    )
    torch.testing.assert_close(info_nce(z1, z2, 0.3, reduction="sum"), per_row.sum())
    # symmetric loss does not depend on which view is called the first
    torch.testing.assert_close(info_nce(z1, z2, 0.3, symmetric=True), info_nce(z2, z1, 0.3, symmetric=True))
    # normalize=False uses raw dot products
    raw = F.cross_entropy(z1 @ z2.T / 0.3, torch.arange(7))
    torch.testing.assert_close(info_nce(z1, z2, 0.3, normalize=False), raw)
    assert nt_xent(z1, z2, 0.3, reduction="none").shape == (14,)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_perfectly_separated_identical_views_closed_form_and_zero_limit(n):
    z = torch.eye(8, dtype=F64)[:n] * 3.0  # orthogonal rows; the positive pair is identical
    for tau in (1.0, 0.3, 0.1):
        # positive similarity 1, every negative 0: log(1 + K e^{-1/τ}) with K negatives
        assert float(info_nce(z, z, tau)) == pytest.approx(
            math.log1p((n - 1) * math.exp(-1 / tau)), rel=1e-12
        )
        assert float(nt_xent(z, z, tau)) == pytest.approx(
            math.log1p((2 * n - 2) * math.exp(-1 / tau)), rel=1e-12
        )
    assert float(info_nce(z, z, 0.01)) < 1e-40
    assert float(nt_xent(z, z, 0.01)) < 1e-40
    losses = [float(info_nce(z, z, tau, symmetric=True)) for tau in (1.0, 0.5, 0.2, 0.1, 0.05)]
    assert all(a > b for a, b in itertools.pairwise(losses))  # decreasing as τ → 0


def test_uninformative_embeddings_give_log_n_and_log_2n_minus_1():
    n = 16
    # τ → ∞ makes every similarity equal: exactly log N (InfoNCE) and log(2N - 1) (NT-Xent)
    z1, z2 = torch.randn(n, 6, dtype=F64, generator=gen(6)), torch.randn(n, 6, dtype=F64, generator=gen(7))
    assert float(info_nce(z1, z2, 1e9)) == pytest.approx(math.log(n), abs=1e-8)
    assert float(info_nce(z1, z2, 1e9, symmetric=True)) == pytest.approx(math.log(n), abs=1e-8)
    assert float(nt_xent(z1, z2, 1e9)) == pytest.approx(math.log(2 * n - 1), abs=1e-8)
    # random high-dimensional embeddings are nearly orthogonal: close to the same values at τ = 1
    w1 = torch.randn(n, 4096, dtype=F64, generator=gen(8))
    w2 = torch.randn(n, 4096, dtype=F64, generator=gen(9))
    assert float(info_nce(w1, w2, 1.0)) == pytest.approx(math.log(n), abs=0.02)
    assert float(nt_xent(w1, w2, 1.0)) == pytest.approx(math.log(2 * n - 1), abs=0.02)


def test_contrastive_bad_input():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(z, z, 0.0)
    with pytest.raises(ValueError, match="must both be"):
        nt_xent(z, z[:3], 0.5)
    with pytest.raises(ValueError, match="reduction"):
        info_nce(z, z, 0.5, reduction="max")  # type: ignore[arg-type]


# -- inpainting ---------------------------------------------------------------------------------------------


def test_masked_inpainting_loss_scores_only_masked_positions():
    pred = torch.randn(6, 12, dtype=F64, generator=gen(11), requires_grad=True)
    target = torch.randn(6, 12, dtype=F64, generator=gen(12))
    mask = random_span_mask(6, 12, 4, generator=gen(13))
    ours = masked_inpainting_loss(pred, target, mask)
    reference = F.mse_loss(pred[mask], target[mask])
    torch.testing.assert_close(ours, reference)
    (grad,) = torch.autograd.grad(ours, pred)
    assert (grad[~mask] == 0).all()
    torch.testing.assert_close(grad[mask], 2 * (pred[mask] - target[mask]).detach() / mask.sum())
    with pytest.raises(ValueError, match="hides no position"):
        masked_inpainting_loss(pred, target, torch.zeros_like(mask))


# -- linear probe -------------------------------------------------------------------------------------------
