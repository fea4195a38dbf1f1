"""Label smoothing (UDL section 9.3.4) against independent references: the soft-target cross-entropy
−Σ q_k log softmax_k written out with torch ops, and torch's ``F.cross_entropy(label_smoothing=...)`` (values and
gradients, float64)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reference import F64, gen
from udl.losses import label_smoothing_targets, smoothed_cross_entropy


def _logits_and_labels(seed: int, n: int = 64, k: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    logits = 4.0 * torch.randn(n, k, generator=g, dtype=F64)
    return logits, torch.randint(0, k, (n,), generator=g)


# -- label smoothing ---------------------------------------------------------------------------------------------
def test_targets_are_the_smoothed_distribution() -> None:
    q = label_smoothing_targets(torch.tensor([2, 0]), 4, 0.2, dtype=F64)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]], dtype=F64)
    torch.testing.assert_close(q, expected, rtol=0, atol=1e-15)
    assert torch.equal(label_smoothing_targets(torch.tensor([1]), 3, 0.0), torch.tensor([[0.0, 1.0, 0.0]]))


@pytest.mark.parametrize("rho", [0.05, 0.1, 0.3])
def test_book_convention_rho_over_the_other_classes(rho: float) -> None:
    # the book: true class 1 − ρ, each of the K − 1 others ρ / (K − 1); reached with ε = ρ K / (K − 1)
    k = 10
    q = label_smoothing_targets(torch.arange(k), k, rho * k / (k - 1), dtype=F64)
    torch.testing.assert_close(q.diagonal(), torch.full((k,), 1 - rho, dtype=F64), rtol=0, atol=1e-15)
    off = q[~torch.eye(k, dtype=torch.bool)]
    torch.testing.assert_close(off, torch.full_like(off, rho / (k - 1)), rtol=0, atol=1e-15)
    torch.testing.assert_close(q.sum(1), torch.ones(k, dtype=F64), rtol=0, atol=1e-15)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.37, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_smoothed_ce_equals_ce_against_smoothed_targets(smoothing: float, seed: int) -> None:
    logits, y = _logits_and_labels(seed)
    q = label_smoothing_targets(y, logits.shape[1], smoothing, dtype=F64)
    reference = -(q * torch.log_softmax(logits, dim=1)).sum(1)  # −Σ_k q_k log p_k, per example
    ours = smoothed_cross_entropy(logits, y, smoothing, reduction="none")
    torch.testing.assert_close(ours, reference, rtol=1e-14, atol=1e-14)
    assert float(smoothed_cross_entropy(logits, y, smoothing)) == pytest.approx(
        float(reference.mean()), 1e-14
    )
    assert float(smoothed_cross_entropy(logits, y, smoothing, "sum")) == pytest.approx(
        float(reference.sum()), 1e-14
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5, 0.9])
def test_matches_torch_label_smoothing_values_and_gradients(reduction: str, smoothing: float) -> None:
    logits, y = _logits_and_labels(11, n=33, k=5)
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    ours = smoothed_cross_entropy(a, y, smoothing, reduction=reduction)  # type: ignore[arg-type]
    theirs = F.cross_entropy(b, y, label_smoothing=smoothing, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-14)
    weights = torch.randn(ours.shape, generator=gen(3), dtype=F64)
    (ga,) = torch.autograd.grad((ours * weights).sum(), a)
    (gb,) = torch.autograd.grad((theirs * weights).sum(), b)
    torch.testing.assert_close(ga, gb, rtol=1e-13, atol=1e-14)


def test_gradient_is_softmax_minus_smoothed_target() -> None:
    # closed form: ∂L/∂f = softmax(f) − q per example
    logits, y = _logits_and_labels(5, n=8, k=4)
    f = logits.clone().requires_grad_(True)
    smoothed_cross_entropy(f, y, 0.2, reduction="sum").backward()
    expected = torch.softmax(logits, 1) - label_smoothing_targets(y, 4, 0.2, dtype=F64)
    torch.testing.assert_close(f.grad, expected, rtol=1e-13, atol=1e-15)


def test_smoothing_bounds_the_optimal_logits() -> None:
    # the minimiser has softmax(f) = q: the finite logits f = log q (gap log(q_y / q_other), not +∞) are
    # stationary, and the minimum is the entropy of q
    k, eps = 4, 0.2
    y = torch.tensor([1])
    q = label_smoothing_targets(y, k, eps, dtype=F64)
    f = q.log().requires_grad_(True)
    loss = smoothed_cross_entropy(f, y, eps)
    (grad,) = torch.autograd.grad(loss, f)
    assert float(grad.abs().max()) < 1e-15
    assert float(loss.detach()) == pytest.approx(float(-(q * q.log()).sum()), abs=1e-15)
    gap = float((f[0, 1] - f[0, 0]).detach())
    assert gap == pytest.approx(math.log((1 - eps + eps / k) / (eps / k)), abs=1e-14)


def test_label_smoothing_bad_input() -> None:
    logits, y = _logits_and_labels(0, n=4, k=3)
    with pytest.raises(ValueError, match="smoothing"):
        smoothed_cross_entropy(logits, y, 1.5)
    with pytest.raises(ValueError, match="lie in"):
        smoothed_cross_entropy(logits, torch.tensor([0, 1, 2, 3]), 0.1)
    with pytest.raises(ValueError, match="disagree"):
        smoothed_cross_entropy(logits, y[:3], 0.1)
    with pytest.raises(ValueError, match="reduction"):
        smoothed_cross_entropy(logits, y, 0.1, reduction="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="integer"):
        label_smoothing_targets(torch.tensor([0.0]), 3, 0.1)
