"""Chapter 9 regularization math against closed forms in float64.

- l2_penalty: the sum of squares and its gradient 2λφ.
- L2 in the loss vs decoupled weight decay: identical for plain SGD, different for Adam (hence AdamW).
- The modified loss of gradient descent (UDL eq. 9.8) and its double-backprop gradient: ∇L̃ = Aφ + (α/2)A²φ on a
  quadratic, ∇L + (α/2)H∇L with torch's Hessian in general; the SGD modified loss (eq. 9.9) against its
  per-batch form.

gradient_flow and the backward-error statement are tested in tests/optim/test_optim_flow.py.
"""

from __future__ import annotations

import pytest
import torch
from tests.reference import F64, gen

from udl.losses import (
    l2_penalty,
    modified_loss,
    modified_loss_gradient,
    sgd_modified_loss,
    stacked_l2_penalty,
)
from udl.optim import SGD, Adam, AdamW


def _spd(n: int, seed: int) -> torch.Tensor:
    m = torch.randn(n, n, generator=gen(seed), dtype=F64)
    return m @ m.T / n + 0.5 * torch.eye(n, dtype=F64)


def _notebook_loss(phi: torch.Tensor) -> torch.Tensor:
    """UDL notebook 9.2's loss: 1 − exp(−φ₁²/(2σ²)), σ = exp(−2φ₀²); not quadratic, curvature varies."""
    sigma = torch.exp(-2.0 * phi[0] ** 2)
    return 1.0 - torch.exp(-0.5 * phi[1] ** 2 / sigma**2)


# -- the L2 penalty ------------------------------------------------------------------------------------------------
def test_l2_penalty_value_and_gradient() -> None:
    g = gen(0)
    params = [torch.randn(3, 4, generator=g, dtype=F64, requires_grad=True) for _ in range(3)]
    params.append(torch.randn(5, generator=g, dtype=F64, requires_grad=True))
    lam = 0.37
    penalty = l2_penalty(params)
    expected = sum(float(x) ** 2 for p in params for x in p.detach().reshape(-1))
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-14)
    (lam * penalty).backward()
    for p in params:
        assert p.grad is not None
        torch.testing.assert_close(p.grad, 2 * lam * p.detach(), rtol=1e-15, atol=0)
    single = torch.tensor([3.0, -4.0], dtype=F64)
    assert float(l2_penalty(single)) == 25.0
    with pytest.raises(ValueError, match="at least one"):
        l2_penalty([])


def _regression(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    x = torch.randn(32, 6, generator=g, dtype=F64)
    y = torch.sin(x @ torch.randn(6, generator=g, dtype=F64))
    return x, y


def _data_loss(phi: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(x @ phi) - y).square().mean()  # a non-quadratic loss, so Adam's scaling matters


def _train(optimizer_cls, lam_in_loss: float, steps: int = 20, **kwargs):
    x, y = _regression(1)
    phi = torch.randn(6, generator=gen(2), dtype=F64).requires_grad_(True)
    opt = optimizer_cls([phi], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss = _data_loss(phi, x, y) + 0.5 * lam_in_loss * l2_penalty(phi)
        loss.backward()
        opt.step()
    return phi.detach()


def _sgd_decoupled(lr: float, lam: float, steps: int = 20) -> torch.Tensor:
    """Decoupled weight decay written out: φ ← (1 − αλ)φ − α∇L (no penalty in the loss)."""
    x, y = _regression(1)
    phi = torch.randn(6, generator=gen(2), dtype=F64)
    for _ in range(steps):
        p = phi.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_data_loss(p, x, y), p)
        phi = (1.0 - lr * lam) * phi - lr * grad
    return phi


def test_sgd_with_l2_in_the_loss_is_decoupled_weight_decay() -> None:
    lr, lam = 0.3, 0.05
    in_loss = _train(SGD, lam, lr=lr)
    coupled_option = _train(SGD, 0.0, lr=lr, weight_decay=lam)
    decoupled = _sgd_decoupled(lr, lam)
    # (1 − αλ)φ − α∇L = φ − α(∇L + λφ): an algebraic identity; only float rounding separates the three.
    torch.testing.assert_close(in_loss, decoupled, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(in_loss, coupled_option, rtol=1e-13, atol=1e-15)
    assert (in_loss - _train(SGD, 0.0, lr=lr)).norm() > 1e-3  # and the decay did something


def test_adam_with_l2_in_the_loss_is_not_adamw() -> None:
    lr, lam = 0.05, 0.1
    adam_l2 = _train(Adam, lam, lr=lr)
    adam_option = _train(Adam, 0.0, lr=lr, weight_decay=lam)  # torch's Adam weight_decay is the same L2 term
    adamw = _train(AdamW, 0.0, lr=lr, weight_decay=lam)
    torch.testing.assert_close(adam_l2, adam_option, rtol=1e-13, atol=1e-15)
    # Adam divides the penalty's gradient λφ by √v like everything else; AdamW shrinks φ by (1 − αλ) directly.
    assert (adam_l2 - adamw).norm() / adamw.norm() > 1e-2
    # AdamW is Adam on L plus the decay step, step by step
    x, y = _regression(1)
    phi = torch.randn(6, generator=gen(2), dtype=F64).requires_grad_(True)
    opt = Adam([phi], lr=lr)
    for _ in range(20):
        opt.zero_grad()
        _data_loss(phi, x, y).backward()  # the gradient at φ, before the decay
        with torch.no_grad():
            phi.mul_(1.0 - lr * lam)
        opt.step()
    torch.testing.assert_close(phi.detach(), adamw, rtol=1e-13, atol=1e-15)


# -- the modified loss (section 9.2) --------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.3])
def test_modified_loss_on_a_quadratic_matches_closed_form(alpha: float) -> None:
    a = _spd(5, 3)
    phi = torch.randn(5, generator=gen(4), dtype=F64)

    def loss(p):
        return 0.5 * p @ a @ p

    value = modified_loss(loss, phi, alpha)
    assert float(value) == pytest.approx(
        float(0.5 * phi @ a @ phi + alpha / 4 * (a @ phi).square().sum()), rel=1e-14
    )
    assert not value.requires_grad
    grad = modified_loss_gradient(loss, phi, alpha)
    torch.testing.assert_close(grad, a @ phi + alpha / 2 * a @ a @ phi, rtol=1e-13, atol=1e-15)
    # differentiable when φ requires grad: the same gradient through an ordinary backward()
    p = phi.clone().requires_grad_(True)
    modified_loss(loss, p, alpha).backward()
    assert p.grad is not None
    torch.testing.assert_close(p.grad, grad, rtol=1e-13, atol=1e-15)


def test_modified_loss_gradient_is_gradient_plus_half_alpha_hessian_gradient() -> None:
    alpha = 0.1
    for start in ([-0.7, -0.75], [0.3, 0.2], [-0.2, 0.6]):
        phi = torch.tensor(start, dtype=F64)
        hessian = torch.autograd.functional.hessian(_notebook_loss, phi)
        grad = torch.autograd.functional.jacobian(_notebook_loss, phi)
        expected = grad + alpha / 2 * hessian @ grad
        torch.testing.assert_close(
            modified_loss_gradient(_notebook_loss, phi, alpha), expected, rtol=1e-12, atol=1e-15
        )
        # and against central finite differences of the modified loss itself
        h = 1e-6
        fd = torch.stack(
            [
                (
                    modified_loss(_notebook_loss, phi + h * e, alpha)
                    - modified_loss(_notebook_loss, phi - h * e, alpha)
                )
                / (2 * h)
                for e in torch.eye(2, dtype=F64)
            ]
        )
        torch.testing.assert_close(fd, expected, rtol=1e-7, atol=1e-9)


def test_sgd_modified_loss_against_the_per_batch_form() -> None:
    alpha, n, batches = 0.2, 4, 3
    mats = [_spd(n, 10 + b) for b in range(batches)]
    vecs = [torch.randn(n, generator=gen(20 + b), dtype=F64) for b in range(batches)]
    fns = [lambda p, a=a, v=v: 0.5 * p @ a @ p - v @ p for a, v in zip(mats, vecs, strict=True)]
    phi = torch.randn(n, generator=gen(5), dtype=F64)
    grads = [a @ phi - v for a, v in zip(mats, vecs, strict=True)]  # ∇L_b, closed form
    loss = sum(float(f(phi)) for f in fns) / batches
    mean_grad = sum(grads) / batches
    # eq. 9.9 written out with closed-form gradients ...
    expected = (
        loss
        + alpha / 4 * float(mean_grad.square().sum())
        + alpha / (4 * batches) * sum(float((g - mean_grad).square().sum()) for g in grads)
    )
    value = sgd_modified_loss(fns, phi, alpha)
    assert float(value) == pytest.approx(expected, rel=1e-13)
    # ... equals the mean of the batches' own GD-modified losses (Smith et al.'s form of the same loss)
    per_batch = sum(float(modified_loss(f, phi, alpha)) for f in fns) / batches
    assert float(value) == pytest.approx(per_batch, rel=1e-13)
    # one batch: the GD modified loss
    assert float(sgd_modified_loss(fns[:1], phi, alpha)) == pytest.approx(
        float(modified_loss(fns[0], phi, alpha)), rel=1e-14
    )
    # gradient: ∇L + (α/2)(1/B) Σ_b A_b ∇L_b
    p = phi.clone().requires_grad_(True)
    sgd_modified_loss(fns, p, alpha).backward()
    expected_grad = mean_grad + alpha / 2 * sum(a @ g for a, g in zip(mats, grads, strict=True)) / batches
    assert p.grad is not None
    torch.testing.assert_close(p.grad, expected_grad, rtol=1e-13, atol=1e-15)


def test_bad_arguments() -> None:
    phi = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="lr"):
        modified_loss(_notebook_loss, phi, -0.1)
    with pytest.raises(ValueError, match="scalar"):
        modified_loss_gradient(lambda p: p * 2, phi, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        sgd_modified_loss([], phi, 0.1)


def test_stacked_l2_penalty_is_each_members_own_penalty() -> None:
    lam = torch.tensor([0.0, 1e-3, 0.5], dtype=F64)
    params = [
        torch.randn(3, 4, 5, generator=gen(0), dtype=F64),
        torch.randn(3, 1, 5, generator=gen(1), dtype=F64),
    ]
    params = [p.requires_grad_() for p in params]
    penalty = stacked_l2_penalty(params, lam)
    assert torch.allclose(penalty, sum(lam[m] * l2_penalty([p[m] for p in params]) for m in range(3)))
    assert torch.equal(
        penalty, l2_penalty([lam.sqrt().view(-1, 1, 1) * p for p in params])
    )  # the scaled slices
    penalty.backward()
    for p in params:
        assert torch.allclose(p.grad, 2 * lam.view(-1, 1, 1) * p.detach())  # 2 λ_m φ_m, as alone
    with pytest.raises(ValueError):
        stacked_l2_penalty([torch.zeros(2, 3)], lam)
