"""Chapter 18: closed forms vs sampling and brute force, scheduler steps vs diffusers (test oracle only)."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from udl.generative import (
    DiffusionSchedule,
    MLPDenoiser,
    UNetDenoiser,
    beta_schedule,
    ddim_step,
    ddpm_loss,
    ddpm_step,
    guided,
    timestep_subsequence,
)
from udl.generative.diffusion import sample

F64 = torch.float64


def _in_float64(ref: DDPMScheduler | DDIMScheduler, betas: torch.Tensor) -> None:
    """diffusers keeps its constants in float32 (1 − ᾱ loses ~3 digits near t = 0); give it float64 ones so both
    sides compute in float64 and agree to rounding."""
    ref.betas = betas
    ref.alphas = 1 - betas
    ref.alphas_cumprod = torch.cumprod(1 - betas, 0)
    ref.one = torch.tensor(1.0, dtype=F64)
    ref.final_alpha_cumprod = torch.tensor(1.0, dtype=F64)


def test_schedules_match_diffusers() -> None:
    lin = DDPMScheduler(num_train_timesteps=100, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    torch.testing.assert_close(beta_schedule("linear", 100).float(), lin.betas)
    cos = DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2")
    torch.testing.assert_close(beta_schedule("cosine", 100).float(), cos.betas)
    torch.testing.assert_close(beta_schedule("constant", 5, beta=0.03), torch.full((5,), 0.03, dtype=F64))
    sched = DiffusionSchedule(beta_schedule("linear", 100))
    torch.testing.assert_close(sched.alphas[1:].float(), lin.alphas_cumprod)
    assert float(sched.alphas[0]) == 1.0 and float(sched.betas[0]) == 0.0


def test_marginal_matches_running_the_forward_process() -> None:
    """z_t from t forward steps has mean √α_t x and variance 1 − α_t (x fixed), within 4 SE."""
    sched = DiffusionSchedule(beta_schedule("constant", 100, beta=0.02))
    g = torch.Generator().manual_seed(0)
    n = 40_000
    x = torch.full((n, 1), 1.5, dtype=F64)
    z = x
    for t in range(1, 101):
        z = sched.forward_step(z, t, torch.randn(n, 1, generator=g, dtype=F64))
        if t in (1, 10, 50, 100):
            mean, std = sched.marginal(x[:1], t)
            se = float(std[0, 0]) / math.sqrt(n)
            assert abs(float(z.mean()) - float(mean[0, 0])) < 4 * se
            assert abs(float(z.var()) / float(std[0, 0]) ** 2 - 1) < 4 * math.sqrt(2 / n)
    # α_t = Π (1 − β): for constant β, (1 − β)^t
    torch.testing.assert_close(sched.alphas[50], torch.tensor(0.98**50, dtype=F64))


def test_posterior_matches_bayes_rule_on_a_grid() -> None:
    """q(z_{t−1} | z_t, x) ∝ q(z_t | z_{t−1}) q(z_{t−1} | x), normalized numerically on a fine grid."""
    sched = DiffusionSchedule(beta_schedule("cosine", 50))
    x, z_t = torch.tensor([[0.7]], dtype=F64), torch.tensor([[-0.4]], dtype=F64)
    for t in (2, 10, 30):
        grid = torch.linspace(-8, 8, 400_001, dtype=F64)
        b, a_prev = sched.betas[t], sched.alphas[t - 1]
        log_density = torch.distributions.Normal((1 - b).sqrt() * grid, b.sqrt()).log_prob(z_t[0, 0])
        log_density += torch.distributions.Normal(a_prev.sqrt() * x[0, 0], (1 - a_prev).sqrt()).log_prob(grid)
        w = torch.softmax(log_density, 0)
        m = (w * grid).sum()
        sd = (w * (grid - m) ** 2).sum().sqrt()
        mean, std = sched.posterior(z_t, x, t)
        torch.testing.assert_close(mean[0, 0], m, rtol=1e-7, atol=1e-9)
        torch.testing.assert_close(std[0, 0], sd, rtol=1e-6, atol=1e-9)


def test_posterior_matches_regression_on_joint_samples() -> None:
    """Draw x, z_{t−1} ~ q(·|x), z_t ~ forward step; E[z_{t−1}|z_t,x] is linear with the posterior coefficients."""
    sched = DiffusionSchedule(beta_schedule("linear", 100))
    g = torch.Generator().manual_seed(1)
    n, t = 200_000, 40
    x = torch.randn(n, 1, generator=g, dtype=F64)
    z_prev = sched.diffuse(x, t - 1, torch.randn(n, 1, generator=g, dtype=F64))
    z_t = sched.forward_step(z_prev, t, torch.randn(n, 1, generator=g, dtype=F64))
    design = torch.cat([z_t, x], 1)
    coef = torch.linalg.lstsq(design, z_prev).solution[:, 0]
    resid = (z_prev - design @ coef[:, None]).std()
    mean, std = sched.posterior(
        torch.tensor([[1.0], [0.0]], dtype=F64), torch.tensor([[0.0], [1.0]], dtype=F64), t
    )
    torch.testing.assert_close(coef, mean[:, 0], rtol=0, atol=5e-3)
    assert abs(float(resid) / float(std[0, 0]) - 1) < 0.01


@pytest.mark.parametrize("clip", [None, 1.0])
@pytest.mark.parametrize(("variance", "kind"), [("posterior", "fixed_small"), ("beta", "fixed_large")])
def test_ddpm_step_equals_diffusers(variance: str, kind: str, clip: float | None) -> None:
    ref = DDPMScheduler(
        num_train_timesteps=100, beta_schedule="linear", clip_sample=clip is not None, variance_type=kind
    )
    ref.set_timesteps(100)
    _in_float64(ref, beta_schedule("linear", 100))
    sched = DiffusionSchedule(beta_schedule("linear", 100))
    g = torch.Generator().manual_seed(0)
    z, eps = torch.randn(4, 3, generator=g, dtype=F64), torch.randn(4, 3, generator=g, dtype=F64)
    for tau in (99, 50, 1, 0):
        expected = ref.step(eps, tau, z, generator=torch.Generator().manual_seed(5)).prev_sample
        noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
        ours = ddpm_step(eps, z, tau + 1, sched, variance=variance, noise=noise, clip=clip)  # type: ignore[arg-type]
        torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("clip", [None, 1.0])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_equals_diffusers(eta: float, clip: float | None) -> None:
    """With ``clip`` our step recomputes ĝ from the clamped x̂: diffusers' ``use_clipped_model_output=True``."""
    ref = DDIMScheduler(
        num_train_timesteps=100, beta_schedule="linear", clip_sample=clip is not None, set_alpha_to_one=True
    )
    ref.set_timesteps(20)  # step ratio 5: timesteps 95, 90, ..., 0
    _in_float64(ref, beta_schedule("linear", 100))
    sched = DiffusionSchedule(beta_schedule("linear", 100))
    g = torch.Generator().manual_seed(0)
    z, eps = torch.randn(4, 3, generator=g, dtype=F64), torch.randn(4, 3, generator=g, dtype=F64)
    for tau in (95, 40, 5, 0):
        noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(9), dtype=F64)
        expected = ref.step(
            eps, tau, z, eta=eta, variance_noise=noise, use_clipped_model_output=True
        ).prev_sample
        prev = tau - 5
        ours = ddim_step(
            eps, z, tau + 1, prev + 1 if prev >= 0 else 0, sched, eta=eta, noise=noise, clip=clip
        )
        torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_ddim_with_eta_one_is_the_ancestral_posterior_step() -> None:
    sched = DiffusionSchedule(beta_schedule("cosine", 30))
    g = torch.Generator().manual_seed(2)
    z, eps, noise = (torch.randn(5, 2, generator=g, dtype=F64) for _ in range(3))
    for t in (2, 15, 30):
        torch.testing.assert_close(
            ddim_step(eps, z, t, t - 1, sched, eta=1.0, noise=noise),
            ddpm_step(eps, z, t, sched, variance="posterior", noise=noise),
        )


def test_ancestral_step_with_the_true_noise_is_the_posterior_mean() -> None:
    """With ĝ = the ε that made z_t, the noise-free step equals the posterior mean q(z_{t−1}|z_t, x)."""
    sched = DiffusionSchedule(beta_schedule("linear", 100))
    g = torch.Generator().manual_seed(3)
    x, eps = torch.randn(6, 2, generator=g, dtype=F64), torch.randn(6, 2, generator=g, dtype=F64)
    for t in (2, 37, 100):
        z_t = sched.diffuse(x, t, eps)
        mean, _ = sched.posterior(z_t, x, t)
        torch.testing.assert_close(ddpm_step(eps, z_t, t, sched, noise=torch.zeros_like(z_t)), mean)
        torch.testing.assert_close(sched.predict_x(z_t, eps, t), x)


def test_timestep_subsequence() -> None:
    assert timestep_subsequence(100, 20) == [100, *range(95, 0, -5), 0]
    assert timestep_subsequence(10, 10) == [*range(10, 0, -1), 0]
    with pytest.raises(ValueError, match="count"):
        timestep_subsequence(10, 11)


def test_loss_training_and_guided_sampling_run() -> None:
    """A conditional MLP denoiser trained on two classes at ±2: guided samples land near their class."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    sched = DiffusionSchedule(beta_schedule("linear", 50, beta_end=0.2))
    labels = torch.randint(0, 2, (512,), generator=g)
    x = (labels.float() * 4 - 2)[:, None] + 0.1 * torch.randn(512, 1, generator=g)
    model = MLPDenoiser(1, 64, 2, num_classes=2, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        loss = ddpm_loss(model, x, sched, labels=labels, p_uncond=0.2, null_label=2, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.6
    want = torch.tensor([0] * 50 + [1] * 50)
    out = sample(guided(model, want, 1.0, 2), (100, 1), sched, generator=g)
    assert float((out[:50] < 0).float().mean()) > 0.9 and float((out[50:] > 0).float().mean()) > 0.9
    fast = sample(guided(model, want, 0.0, 2), (100, 1), sched, method="ddim", count=10, generator=g)
    assert float((fast[:50] < 0).float().mean()) > 0.9


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="kind"):
        beta_schedule("quadratic", 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="betas"):
        DiffusionSchedule(torch.tensor([0.1, 1.0]))
    sched = DiffusionSchedule(beta_schedule("linear", 10))
    with pytest.raises(ValueError, match="t must be in"):
        sched.marginal(torch.zeros(2, 1), 11)
    with pytest.raises(ValueError, match="s < t"):
        ddim_step(torch.zeros(1), torch.zeros(1), 3, 3, sched)
    with pytest.raises(ValueError, match="variance"):
        ddpm_step(torch.zeros(1), torch.zeros(1), 3, sched, variance="large")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        sample(lambda z, t: z, (2, 1), sched, method="euler")  # type: ignore[arg-type]


def _unet(generator_seed: int = 0, **kw: object) -> UNetDenoiser:
    net = UNetDenoiser(
        1, (8, 16), num_classes=10, generator=torch.Generator().manual_seed(generator_seed), **kw
    )
    return net.double()


def test_unet_denoiser_seeding_zero_head_and_shapes() -> None:
    state = torch.random.get_rng_state()
    a, b = _unet(), _unet()
    assert torch.equal(torch.random.get_rng_state(), state)  # built from its generator alone
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    z = torch.randn(5, 1, 8, 8, dtype=F64)
    t, labels = torch.tensor([1, 5, 9, 50, 100]), torch.tensor([0, 3, 9, 10, 4])
    assert torch.equal(a(z, t, labels), torch.zeros_like(z))  # zero-initialized head: ε̂ = 0 before training
    assert UNetDenoiser(3, (4, 8, 8))(torch.randn(2, 3, 8, 8), torch.tensor([1, 2])).shape == (2, 3, 8, 8)


def test_unet_denoiser_is_per_sample_and_conditioned() -> None:
    """GroupNorm, not BatchNorm: one image's prediction does not depend on its batch; t and c change it."""
    net = _unet()
    with torch.no_grad():
        for p in net.head.parameters():
            p.normal_(generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    z = torch.randn(6, 1, 8, 8, generator=g, dtype=F64)
    t, labels = torch.randint(1, 100, (6,), generator=g), torch.randint(0, 11, (6,), generator=g)
    batch = net(z, t, labels)
    alone = torch.cat([net(z[i : i + 1], t[i : i + 1], labels[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(batch, alone, rtol=1e-12, atol=1e-12)
    assert (net(z, t + 1, labels) - batch).abs().max() > 1e-3  # the step is seen
    assert (net(z, t, (labels + 1) % 11) - batch).abs().max() > 1e-3  # so is the label


def test_unet_denoiser_learns_to_predict_noise_on_a_fixed_batch() -> None:
    net = _unet()
    g = torch.Generator().manual_seed(3)
    z, eps = torch.randn(8, 1, 8, 8, generator=g, dtype=F64), torch.randn(8, 1, 8, 8, generator=g, dtype=F64)
    t, labels = torch.full((8,), 20), torch.arange(8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        loss = (net(z, t, labels) - eps).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.1 * losses[0]


def test_unet_denoiser_bad_inputs() -> None:
    with pytest.raises(ValueError, match="divisible by 2"):
        _unet()(torch.zeros(1, 1, 7, 8, dtype=F64), torch.tensor([1]))
    with pytest.raises(ValueError, match="unconditional"):
        UNetDenoiser(1, (4,))(torch.zeros(1, 1, 8, 8), torch.tensor([1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="widths"):
        UNetDenoiser(1, ())


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_clip_keeps_samples_in_range(method: str) -> None:
    """With clip = 1 the last step returns the clamped x̂ itself (α_0 = 1), so samples lie in [−1, 1] even for a
    model whose implied data are far outside; without it they do not."""
    sched = DiffusionSchedule(beta_schedule("cosine", 20))

    def bad(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -3 * z  # implied x̂ = (1 + 3√(1 − α_t)) z / √α_t: large

    kw = {"method": method, "count": 5} if method == "ddim" else {"method": method}
    clipped = sample(bad, (200, 1), sched, clip=1.0, generator=torch.Generator().manual_seed(0), **kw)
    free = sample(bad, (200, 1), sched, generator=torch.Generator().manual_seed(0), **kw)
    assert float(clipped.abs().max()) <= 1.0 + 1e-6 and float(free.abs().max()) > 2
    with pytest.raises(ValueError, match="clip"):
        sample(bad, (2, 1), sched, clip=0.0)
