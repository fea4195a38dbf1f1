"""FGSM and PGD in the L∞ ball (UDL section 9.3.4) against autograd and the closed-form linear optimum.

References: x + ε·sign(∇x L) with the gradient from a separate ``torch.autograd`` call; for linear classifiers
the exact worst case in the L∞ ball (binary cross-entropy: δ* = −ε·sign(w_y − w_ȳ), loss
softplus(−(m − ε‖w_y − w_ȳ‖₁)); multiclass margins: min over the ball of z_y − z_j is m_j − ε‖w_y − w_j‖₁);
brute force over the 2^D corners of the ball.
"""

from __future__ import annotations

import functools
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference import F64, gen
from udl.attacks import fgsm, input_gradient, pgd
from udl.nn import MLP


def _linear(d: int, k: int, seed: int) -> nn.Linear:
    g = gen(seed)
    layer = nn.Linear(d, k, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(k, d, generator=g, dtype=F64))
        layer.bias.copy_(torch.randn(k, generator=g, dtype=F64))
    return layer


def _data(n: int, d: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(0, k, (n,), generator=g)


@functools.cache
def _trained_mlp() -> tuple[MLP, torch.Tensor, torch.Tensor]:
    """A small MLP fitted to a learnable rule (built once; the tests only read it)."""
    x, y = _data(256, 10, 4, 1)
    y = (x[:, :4] + 0.3 * x[:, 4:8]).argmax(1)  # a learnable rule
    model = MLP(10, (32, 32), 4, generator=gen(0), dtype=F64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


# -- FGSM ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3])
def test_fgsm_is_x_plus_eps_sign_of_the_autograd_gradient(eps: float) -> None:
    model = MLP(7, (16,), 3, generator=gen(2), dtype=F64)
    x, y = _data(20, 7, 3, 3)
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(model(xr), y).backward()
    expected = x + eps * xr.grad.sign()
    assert torch.equal(fgsm(model, x, y, eps), expected)
    assert float((fgsm(model, x, y, eps) - x).abs().max()) <= eps * (1 + 1e-12)  # (x + ε) − x rounds
    # the sum-reduced loss has the same signs
    assert torch.equal(fgsm(model, x, y, eps, lambda f, t: F.cross_entropy(f, t, reduction="sum")), expected)


def test_attacks_leave_the_model_alone() -> None:
    model = MLP(5, (8,), 2, generator=gen(0), dtype=F64)
    model.train()
    x, y = _data(6, 5, 2, 0)
    before = [p.detach().clone() for p in model.parameters()]
    fgsm(model, x, y, 0.1)
    pgd(model, x, y, 0.1, 0.02, 5, generator=gen(0))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
    xr = x.clone().requires_grad_(True)
    assert not fgsm(model, xr, y, 0.1).requires_grad


def test_input_gradient_matches_autograd() -> None:
    model = MLP(4, (6,), 3, generator=gen(4), dtype=F64)
    x, y = _data(9, 4, 3, 5)
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(model(xr), y).backward()
    torch.testing.assert_close(input_gradient(model, x, y), xr.grad, rtol=0, atol=0)


def test_fgsm_clamps_to_a_valid_range() -> None:
    model = MLP(4, (6,), 3, generator=gen(4), dtype=F64)
    x = torch.rand(9, 4, generator=gen(1), dtype=F64)
    y = torch.randint(0, 3, (9,), generator=gen(2))
    adv = fgsm(model, x, y, 0.5, clamp=(0.0, 1.0))
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


# -- PGD ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("random_start", [False, True])
@pytest.mark.parametrize("eps", [0.01, 0.1, 1.0])
def test_pgd_stays_in_the_ball(random_start: bool, eps: float) -> None:
    model, x, y = _trained_mlp()
    adv = pgd(model, x, y, eps, alpha=eps / 4, steps=10, random_start=random_start, generator=gen(0))
    assert float((adv - x).abs().max()) <= eps * (1 + 1e-12)


def test_pgd_one_step_from_x_is_fgsm() -> None:
    model, x, y = _trained_mlp()
    assert torch.equal(pgd(model, x, y, 0.2, alpha=0.2, steps=1, random_start=False), fgsm(model, x, y, 0.2))


def test_pgd_is_seeded() -> None:
    model, x, y = _trained_mlp()
    a = pgd(model, x, y, 0.2, 0.05, 3, generator=gen(1))
    assert torch.equal(a, pgd(model, x, y, 0.2, 0.05, 3, generator=gen(1)))
    assert not torch.equal(a, pgd(model, x, y, 0.2, 0.05, 3, generator=gen(2)))


def test_pgd_is_at_least_as_strong_as_fgsm_on_a_trained_mlp() -> None:
    model, x, y = _trained_mlp()
    eps = 0.3
    loss_fgsm = F.cross_entropy(model(fgsm(model, x, y, eps)), y).detach()
    adv = pgd(model, x, y, eps, alpha=2.5 * eps / 20, steps=20, generator=gen(0))
    loss_pgd = F.cross_entropy(model(adv), y).detach()
    assert float(loss_pgd) >= float(loss_fgsm)
    acc = {
        name: float((model(a).argmax(1) == y).double().mean())
        for name, a in (("fgsm", fgsm(model, x, y, eps)), ("pgd", adv))
    }
    assert acc["pgd"] <= acc["fgsm"]


@pytest.mark.parametrize("random_start", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_pgd_reaches_the_closed_form_optimum_of_a_binary_linear_classifier(
    random_start: bool, seed: int
) -> None:
    # f = Wx + b with K = 2: the cross-entropy is softplus(−m), m = (w_y − w_ȳ)·x + b_y − b_ȳ, which decreases in
    # m; over the L∞ ball the margin is minimised by δ* = −ε sign(w_y − w_ȳ) and drops by ε‖w_y − w_ȳ‖₁.
    model = _linear(6, 2, seed)
    x, y = _data(50, 6, 2, seed + 10)
    eps, steps = 0.25, 8
    w, b = model.weight.detach(), model.bias.detach()
    w_diff = w[y] - w[1 - y]  # (N, D) w_y − w_ȳ
    margin = (w_diff * x).sum(1) + b[y] - b[1 - y]
    optimum = torch.where(w_diff > 0, x - eps, x + eps)
    best_loss = F.softplus(-(margin - eps * w_diff.abs().sum(1)))

    adv = pgd(
        model, x, y, eps, alpha=2.5 * eps / steps, steps=steps, random_start=random_start, generator=gen(seed)
    )
    assert torch.equal(adv, optimum)
    torch.testing.assert_close(
        F.cross_entropy(model(adv), y, reduction="none"), best_loss, rtol=1e-13, atol=0
    )
    # FGSM is optimal here as well: the linearisation is exact
    torch.testing.assert_close(
        fgsm(model, x, y, eps), torch.where(w_diff > 0, x - eps, x + eps), rtol=0, atol=1e-15
    )


@pytest.mark.parametrize("seed", range(3))
def test_targeted_margin_pgd_gives_the_exact_robust_accuracy_of_a_linear_classifier(seed: int) -> None:
    # multiclass linear: min over the ball of z_y − z_j is m_j − ε‖w_y − w_j‖₁, so x is robustly classified iff
    # that is > 0 for every j ≠ y. PGD on the margin loss z_j − z_y (one target j at a time) must reach it.
    k, d, eps = 5, 8, 0.2
    model = _linear(d, k, seed)
    x, y = _data(300, d, k, seed + 20)
    w = model.weight.detach()
    z = model(x).detach()
    worst = torch.full((len(x),), torch.inf, dtype=F64)
    attacked = torch.full((len(x),), torch.inf, dtype=F64)
    for j in range(k):
        target = torch.full_like(y, j)
        closed_form = z.gather(1, y[:, None])[:, 0] - z[:, j] - eps * (w[y] - w[j]).abs().sum(1)
        worst = torch.where(y == j, worst, torch.minimum(worst, closed_form))

        def margin_loss(f: torch.Tensor, t: torch.Tensor, j: int = j) -> torch.Tensor:
            return (f[:, j] - f.gather(1, y[:, None])[:, 0]).sum()

        adv = pgd(
            model,
            x,
            target,
            eps,
            alpha=eps / 2,
            steps=6,
            random_start=True,
            generator=gen(j),
            loss_fn=margin_loss,
        )
        zz = model(adv).detach()
        reached = zz.gather(1, y[:, None])[:, 0] - zz[:, j]
        torch.testing.assert_close(reached[y != j], closed_form[y != j], rtol=1e-12, atol=1e-12)
        attacked = torch.where(y == j, attacked, torch.minimum(attacked, reached))
    exact_robust = float((worst > 0).double().mean())
    assert float((attacked > 0).double().mean()) == exact_robust
    assert 0.0 < exact_robust < float((z.argmax(1) == y).double().mean())  # the case is not trivial


@pytest.mark.parametrize("seed", range(2))
def test_pgd_never_beats_the_brute_force_maximum_over_corners(seed: int) -> None:
    # the cross-entropy of a linear model is convex in δ, so its maximum over the box is at one of the 2^D corners
    d, k, eps = 5, 3, 0.3
    model = _linear(d, k, seed)
    x, y = _data(100, d, k, seed)
    corners = torch.tensor(list(itertools.product([-eps, eps], repeat=d)), dtype=F64)  # (2^D, D)
    best = torch.stack([F.cross_entropy(model(x + c), y, reduction="none") for c in corners], 1).max(1).values
    adv = pgd(model, x, y, eps, alpha=eps / 4, steps=20, generator=gen(seed))
    reached = F.cross_entropy(model(adv), y, reduction="none").detach()
    assert bool((reached <= best + 1e-12).all())
    assert (
        float((reached >= best - 1e-12).double().mean()) >= 0.8
    )  # PGD finds the best corner for most inputs


def test_attack_bad_input() -> None:
    model = MLP(3, (), 2, generator=gen(0))
    x, y = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="eps"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="alpha"):
        pgd(model, x, y, 0.1, 0.0, 3)
    with pytest.raises(ValueError, match="steps"):
        pgd(model, x, y, 0.1, 0.01, 0)
