"""The optimizers against the book's equations written out directly (UDL eq. 6.11-6.12, 6.15-6.17).

torch's momentum (and so udl's) is not literally the book's moving average; the docstrings claim an exact
correspondence of hyperparameters and iterates, checked here on a non-quadratic loss.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

import udl.optim
from reference import F64, gen

_g = gen(7)
_A = torch.randn(12, 5, generator=_g, dtype=F64)
_Y = torch.randn(12, generator=_g, dtype=F64)
_PHI0 = torch.randn(5, generator=_g, dtype=F64)


def loss(phi: Tensor) -> Tensor:
    """A smooth non-quadratic loss: log-cosh regression with a quartic term."""
    r = _A @ phi - _Y
    return torch.log(torch.cosh(r)).sum() + 0.01 * (phi**4).sum()


def grad(phi: Tensor) -> Tensor:
    x = phi.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss(x), x)
    return g


def run_udl(opt_cls, steps: int, **kwargs) -> list[Tensor]:
    phi = _PHI0.clone().requires_grad_()
    opt = opt_cls([phi], **kwargs)
    path = []
    for _ in range(steps):
        opt.zero_grad()
        loss(phi).backward()
        opt.step()
        path.append(phi.detach().clone())
    return path


@pytest.mark.parametrize("foreach", [False, True])
def test_momentum_sgd_is_the_books_moving_average_momentum(foreach: bool) -> None:
    # UDL eq. 6.11: m ← β m + (1-β) g[φ];  φ ← φ - α m  ==  SGD(lr=α(1-β), momentum=β)
    alpha, beta = 0.05, 0.9
    phi, m = _PHI0.clone(), torch.zeros(5, dtype=F64)
    book = []
    for _ in range(150):
        m = beta * m + (1 - beta) * grad(phi)
        phi = phi - alpha * m
        book.append(phi)
    ours = run_udl(udl.optim.SGD, 150, lr=alpha * (1 - beta), momentum=beta, foreach=foreach)
    torch.testing.assert_close(torch.stack(ours), torch.stack(book), rtol=1e-10, atol=1e-12)
    assert float(loss(book[-1])) < 0.5 * float(loss(_PHI0))  # it did optimize


@pytest.mark.parametrize("foreach", [False, True])
def test_nesterov_sgd_iterates_are_the_books_look_ahead_points(foreach: bool) -> None:
    # UDL eq. 6.12: m ← β m + (1-β) g[φ - αβ m];  φ ← φ - α m. torch's parameters are ψ = φ - αβ m.
    alpha, beta = 0.05, 0.9
    phi, m = _PHI0.clone(), torch.zeros(5, dtype=F64)
    look_ahead = []
    for _ in range(150):
        m = beta * m + (1 - beta) * grad(phi - alpha * beta * m)
        phi = phi - alpha * m
        look_ahead.append(phi - alpha * beta * m)
    ours = run_udl(udl.optim.SGD, 150, lr=alpha * (1 - beta), momentum=beta, nesterov=True, foreach=foreach)
    torch.testing.assert_close(torch.stack(ours), torch.stack(look_ahead), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("foreach", [False, True])
def test_adam_is_the_books_equations(foreach: bool) -> None:
    # UDL eq. 6.15-6.17 with the book's names: β (first moment), γ (second moment), ε.
    alpha, beta, gamma, eps = 0.02, 0.9, 0.99, 1e-8
    phi = _PHI0.clone()
    m, v = torch.zeros(5, dtype=F64), torch.zeros(5, dtype=F64)
    book = []
    for t in range(200):
        g = grad(phi)
        m = beta * m + (1 - beta) * g  # eq. 6.15
        v = gamma * v + (1 - gamma) * g**2
        m_tilde = m / (1 - beta ** (t + 1))  # eq. 6.16
        v_tilde = v / (1 - gamma ** (t + 1))
        phi = phi - alpha * m_tilde / (torch.sqrt(v_tilde) + eps)  # eq. 6.17
        book.append(phi)
    ours = run_udl(udl.optim.Adam, 200, lr=alpha, betas=(beta, gamma), eps=eps, foreach=foreach)
    torch.testing.assert_close(torch.stack(ours), torch.stack(book), rtol=1e-10, atol=1e-12)
    # the first Adam step moves every coordinate by ≈ α: the normalized-gradient behaviour (eq. 6.13-6.14)
    first_step = (ours[0] - _PHI0).abs()
    torch.testing.assert_close(first_step, torch.full_like(first_step, alpha), rtol=1e-6, atol=0)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decays_the_weights_and_adam_penalizes_the_gradient(amsgrad: bool) -> None:
    alpha, beta1, beta2, eps, lam = 0.02, 0.9, 0.999, 1e-8, 0.1
    for decoupled in (False, True):
        phi = _PHI0.clone()
        m, v, v_max = (torch.zeros(5, dtype=F64) for _ in range(3))
        for t in range(1, 101):
            g = grad(phi)
            if decoupled:
                phi = phi * (1 - alpha * lam)  # Loshchilov & Hutter: shrink φ, outside the adaptive scaling
            else:
                g = g + lam * phi  # L2 penalty: goes through m and v
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            v_max = torch.maximum(v_max, v)
            v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
            phi = phi - alpha * (m / (1 - beta1**t)) / (torch.sqrt(v_hat) + eps)
        cls = udl.optim.AdamW if decoupled else udl.optim.Adam
        ours = run_udl(cls, 100, lr=alpha, betas=(beta1, beta2), eps=eps, weight_decay=lam, amsgrad=amsgrad)
        torch.testing.assert_close(ours[-1], phi, rtol=1e-10, atol=1e-12)


def test_rmsprop_is_the_second_moment_half_of_adam() -> None:
    lr, a, eps = 0.01, 0.9, 1e-8
    phi, v = _PHI0.clone(), torch.zeros(5, dtype=F64)
    for _ in range(100):
        g = grad(phi)
        v = a * v + (1 - a) * g**2
        phi = phi - lr * g / (torch.sqrt(v) + eps)
    ours = run_udl(udl.optim.RMSprop, 100, lr=lr, alpha=a, eps=eps)
    torch.testing.assert_close(ours[-1], phi, rtol=1e-10, atol=1e-12)
    # no bias correction: the first step is lr / sqrt(1 - α) per coordinate, larger than lr
    first = run_udl(udl.optim.RMSprop, 1, lr=lr, alpha=a, eps=0.0)[0]
    torch.testing.assert_close((first - _PHI0).abs(), torch.full((5,), lr / math.sqrt(1 - a), dtype=F64))
