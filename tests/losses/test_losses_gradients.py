"""Gradients of every loss in udl.losses by finite differences (torch.autograd.gradcheck, float64)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor
from torch.autograd import gradcheck, gradgradcheck

from udl.losses import (
    bernoulli_nll,
    categorical_nll,
    exponential_loss,
    gaussian_mixture_nll,
    gaussian_nll,
    hinge_loss,
    laplace_nll,
    plackett_luce_nll,
    poisson_nll,
    von_mises_nll,
)

F64 = torch.float64
G = torch.Generator().manual_seed(1234)


def _randn(*shape: int) -> Tensor:
    return torch.randn(*shape, generator=G, dtype=F64)


def _positive(*shape: int, lo: float = 0.3, hi: float = 3.0) -> Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=G, dtype=F64)


def _signs(*shape: int) -> Tensor:
    return 2.0 * torch.randint(0, 2, shape, generator=G).to(F64) - 1.0


def _away_from_one(score: Tensor, target: Tensor) -> Tensor:
    """Push margins ``target * score`` at least 0.1 away from the hinge's kink at 1."""
    margin = target * score
    near = (margin - 1).abs() < 0.1
    return torch.where(near, score + 0.3 * target, score)


Y_PM = _signs(3, 4)

# name -> (loss of the differentiable inputs, those inputs)
CASES: dict[str, tuple[Callable[..., Tensor], tuple[Tensor, ...]]] = {
    "gaussian": (
        lambda m, s, y: gaussian_nll(m, s, y, reduction="none"),
        (_randn(3, 1), _positive(1, 4), _randn(3, 4)),
    ),
    "laplace": (
        lambda m, b, y: laplace_nll(m, b, y, reduction="none"),
        (_randn(3, 1), _positive(1, 4), _randn(3, 4)),
    ),
    "von_mises": (
        lambda m, k, y: von_mises_nll(m, k, y, reduction="none"),
        (_randn(3, 1), _positive(1, 4, lo=0.05, hi=60.0), 3 * _randn(3, 4)),
    ),
    "bernoulli": (
        lambda f: bernoulli_nll(f, torch.tensor([[0.0, 1.0, 1.0]], dtype=F64), reduction="none"),
        (4 * _randn(2, 3),),
    ),
    "categorical": (
        lambda f: categorical_nll(f, torch.tensor([[0, 3], [2, 2]]), reduction="none"),
        (3 * _randn(2, 1, 4),),
    ),
    "poisson": (
        lambda eta: poisson_nll(eta, torch.tensor([0.0, 1.0, 7.0, 30.0], dtype=F64), reduction="none"),
        (_randn(3, 4),),
    ),
    "mixture": (
        lambda w, m, s, y: gaussian_mixture_nll(w, m, s, y, reduction="none"),
        (_randn(3), 2 * _randn(4, 3), _positive(4, 3), 2 * _randn(2, 4)),
    ),
    "plackett_luce": (
        lambda s: plackett_luce_nll(s, torch.tensor([[2, 0, 4, 1, 3], [4, 3, 2, 1, 0]]), reduction="none"),
        (2 * _randn(2, 5),),
    ),
    "plackett_luce_top2": (
        lambda s: plackett_luce_nll(s, torch.tensor([[1, 3], [0, 4], [2, 1]]), reduction="none"),
        (2 * _randn(5),),
    ),
    "hinge": (lambda f: hinge_loss(f, Y_PM, reduction="none"), (_away_from_one(2 * _randn(3, 4), Y_PM),)),
    "exponential": (lambda f: exponential_loss(f, Y_PM, reduction="none"), (_randn(3, 4),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name: str) -> None:
    fn, inputs = CASES[name]
    inputs = tuple(x.clone().requires_grad_() for x in inputs)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name", ["gaussian", "von_mises", "mixture", "categorical", "plackett_luce"])
def test_gradcheck_of_reduced_losses(name: str) -> None:
    fn, inputs = CASES[name]
    inputs = tuple(x.clone().requires_grad_() for x in inputs)
    assert gradcheck(lambda *xs: fn(*xs).mean(), inputs)


@pytest.mark.parametrize("name", ["gaussian", "von_mises", "mixture", "plackett_luce"])
def test_gradgradcheck(name: str) -> None:
    # second derivatives (Hessian-vector products, Newton-type optimizers) work too
    fn, inputs = CASES[name]
    inputs = tuple(x.clone().requires_grad_() for x in inputs)
    assert gradgradcheck(fn, inputs)


def test_von_mises_concentration_gradient_for_huge_and_zero_kappa() -> None:
    # d/dκ of the loss is -cos(y - μ) + I1(κ)/I0(κ); I1/I0 is i1e/i0e, finite however large κ is.
    kappa = torch.tensor([0.0, 1e-8, 1.0, 700.0, 1e3, 1e4, 1e8], dtype=F64, requires_grad=True)
    d = torch.tensor([0.3, -2.0, 1.0, 1e-3, -0.01, 2e-4, 1e-5], dtype=F64)
    loss = von_mises_nll(torch.zeros((), dtype=F64), kappa, d, reduction="sum")
    (grad,) = torch.autograd.grad(loss, kappa)
    k = kappa.detach()
    expected = -torch.cos(d) + torch.special.i1e(k) / torch.special.i0e(k)
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-13)
    assert grad[0] == pytest.approx(-math.cos(0.3), abs=1e-15)  # I1(0) = 0 (autograd through i0e says 1 here)
    # large-κ asymptotics: I1/I0 = 1 - 1/(2κ) - 1/(8κ²) + O(κ⁻³)
    big = k[-2:]
    torch.testing.assert_close(
        grad[-2:] + torch.cos(d[-2:]), 1 - 1 / (2 * big) - 1 / (8 * big**2), rtol=1e-12, atol=0.0
    )


def test_von_mises_gradient_in_angle_is_kappa_sine() -> None:
    loc = torch.tensor([0.1, -1.0, 2.5], dtype=F64, requires_grad=True)
    kappa = torch.tensor([1e4, 3.0, 0.5], dtype=F64)
    y = torch.tensor([0.1001, 2.0, -3.0], dtype=F64)
    (grad,) = torch.autograd.grad(von_mises_nll(loc, kappa, y, reduction="sum"), loc)
    torch.testing.assert_close(grad, -kappa * torch.sin(y - loc.detach()))


def test_extreme_logit_gradients_are_finite() -> None:
    f = torch.tensor([1e3, -1e3, 1e3, -1e3], dtype=F64, requires_grad=True)
    target = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=F64)
    (grad,) = torch.autograd.grad(bernoulli_nll(f, target, reduction="sum"), f)
    torch.testing.assert_close(grad, torch.tensor([0.0, -1.0, 1.0, 0.0], dtype=F64))

    f = torch.tensor([[1e3, -1e3, 0.0]], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(categorical_nll(f, torch.tensor([1]), reduction="sum"), f)
    torch.testing.assert_close(grad, torch.tensor([[1.0, -1.0, 0.0]], dtype=F64))  # softmax - one-hot
