r"""Denoising diffusion models (UDL chapter 18), in the book's notation.

Time runs t = 0 (data, z_0 = x) .. T. Arrays of :class:`DiffusionSchedule` have T + 1 entries, index t, with
β_0 = 0 and α_0 = 1, so index t means the book's step t (diffusers' ``timestep`` τ is our t = τ + 1).

- Forward process (UDL section 18.2): z_t = √(1 − β_t) z_{t−1} + √β_t ε_t (:meth:`DiffusionSchedule.forward_step`).
- Diffusion kernel (section 18.2.1): q(z_t | x) = Norm[√α_t x, (1 − α_t) I] with α_t = Π_{s ≤ t} (1 − β_s)
  (:meth:`~DiffusionSchedule.marginal`, :meth:`~DiffusionSchedule.diffuse`; diffusers' ``alphas_cumprod``).
- Conditional diffusion distribution (section 18.2.4):
  q(z_{t−1} | z_t, x) = Norm[(1 − α_{t−1})/(1 − α_t) √(1 − β_t) z_t + √α_{t−1} β_t/(1 − α_t) x,
  β_t (1 − α_{t−1})/(1 − α_t) I] (:meth:`~DiffusionSchedule.posterior`).
- Schedules (:func:`beta_schedule`): the book's constant β (notebook 18.x), DDPM's linear 1e-4..0.02 and the
  cosine schedule of Nichol & Dhariwal (2021), each as diffusers builds it.
- Training (section 18.4, the simplified loss): minimize ‖g[√α_t x + √(1 − α_t) ε, t] − ε‖² over random t and ε
  (:func:`ddpm_loss`), with labels dropped at rate ``p_uncond`` for classifier-free guidance.
- Sampling (section 18.5, algorithm 18.2): ancestral steps
  z_{t−1} = (z_t − β_t/√(1 − α_t) ĝ)/√(1 − β_t) + σ_t ε, σ_t² = β_t (the book) or the posterior variance
  (:func:`ddpm_step`); DDIM (Song et al. 2021, section 18.6.2) from t to any earlier s, deterministic at η = 0
  (:func:`ddim_step`), which gives accelerated sampling on a subsequence of steps (:func:`timestep_subsequence`);
  classifier-free guidance ĝ = (1 + w) g(z, t, c) − w g(z, t, ∅) (section 18.6.3, :func:`guided`);
  :func:`sample` runs the loop.
- :class:`MLPDenoiser`: a small noise-prediction network g[z_t, t (, c)] for 1-D / 2-D data;
  :class:`UNetDenoiser`: the same for images, a U-Net (section 11.5.3) whose residual blocks add an embedding of
  the step and the class (the kind of network the book describes for images, section 18.5).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "DiffusionSchedule",
    "MLPDenoiser",
    "UNetDenoiser",
    "beta_schedule",
    "ddim_step",
    "ddpm_loss",
    "ddpm_step",
    "guided",
    "sample",
    "timestep_embedding",
    "timestep_subsequence",
]

ScheduleKind = Literal["constant", "linear", "cosine"]
_KINDS = ("constant", "linear", "cosine")
Variance = Literal["beta", "posterior"]
Denoiser = Callable[[Tensor, Tensor], Tensor]


def beta_schedule(
    kind: ScheduleKind,
    steps: int,
    *,
    beta: float = 0.01,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    max_beta: float = 0.999,
) -> Tensor:
    """(steps,) float64 noise schedule β_1..β_T.

    ``"constant"``: β_t = ``beta`` (the book's setting); ``"linear"``: evenly from ``beta_start`` to ``beta_end``
    (DDPM); ``"cosine"``: β_t = min(1 − ᾱ(t/T)/ᾱ((t−1)/T), max_beta) with ᾱ(u) = cos²((u + 0.008)/1.008 · π/2)
    (Nichol & Dhariwal 2021; diffusers' ``"squaredcos_cap_v2"``).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if kind == "constant":
        if not 0 < beta < 1:
            raise ValueError(f"beta must be in (0, 1), got {beta}")
        return torch.full((steps,), float(beta), dtype=torch.float64)
    if kind == "linear":
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        return torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    if kind == "cosine":
        u = torch.arange(steps + 1, dtype=torch.float64) / steps
        abar = torch.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
        return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def _as_steps(t: Tensor | int, like: Tensor) -> Tensor:
    """t as a long tensor broadcastable against the batch dimension of ``like``: (N, 1, ..., 1) or scalar."""
    t = torch.as_tensor(t, device=like.device)
    if t.dtype.is_floating_point:
        raise TypeError(f"t must be an integer step, got dtype {t.dtype}")
    return t.reshape(-1, *([1] * (like.ndim - 1))) if t.ndim == 1 else t


class DiffusionSchedule:
    """The forward process's constants for β_1..β_T, with the book's α_t = Π_{s ≤ t}(1 − β_s) (index 0: data).

    Args:
        betas: (T,) β_1..β_T in (0, 1) (see :func:`beta_schedule`).
        dtype: dtype of the stored constants (float64: the closed forms as exact references).
    """

    def __init__(self, betas: Tensor, *, dtype: torch.dtype = torch.float64) -> None:
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or betas.numel() < 1 or bool(((betas <= 0) | (betas >= 1)).any()):
            raise ValueError("betas must be a non-empty 1-D tensor with every value in (0, 1)")
        self.betas = torch.cat([betas.new_zeros(1), betas]).to(dtype)  # (T+1,), β_0 = 0
        self.alphas = torch.cumprod(1 - torch.cat([betas.new_zeros(1), betas]), 0).to(
            dtype
        )  # (T+1,), α_0 = 1

    @property
    def steps(self) -> int:
        """T, the number of diffusion steps."""
        return self.betas.numel() - 1

    def _check_t(self, t: Tensor, low: int = 0) -> None:
        if bool(((t < low) | (t > self.steps)).any()):
            raise ValueError(
                f"t must be in [{low}, {self.steps}], got values from {int(t.min())} to {int(t.max())}"
            )

    def _at(self, values: Tensor, t: Tensor, like: Tensor) -> Tensor:
        return values.to(like.device, like.dtype)[t]

    def forward_step(self, z_prev: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
        """z_t = √(1 − β_t) z_{t−1} + √β_t ε (UDL section 18.2), t >= 1."""
        t = _as_steps(t, z_prev)
        self._check_t(t, 1)
        beta = self._at(self.betas, t, z_prev)
        return (1 - beta).sqrt() * z_prev + beta.sqrt() * noise

    def marginal(self, x: Tensor, t: Tensor | int) -> tuple[Tensor, Tensor]:
        """Mean √α_t x and standard deviation √(1 − α_t) of q(z_t | x) (UDL section 18.2.1)."""
        t = _as_steps(t, x)
        self._check_t(t)
        alpha = self._at(self.alphas, t, x)
        return alpha.sqrt() * x, (1 - alpha).sqrt().expand_as(x)

    def diffuse(self, x: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
        """A draw from q(z_t | x): √α_t x + √(1 − α_t) ε (the reparameterized diffusion kernel)."""
        mean, std = self.marginal(x, t)
        return mean + std * noise

    def posterior(self, z_t: Tensor, x: Tensor, t: Tensor | int) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of q(z_{t−1} | z_t, x) (UDL section 18.2.4), t >= 1."""
        t = _as_steps(t, z_t)
        self._check_t(t, 1)
        a_t, a_prev = self._at(self.alphas, t, z_t), self._at(self.alphas, t - 1, z_t)
        beta = self._at(self.betas, t, z_t)
        mean = (1 - a_prev) / (1 - a_t) * (1 - beta).sqrt() * z_t + a_prev.sqrt() * beta / (1 - a_t) * x
        return mean, (beta * (1 - a_prev) / (1 - a_t)).sqrt().expand_as(z_t)

    def predict_x(self, z_t: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """x̂ = (z_t − √(1 − α_t) ε̂)/√α_t: the data implied by a noise prediction."""
        t = _as_steps(t, z_t)
        self._check_t(t)
        alpha = self._at(self.alphas, t, z_t)
        return (z_t - (1 - alpha).sqrt() * noise) / alpha.sqrt()


def ddpm_loss(
    model: Callable[..., Tensor],
    x: Tensor,
    schedule: DiffusionSchedule,
    *,
    labels: Tensor | None = None,
    p_uncond: float = 0.0,
    null_label: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The book's simplified loss (UDL section 18.4): mean over the batch of ‖g[z_t, t] − ε‖² (summed over the
    data dimensions), t ~ Uniform{1..T}, ε ~ Norm[0, I], z_t = √α_t x + √(1 − α_t) ε.

    With ``labels`` the model is called ``model(z_t, t, labels)``; each label is replaced by ``null_label`` with
    probability ``p_uncond`` (classifier-free guidance trains one network for both).
    """
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    n = x.shape[0]
    t = torch.randint(1, schedule.steps + 1, (n,), generator=generator).to(x.device)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    z = schedule.diffuse(x, t, eps)
    if labels is None:
        pred = model(z, t)
    else:
        if p_uncond > 0 and null_label is None:
            raise ValueError("p_uncond > 0 needs null_label (the label meaning 'no condition')")
        drop = torch.rand(n, generator=generator).to(x.device) < p_uncond
        pred = model(z, t, torch.where(drop, torch.full_like(labels, null_label or 0), labels))
    return (pred - eps).pow(2).reshape(n, -1).sum(1).mean()


def ddpm_step(
    noise_pred: Tensor,
    z_t: Tensor,
    t: int,
    schedule: DiffusionSchedule,
    *,
    variance: Variance = "beta",
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
    clip: float | None = None,
) -> Tensor:
    """One ancestral step z_t -> z_{t−1} (UDL section 18.5, algorithm 18.2):

        z_{t−1} = (z_t − β_t/√(1 − α_t) ĝ)/√(1 − β_t) + σ_t ε,

    σ_t² = β_t (``"beta"``, the book; diffusers' ``"fixed_large"``) or the posterior variance
    β_t(1 − α_{t−1})/(1 − α_t) (``"posterior"``; diffusers' default ``"fixed_small"``). No noise at t = 1.
    ``noise`` (else drawn from ``generator``) is the ε.

    ``clip=c`` (diffusers' ``clip_sample``): the implied data x̂ = (z_t − √(1 − α_t) ĝ)/√α_t is clamped to
    [−c, c] and the mean is that of the posterior q(z_{t−1} | z_t, x̂) (section 18.2.4); without clamping the two
    means are the same.
    """
    if variance not in ("beta", "posterior"):
        raise ValueError(f"variance must be 'beta' or 'posterior', got {variance!r}")
    if not 1 <= t <= schedule.steps:
        raise ValueError(f"t must be in [1, {schedule.steps}], got {t}")
    _check_clip(clip)
    beta = float(schedule.betas[t])
    a_t, a_prev = float(schedule.alphas[t]), float(schedule.alphas[t - 1])
    if clip is None:
        mean = (z_t - beta / math.sqrt(1 - a_t) * noise_pred) / math.sqrt(1 - beta)
    else:
        x_hat = ((z_t - math.sqrt(1 - a_t) * noise_pred) / math.sqrt(a_t)).clamp(-clip, clip)
        mean = (1 - a_prev) / (1 - a_t) * math.sqrt(1 - beta) * z_t + math.sqrt(a_prev) * beta / (
            1 - a_t
        ) * x_hat
    if t == 1:
        return mean
    var = beta if variance == "beta" else beta * (1 - a_prev) / (1 - a_t)
    if noise is None:
        noise = torch.randn(z_t.shape, generator=generator, dtype=z_t.dtype).to(z_t.device)
    return mean + math.sqrt(var) * noise


def ddim_step(
    noise_pred: Tensor,
    z_t: Tensor,
    t: int,
    s: int,
    schedule: DiffusionSchedule,
    *,
    eta: float = 0.0,
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
    clip: float | None = None,
) -> Tensor:
    """One DDIM step from t to an earlier s (Song et al. 2021, eq. 12; UDL section 18.6.2):

        x̂ = (z_t − √(1 − α_t) ĝ)/√α_t,   σ = η √((1 − α_s)/(1 − α_t)) √(1 − α_t/α_s),
        z_s = √α_s x̂ + √(1 − α_s − σ²) ĝ + σ ε.

    η = 0 is deterministic; η = 1 with s = t − 1 is ancestral sampling with the posterior variance.
    ``clip=c`` (diffusers' ``clip_sample``) clamps x̂ to [−c, c] and recomputes ĝ = (z_t − √α_t x̂)/√(1 − α_t)
    from it: at large t, where √α_t is tiny, an error in ĝ is multiplied by 1/√α_t in x̂.
    """
    if not 0 <= s < t <= schedule.steps:
        raise ValueError(f"need 0 <= s < t <= {schedule.steps}, got t={t}, s={s}")
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    _check_clip(clip)
    a_t, a_s = float(schedule.alphas[t]), float(schedule.alphas[s])
    x_hat = (z_t - math.sqrt(1 - a_t) * noise_pred) / math.sqrt(a_t)
    if clip is not None:
        x_hat = x_hat.clamp(-clip, clip)
        noise_pred = (z_t - math.sqrt(a_t) * x_hat) / math.sqrt(1 - a_t)
    sigma = eta * math.sqrt((1 - a_s) / (1 - a_t)) * math.sqrt(1 - a_t / a_s)
    z_s = math.sqrt(a_s) * x_hat + math.sqrt(max(1 - a_s - sigma**2, 0.0)) * noise_pred
    if sigma > 0:
        if noise is None:
            noise = torch.randn(z_t.shape, generator=generator, dtype=z_t.dtype).to(z_t.device)
        z_s = z_s + sigma * noise
    return z_s


def _check_clip(clip: float | None) -> None:
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a positive number or None, got {clip!r}")


def timestep_subsequence(steps: int, count: int) -> list[int]:
    """``count`` evenly spaced steps T = t_count > ... > t_1 ≥ 1, then 0: the path of accelerated sampling."""
    if not 1 <= count <= steps:
        raise ValueError(f"count must be in [1, {steps}], got {count}")
    ts = sorted({round(i * steps / count) for i in range(1, count + 1)}, reverse=True)
    return [*ts, 0]


def guided(model: Callable[..., Tensor], labels: Tensor, weight: float, null_label: int) -> Denoiser:
    """Classifier-free guidance (UDL section 18.6.3): (z, t) ↦ (1 + w) g(z, t, c) − w g(z, t, ∅).

    w = 0 is the conditional model; larger w pushes samples toward what distinguishes class c.
    """
    null = torch.full_like(labels, null_label)

    def denoise(z: Tensor, t: Tensor) -> Tensor:
        cond = model(z, t, labels)
        return cond if weight == 0 else (1 + weight) * cond - weight * model(z, t, null)

    return denoise


def sample(
    model: Denoiser,
    shape: tuple[int, ...],
    schedule: DiffusionSchedule,
    *,
    method: Literal["ddpm", "ddim"] = "ddpm",
    count: int | None = None,
    eta: float = 0.0,
    variance: Variance = "beta",
    clip: float | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Samples of shape ``shape`` from z_T ~ Norm[0, I] with ``model(z, t) -> ε̂``.

    ``"ddpm"``: T ancestral steps (:func:`ddpm_step`); ``"ddim"``: :func:`ddim_step` along
    ``timestep_subsequence(T, count)`` (``count=None``: all T steps). ``clip``: each step's implied data are
    clamped to [−clip, clip] (for data known to lie there, such as images in [−1, 1]).
    """
    if method not in ("ddpm", "ddim"):
        raise ValueError(f"method must be 'ddpm' or 'ddim', got {method!r}")
    z = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    n = shape[0]
    with torch.no_grad():
        if method == "ddpm":
            for t in range(schedule.steps, 0, -1):
                eps = model(z, torch.full((n,), t, device=z.device))
                z = ddpm_step(eps, z, t, schedule, variance=variance, generator=generator, clip=clip)
            return z
        path = timestep_subsequence(schedule.steps, count or schedule.steps)
        for t, s in itertools.pairwise(path):
            eps = model(z, torch.full((n,), t, device=z.device))
            z = ddim_step(eps, z, t, s, schedule, eta=eta, generator=generator, clip=clip)
    return z


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal embedding (N,) -> (N, dim) of the step: [cos(t ω_k), sin(t ω_k)], ω_k = max_period^(−k/(dim/2))."""
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even integer >= 2, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=1)


class MLPDenoiser(nn.Module):
    """Noise predictor g[z_t, t (, c)] for vector data: an MLP on [z_t, embed(t) (, embed(c))].

    Args:
        data_dim: dimension of z.
        hidden: hidden width; ``layers`` hidden layers with SiLU.
        time_dim: size of the sinusoidal step embedding.
        num_classes: with a number C, labels 0..C−1 plus the null label C (for guidance) are embedded.
        generator: source of the initial weights.
    """

    def __init__(
        self,
        data_dim: int,
        hidden: int = 128,
        layers: int = 3,
        time_dim: int = 32,
        num_classes: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if data_dim < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"data_dim, hidden and layers must be >= 1, got {data_dim}, {hidden}, {layers}")
        self.time_dim = time_dim
        self.num_classes = num_classes
        self.label_embedding = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        widths = [data_dim + time_dim, *([hidden] * layers)]
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            mods += [nn.Linear(a, b), nn.SiLU()]
        mods.append(nn.Linear(hidden, data_dim))
        self.net = nn.Sequential(*mods)
        if generator is not None:
            with torch.no_grad():
                for p in self.parameters():
                    bound = 1 / math.sqrt(p.shape[-1]) if p.ndim > 1 else 0.05
                    p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=generator))

    def forward(self, z: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        emb = timestep_embedding(t, self.time_dim).to(z.dtype)
        if labels is not None:
            if self.label_embedding is None:
                raise ValueError("labels given to an unconditional MLPDenoiser (num_classes=None)")
            emb = emb + self.label_embedding(labels).to(z.dtype)
        return self.net(torch.cat([z, emb], dim=1))


def _init_(module: nn.Module, generator: torch.Generator | None) -> None:
    """Weights of every Linear / Conv2d uniform in ±1/√fan_in and embeddings standard normal, drawn from
    ``generator`` (so that equally seeded nets are identical and torch's global RNG is untouched); zero biases."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                bound = 1 / math.sqrt(m.weight[0].numel())
                m.weight.copy_(torch.empty_like(m.weight).uniform_(-bound, bound, generator=generator))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(torch.empty_like(m.weight).normal_(generator=generator))


def _group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    g = max(k for k in range(1, min(groups, channels) + 1) if channels % k == 0)
    return nn.GroupNorm(g, channels)


class _ResBlock(nn.Module):
    """h ↦ skip(h) + conv(SiLU(norm(conv(SiLU(norm(h))) + W e))): a residual block whose features get a learned
    projection W e of the step (and class) embedding e as a per-channel bias."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _group_norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = _group_norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        out = self.conv1(nn.functional.silu(self.norm1(h))) + self.emb(emb)[:, :, None, None]
        out = self.conv2(nn.functional.silu(self.norm2(out)))
        return self.skip(h) + out


class UNetDenoiser(nn.Module):
    """Noise predictor g[z_t, t (, c)] for images: a U-Net with step (and class) conditioning.

    Layout with widths (D_1, ..., D_L), input (N, C, H, W), H and W divisible by 2^(L−1):

    ```
    embedding  e = MLP(sinusoid(t)) (+ embed(c)):  Linear-SiLU-Linear, size 4 D_1
    stem       conv3x3 (C -> D_1)
    encoder    level l: [avg-pool 2x2 if l > 1]  res-block(e) (-> D_l)                 -> s_l
    middle     res-block(e) (D_L -> D_L)
    decoder    level l = L−1..1: nearest 2x upsampling, concat(s_l, ·), res-block(e) (-> D_l)
    head       GroupNorm, SiLU, conv3x3 (D_1 -> C), zero-initialized (the untrained net predicts ε̂ = 0)
    ```

    Group normalization rather than batch normalization (UDL section 11.4): the prediction for one image must
    not depend on the others in its batch, or sampling in batches of different sizes would differ.

    Args:
        in_channels: image channels C.
        widths: channels at each resolution, finest first.
        num_classes: with a number K, labels 0..K−1 plus the null label K (classifier-free guidance) are
            embedded and the model is called ``model(z, t, labels)``.
        groups: at most this many groups in each GroupNorm.
        generator: source of the initial weights.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: tuple[int, ...] = (32, 64),
        num_classes: int | None = None,
        *,
        groups: int = 8,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or not widths or any(w < 1 for w in widths) or groups < 1:
            raise ValueError(
                f"need in_channels >= 1, non-empty positive widths and groups >= 1, got {in_channels}, "
                f"{widths}, {groups}"
            )
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 or None, got {num_classes}")
        self.widths, self.num_classes, self.time_dim = tuple(widths), num_classes, widths[0]
        with torch.random.fork_rng(devices=[], enabled=generator is not None):  # torch's default init draws
            self._build(in_channels, num_classes, groups)
        _init_(self, generator)
        with torch.no_grad():
            self.head[-1].weight.zero_()  # type: ignore[operator]

    def _build(self, in_channels: int, num_classes: int | None, groups: int) -> None:
        widths, emb = self.widths, 4 * self.widths[0]
        self.time_mlp = nn.Sequential(nn.Linear(self.time_dim, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_embedding = nn.Embedding(num_classes + 1, emb) if num_classes else None
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(
            _ResBlock(widths[max(level - 1, 0)], w, emb, groups) for level, w in enumerate(widths)
        )
        self.middle = _ResBlock(widths[-1], widths[-1], emb, groups)
        self.up = nn.ModuleList(
            _ResBlock(widths[level + 1] + widths[level], widths[level], emb, groups)
            for level in range(len(widths) - 1)
        )
        self.head = nn.Sequential(
            _group_norm(widths[0], groups), nn.SiLU(), nn.Conv2d(widths[0], in_channels, 3, padding=1)
        )

    def forward(self, z: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        factor = 2 ** (len(self.widths) - 1)
        if z.ndim != 4 or z.shape[-1] % factor or z.shape[-2] % factor:
            raise ValueError(
                f"UNetDenoiser with {len(self.widths)} levels needs input (N, C, H, W) with H and W divisible "
                f"by {factor}, got {tuple(z.shape)}"
            )
        emb = self.time_mlp(timestep_embedding(t, self.time_dim).to(z.dtype))
        if labels is not None:
            if self.label_embedding is None:
                raise ValueError("labels given to an unconditional UNetDenoiser (num_classes=None)")
            emb = emb + self.label_embedding(labels).to(z.dtype)
        h, skips = self.stem(z), []
        for level, block in enumerate(self.down):
            if level:
                h = nn.functional.avg_pool2d(h, 2)
            h = block(h, emb)
            skips.append(h)
        h = self.middle(h, emb)
        for level in reversed(range(len(self.widths) - 1)):
            h = nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self.up[level](torch.cat([skips[level], h], dim=1), emb)
        return self.head(h)
