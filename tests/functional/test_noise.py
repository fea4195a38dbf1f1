"""Label smoothing, calibration and noise injection (UDL section 9.3.4) against independent references.

References: the soft-target cross-entropy −Σ q_k log softmax_k written out with torch ops; torch's
``F.cross_entropy(label_smoothing=...)`` (values and gradients, float64); a brute-force per-bin ECE loop in
plain Python; hand-computed calibration cases; ``torch.randn`` draws for the noise helpers.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reference import F64, gen
from udl.functional import (
    add_input_noise,
    expected_calibration_error,
    forward_with_weight_noise,
    label_smoothing_targets,
    perturbed_parameters,
    reliability_bins,
    smoothed_cross_entropy,
)
from udl.nn import MLP


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


# -- expected calibration error ----------------------------------------------------------------------------------
def _brute_force_ece(probs: torch.Tensor, y: torch.Tensor, n_bins: int) -> float:
    conf = probs.max(1).values.tolist()
    pred = probs.argmax(1).tolist()
    labels = y.tolist()
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0.0)]
        if not members:
            continue
        acc = sum(pred[i] == labels[i] for i in members) / len(members)
        mean_conf = sum(conf[i] for i in members) / len(members)
        total += len(members) / len(conf) * abs(acc - mean_conf)
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
@pytest.mark.parametrize("seed", range(4))
def test_ece_matches_brute_force(n_bins: int, seed: int) -> None:
    logits, y = _logits_and_labels(seed, n=300, k=6)
    probs = torch.softmax(logits * (0.2 + seed), dim=1)  # from near-uniform to very confident
    ours = float(expected_calibration_error(probs, y, n_bins))
    assert ours == pytest.approx(_brute_force_ece(probs, y, n_bins), abs=1e-14)


def test_ece_hand_cases() -> None:
    # four examples, confidence 0.9 each, three right: one bin, |0.75 − 0.9| = 0.15
    probs = torch.tensor([[0.9, 0.1]] * 4, dtype=F64)
    y = torch.tensor([0, 0, 0, 1])
    assert float(expected_calibration_error(probs, y, 10)) == pytest.approx(0.15, abs=1e-15)
    # perfectly calibrated: confidence 0.5 (a tie, argmax picks class 0) and half right
    probs = torch.tensor([[0.5, 0.5]] * 4, dtype=F64)
    assert float(expected_calibration_error(probs, torch.tensor([0, 1, 0, 1]), 10)) == pytest.approx(
        0, abs=1e-15
    )
    # two bins: 0.6 (right) → |1 − 0.6| and 1.0 (wrong) → |0 − 1|, weights 1/2 each
    probs = torch.tensor([[0.6, 0.4], [0.0, 1.0]], dtype=F64)
    assert float(expected_calibration_error(probs, torch.tensor([0, 0]), 5)) == pytest.approx(0.7, abs=1e-15)
    # a confidence on an edge (0.6 = 3/5) falls in the bin (2/5, 3/5], as in (lo, hi]
    bins = reliability_bins(torch.tensor([[0.6, 0.4]], dtype=F64), torch.tensor([0]), 5)
    assert bins.counts.tolist() == [0, 0, 1, 0, 0]
    assert bins.confidence[2] == 0.6 and bins.accuracy[2] == 1.0


def test_reliability_bins_partition_the_examples() -> None:
    logits, y = _logits_and_labels(9, n=200, k=3)
    probs = torch.softmax(logits, 1)
    bins = reliability_bins(probs, y, 10)
    assert int(bins.counts.sum()) == 200
    overall = float((bins.counts * bins.accuracy).sum() / 200)
    assert overall == pytest.approx(float((probs.argmax(1) == y).double().mean()), abs=1e-14)
    assert torch.all(bins.confidence[bins.counts > 0] > bins.edges[:-1][bins.counts > 0])
    assert torch.all(bins.confidence <= bins.edges[1:])


def test_ece_bad_input() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(torch.ones(2, 2) / 2, torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        expected_calibration_error(torch.ones(2, 2) / 2, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(torch.tensor([[2.0, -1.0]]), torch.tensor([0]))


# -- input and weight noise --------------------------------------------------------------------------------------
def test_input_noise_is_seeded_gaussian() -> None:
    x = torch.randn(5, 40, generator=gen(0), dtype=F64)
    noisy = add_input_noise(x, 0.3, generator=gen(7))
    torch.testing.assert_close(noisy - x, 0.3 * torch.randn(5, 40, generator=gen(7), dtype=F64))
    assert torch.equal(add_input_noise(x, 0.3, generator=gen(7)), noisy)
    assert add_input_noise(x, 0.0, generator=gen(7)) is x
    big = add_input_noise(torch.zeros(200_000, dtype=F64), 0.5, generator=gen(1))
    assert float(big.std()) == pytest.approx(0.5, rel=0.01)
    with pytest.raises(ValueError, match="std"):
        add_input_noise(x, -1.0)


def test_weight_noise_forward_equals_perturbed_copy_and_grads_reach_clean_parameters() -> None:
    model = MLP(6, (8,), 3, generator=gen(0), dtype=F64)
    clean = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.randn(10, 6, generator=gen(1), dtype=F64)
    y = torch.randint(0, 3, (10,), generator=gen(2))

    out = forward_with_weight_noise(model, x, 0.1, generator=gen(5))
    F.cross_entropy(out, y).backward()

    # reference: a copy whose parameters are set to φ + ε with ε drawn in named_parameters() order
    reference = MLP(6, (8,), 3, generator=gen(0), dtype=F64)
    g = gen(5)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=F64))
    ref_out = reference(x)
    F.cross_entropy(ref_out, y).backward()
    torch.testing.assert_close(out, ref_out, rtol=1e-14, atol=1e-14)
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p.detach(), clean[name]), "the clean parameters must not change"
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-13, atol=1e-14)
    assert torch.equal(forward_with_weight_noise(model, x, 0.0), model(x))


def test_perturbed_parameters_restores_exactly() -> None:
    model = MLP(4, (5,), 2, generator=gen(0), dtype=F64)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(3, 4, generator=gen(1), dtype=F64)
    with perturbed_parameters(model, 0.2, generator=gen(3)):
        inside = model(x)
        assert not torch.equal(next(model.parameters()), before[0])
    torch.testing.assert_close(inside, forward_with_weight_noise(model, x, 0.2, generator=gen(3)))
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
