"""GAN losses against hand-computed values and notebook 15.1's printed numbers; the gradient penalty against
closed forms; mini-batch discrimination against a double loop; the networks' fade-in and conditioning; the steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from udl.generative import (
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchDiscrimination,
    MLPDiscriminator,
    ProgressiveDiscriminator,
    ProgressiveGenerator,
    categorical_mi_lower_bound,
    conditional_gan_step,
    continuous_code_nll,
    discriminator_loss,
    gan_step,
    generator_loss,
    gradient_penalty,
    infogan_latent,
    infogan_step,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
    wgan_gp_step,
)
from udl.nn import MLP
from udl.optim import SGD, Adam
from udl.train import OptimizerStep, minibatches, train


def _sig(a: float) -> float:
    return 1 / (1 + math.exp(-a))


def test_losses_match_notebook_15_1() -> None:
    # Notebook 15.1: real x ~ N(7.5, 1) (numpy seed 0), x* = z + 3 (seed 1), discriminator sig(-2 + x); it
    # prints the true losses 13.814757170851447 (discriminator) and 13.78437035945412 (-generator, minimax).
    np.random.seed(0)  # noqa: NPY002 - the notebook's own draws
    x_real = np.random.normal(size=(1, 10)) + 7.5  # noqa: NPY002
    np.random.seed(1)  # noqa: NPY002
    x_syn = np.random.normal(size=(1, 10)) + 3.0  # noqa: NPY002
    real_logits, fake_logits = torch.tensor(-2 + x_real), torch.tensor(-2 + x_syn)
    assert float(discriminator_loss(real_logits, fake_logits, "sum")) == pytest.approx(
        13.814757170851447, rel=1e-12
    )
    assert float(-generator_loss(fake_logits, "minimax", "sum")) == pytest.approx(
        13.78437035945412, rel=1e-12
    )


def test_losses_match_hand_computation_and_gradients() -> None:
    real, fake = [0.3, -1.2, 2.0], [-0.5, 1.5]
    d_mean = -sum(math.log(_sig(a)) for a in real) / 3 - sum(math.log(1 - _sig(a)) for a in fake) / 2
    r, f = (
        torch.tensor(real, dtype=torch.float64),
        torch.tensor(fake, dtype=torch.float64, requires_grad=True),
    )
    assert float(discriminator_loss(r, f.detach())) == pytest.approx(d_mean, rel=1e-12)
    minimax = generator_loss(f, "minimax", "sum")
    assert float(minimax.detach()) == pytest.approx(sum(math.log(1 - _sig(a)) for a in fake), rel=1e-12)
    (grad,) = torch.autograd.grad(minimax, f)
    assert torch.allclose(grad, -torch.sigmoid(f.detach()))  # saturates as sig(f) -> 0
    saturating = generator_loss(f, "non_saturating", "sum")
    assert float(saturating.detach()) == pytest.approx(-sum(math.log(_sig(a)) for a in fake), rel=1e-12)
    (grad,) = torch.autograd.grad(saturating, f)
    assert torch.allclose(grad, -(1 - torch.sigmoid(f.detach())))
    # extreme logits stay finite (softplus, never log(sigmoid))
    extreme = torch.tensor([-200.0, 200.0], dtype=torch.float64)
    assert torch.isfinite(discriminator_loss(extreme, extreme)) and torch.isfinite(generator_loss(extreme))
    with pytest.raises(ValueError, match="kind"):
        generator_loss(f, "wasserstein")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reduction"):
        discriminator_loss(r, f, "none")  # type: ignore[arg-type]


def test_wasserstein_losses() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5, 1.0])
    assert float(wasserstein_critic_loss(real, fake)) == pytest.approx(1 / 3 - 2)
    assert float(wasserstein_generator_loss(fake)) == pytest.approx(-1 / 3)


def test_gradient_penalty_linear_critic_and_its_gradient() -> None:
    # f(x) = w·x has ∇f = w everywhere: penalty (‖w‖ − 1)², and d/dw = 2(‖w‖ − 1) w / ‖w‖.
    w = torch.tensor([0.6, -1.7, 0.4, 2.0], dtype=torch.float64, requires_grad=True)
    real = torch.randn(5, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fake = torch.randn(5, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    penalty = gradient_penalty(
        lambda x: x.flatten(1) @ w, real, fake, generator=torch.Generator().manual_seed(2)
    )
    norm = float(w.detach().norm())
    assert float(penalty.detach()) == pytest.approx((norm - 1) ** 2, rel=1e-12)
    (grad,) = torch.autograd.grad(penalty, w)
    assert torch.allclose(grad, 2 * (norm - 1) * w.detach() / norm)


def test_gradient_penalty_quadratic_critic() -> None:
    # f(x) = ½ xᵀAx + bᵀx: ∇f(x̂) = A x̂ + b at x̂ = α x + (1 − α) x*, by hand.
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    a = a + a.T
    b = torch.randn(3, generator=g, dtype=torch.float64)
    real, fake = (
        torch.randn(4, 3, generator=g, dtype=torch.float64),
        torch.randn(4, 3, generator=g, dtype=torch.float64),
    )
    alpha = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((x @ a) * x).sum(1) + x @ b

    mixed = alpha[:, None] * real + (1 - alpha[:, None]) * fake
    expected = ((mixed @ a + b).norm(dim=1) - 1).pow(2).mean()
    assert float(gradient_penalty(critic, real, fake, alpha=alpha)) == pytest.approx(
        float(expected), rel=1e-12
    )
    with pytest.raises(ValueError, match="alpha"):
        gradient_penalty(critic, real, fake, alpha=alpha[:2])


def test_infogan_terms() -> None:
    codes = torch.tensor([0, 2, 1, 2])
    perfect = 50.0 * F.one_hot(codes, 3).double()
    assert float(categorical_mi_lower_bound(perfect, codes)) == pytest.approx(math.log(3), abs=1e-12)
    assert float(categorical_mi_lower_bound(torch.zeros(4, 3), codes)) == pytest.approx(0.0, abs=1e-7)
    mean, u = torch.randn(6, 2, dtype=torch.float64), torch.rand(6, 2, dtype=torch.float64)
    reference = -torch.distributions.Normal(mean, 1.0).log_prob(u).sum(1).mean()
    assert float(continuous_code_nll(mean, u)) == pytest.approx(float(reference), rel=1e-12)
    full, c, cont = infogan_latent(5, 4, 3, 2, torch.Generator().manual_seed(0))
    assert full.shape == (5, 9) and torch.equal(full[:, 4:7].argmax(1), c) and bool((cont.abs() <= 1).all())


def test_minibatch_discrimination_matches_double_loop() -> None:
    layer = MinibatchDiscrimination(5, 4, 3, generator=torch.Generator().manual_seed(0)).double()
    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    m = (x @ layer.T).view(6, 4, 3)
    o = torch.zeros(6, 4, dtype=torch.float64)
    for i in range(6):
        for j in range(6):
            if i != j:
                o[i] += torch.exp(-(m[i] - m[j]).abs().sum(-1))
    out = layer(x)
    assert out.shape == (6, 9) and torch.allclose(out[:, :5], x) and torch.allclose(out[:, 5:], o)
    # identical samples (a collapsed batch) give the largest similarity: N − 1 per kernel
    assert torch.allclose(layer(x[:1].expand(6, 5))[:, 5:], torch.full((6, 4), 5.0, dtype=torch.float64))


def test_networks_shapes_seeding_and_global_rng() -> None:
    state = torch.random.get_rng_state()
    gen = DCGANGenerator(8, (16, 8), num_classes=10, generator=torch.Generator().manual_seed(0))
    twin = DCGANGenerator(8, (16, 8), num_classes=10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), state)  # building never draws from the global RNG
    assert all(torch.equal(p, q) for p, q in zip(gen.parameters(), twin.parameters(), strict=True))
    y = torch.arange(4)
    x = gen(torch.randn(4, 8), y)
    assert x.shape == (4, 1, 8, 8) and bool((x.abs() <= 1).all())
    with pytest.raises(ValueError, match="labels"):
        gen(torch.randn(4, 8))
    disc = DCGANDiscriminator(
        (8, 16), aux_classes=10, code_categories=3, code_continuous=2, minibatch_features=4
    )
    out = disc.outputs(x)
    assert out.logit.shape == (4,) and out.class_logits is not None and out.class_logits.shape == (4, 10)
    assert out.code_logits is not None and out.code_mean is not None and out.code_mean.shape == (4, 2)
    conditional = DCGANDiscriminator((8, 16), num_classes=10)
    assert conditional(x, y).shape == (4,)
    assert MLPDiscriminator(2, (16, 16), minibatch_features=4)(torch.randn(7, 2)).shape == (7,)


def test_progressive_fade_in() -> None:
    gen = ProgressiveGenerator(8, 8, generator=torch.Generator().manual_seed(0)).double().eval()
    z = torch.randn(5, 8, dtype=torch.float64)
    small = gen(z, 4)
    assert small.shape == (5, 1, 4, 4)
    up = small.repeat_interleave(2, -1).repeat_interleave(2, -2)  # nearest-neighbour upsampling
    assert torch.allclose(gen(z, 8, 0.0), up)
    full = gen(z, 8, 1.0)
    assert torch.allclose(gen(z, 8, 0.3), 0.3 * full + 0.7 * up)  # the fade-in is linear in α
    disc = ProgressiveDiscriminator(8, generator=torch.Generator().manual_seed(1)).double()
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(disc(x, 8, 0.0), disc(F.avg_pool2d(x, 2), 4))  # α = 0: the 4 x 4 network
    assert not torch.allclose(disc(x, 8, 1.0), disc(x, 8, 0.0))
    with pytest.raises(ValueError, match="alpha"):
        gen(z, 8, 1.5)
    with pytest.raises(ValueError, match="resolution"):
        disc(x, 16)


class _Shift(nn.Module):
    """Notebook 15.1's generator: x = z + θ."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(3.0))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.theta


def test_gan_step_moves_the_shift_generator_to_the_data() -> None:
    g = torch.Generator().manual_seed(0)
    data = torch.randn(2000, 1, generator=g) + 7.5
    gen, disc = _Shift(), nn.Linear(1, 1)
    step = gan_step(
        gen,
        disc,
        OptimizerStep(SGD(gen.parameters(), lr=0.2)),  # Adam's momentum makes this game oscillate
        OptimizerStep(SGD(disc.parameters(), lr=0.2)),
        latent_dim=1,
        noise=g,
    )
    train(
        step,
        lambda e: minibatches(data, batch_size=100, generator=g),
        epochs=10,
        state={"g": gen, "d": disc, "n": g},
    )
    assert abs(float(gen.theta.detach()) - 7.5) < 1.0  # from 4.5 away


def _run_variant(kind: str, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(64, 1, 8, 8, generator=g) * 2 - 1, torch.randint(10, (64,), generator=g)
    if kind == "wgan":
        gen, disc = MLP(4, (16,), 2, generator=g), MLPDiscriminator(2, (16,), generator=g)
        data = (torch.randn(64, 2, generator=g),)
    elif kind == "cgan":
        gen, disc = (
            DCGANGenerator(4, (8, 4), num_classes=10, generator=g),
            DCGANDiscriminator((4, 8), num_classes=10, generator=g),
        )
    elif kind == "acgan":
        gen, disc = (
            DCGANGenerator(4, (8, 4), num_classes=10, generator=g),
            DCGANDiscriminator((4, 8), aux_classes=10, generator=g),
        )
    else:
        gen = DCGANGenerator(4 + 3 + 2, (8, 4), generator=g)
        disc = DCGANDiscriminator((4, 8), code_categories=3, code_continuous=2, generator=g)
    g_up, d_up = (
        OptimizerStep(Adam(gen.parameters(), lr=1e-3)),
        OptimizerStep(Adam(disc.parameters(), lr=1e-3)),
    )
    if kind == "wgan":
        step = wgan_gp_step(gen, disc, g_up, d_up, latent_dim=4, noise=g, n_critic=2)
    elif kind in ("cgan", "acgan"):
        step = conditional_gan_step(
            gen, disc, g_up, d_up, latent_dim=4, num_classes=10, noise=g, auxiliary=kind == "acgan"
        )
        data = (x, y)
    else:
        step = infogan_step(gen, disc, g_up, d_up, noise_dim=4, categories=3, continuous=2, noise=g)
        data = (x,)
    before = [p.detach().clone() for p in [*gen.parameters(), *disc.parameters()]]
    result = train(step, [data, data], epochs=1, state={"gen": gen, "disc": disc, "noise": g})
    assert all(math.isfinite(v) for v in result.final.values())
    after = [p.detach().clone() for p in [*gen.parameters(), *disc.parameters()]]
    assert sum(not torch.equal(a, b) for a, b in zip(before, after, strict=True)) > len(before) // 2
    return after


@pytest.mark.parametrize("kind", ["wgan", "cgan", "acgan", "infogan"])
def test_variant_steps_update_both_networks_deterministically(kind: str) -> None:
    first, second = _run_variant(kind, 0), _run_variant(kind, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_steps_reject_missing_heads() -> None:
    gen, disc = DCGANGenerator(4, (8, 4), num_classes=10), DCGANDiscriminator((4, 8))
    up = OptimizerStep(Adam(gen.parameters()))
    with pytest.raises(ValueError, match="classifier"):
        conditional_gan_step(
            gen, disc, up, up, latent_dim=4, num_classes=10, noise=torch.Generator(), auxiliary=True
        )
    with pytest.raises(ValueError, match="conditioned"):
        conditional_gan_step(gen, disc, up, up, latent_dim=4, num_classes=10, noise=torch.Generator())
    with pytest.raises(ValueError, match="Q heads"):
        infogan_step(gen, disc, up, up, noise_dim=4, categories=3, continuous=0, noise=torch.Generator())
