"""The book's toy 1-D GAN (UDL section 15.1, fig. 15.1, notebook 15.1): the Wasserstein distance between the
generated and the real samples falls as the generator and the discriminator train against each other.

Protocol.

1. *Notebook 15.1's model*: real data x ~ Norm[7.5, 1]; generator x* = z + θ (one parameter, θ = 3 at the
   start, z ~ Norm[0, 1]); discriminator sig[φ₀ + φ₁x] (logistic regression, (φ₀, φ₁) = (−2, 1) at the start).
   Alternating SGD updates (learning rate ``shift_lr``, batch ``batch_size``): the discriminator on the BCE of
   eq. 15.5, the generator on the book's minimax loss (eq. 15.6), for ``shift_steps`` steps.
2. *A small MLP GAN on a multimodal density*: ``udl.data.mixture_1d`` (four unequal modes), generator and
   discriminator MLPs with ``width`` units in two hidden layers, latent dimension ``latent_dim``, Adam(lr,
   β = (0.5, 0.999)), the non-saturating generator loss, ``mlp_steps`` steps.

Every ``log_every`` steps the exact 1-D Wasserstein distance W₁ (``udl.metrics.wasserstein_1d``, the quantile
formula) between ``n_eval`` samples of the generator (fixed evaluation noise) and ``n_eval`` held-out real
samples is recorded. Seeds change the data draws, the noise and (for the MLPs) the initialization.

Claims: W₁ at the end is lower than at the start, paired by seed (> 2 SE), for each model. Check: the minimax
generator loss's gradient is exactly sig/(1 − sig) times the non-saturating one's (so it vanishes when the
discriminator rejects the fakes confidently, section 15.2.2), on the initial discriminator's logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.checks import at_least, in_range
from udl.data import mixture_1d
from udl.experiments._generative import draw, gan_adams
from udl.experiments._recipes import claim_comparison, seed_range
from udl.generative import GeneratorLossKind, gan_step, generator_loss, latent
from udl.metrics import wasserstein_1d
from udl.nn import MLP
from udl.optim import SGD
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, paired_difference
from udl.train import OptimizerStep, minibatches, train

CHAPTER = 15
SECTION = "15.1"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "Toy 1-D GANs: the Wasserstein distance to the data falls as generator and discriminator train"
CONTEXT = (
    "Section 15.1 trains a generator x* = g[z, θ] against a discriminator that tells real from generated "
    "samples; fig. 15.1 shows a 1-D example where the generated samples move onto the real ones. Section 15.2 "
    "measures the gap with the Wasserstein (earth mover's) distance."
)


@dataclass(frozen=True)
class Config:
    n_train: int = 2000
    """real training samples per model"""
    n_eval: int = 2000
    """generated and held-out real samples per W₁ evaluation"""
    batch_size: int = 100
    """samples per step (real and generated alike)"""
    shift_steps: int = 400
    """steps of notebook 15.1's shift model"""
    shift_lr: float = 0.2
    """SGD learning rate of the shift model (both players)"""
    mlp_steps: int = 1500
    """steps of the MLP GAN"""
    width: int = 32
    """hidden units per layer of both MLPs"""
    latent_dim: int = 4
    """dimension of the MLP generator's latent variable"""
    lr: float = 2e-3
    """Adam learning rate of the MLP GAN (both players)"""
    log_every: int = 100
    """steps between W₁ evaluations"""
    seeds: int = 5
    """training runs per model (seeds seed, seed+1, ...)"""
    seed: int = 0
    """first seed"""

    def __post_init__(self) -> None:
        in_range(self, shift_lr=(0, 10), lr=(0, 1))
        at_least(
            self, 1, "n_train", "n_eval", "batch_size", "shift_steps", "mlp_steps", "width", "latent_dim"
        )
        if self.log_every < 1 or self.shift_steps % self.log_every or self.mlp_steps % self.log_every:
            raise ValueError(
                f"log_every must be >= 1 and divide shift_steps and mlp_steps, got {self.log_every}"
            )
        at_least(self, 1, "seeds")


PRESETS = {
    "smoke": Config(shift_steps=50, mlp_steps=100, log_every=50, seeds=2, n_eval=500, n_train=500),
    "quick": Config(),
    "full": Config(mlp_steps=10_000, seeds=10, n_eval=10_000, n_train=10_000),
}


KINDS: tuple[GeneratorLossKind, ...] = ("minimax", "non_saturating")


def faster(minimax: list[float], non_saturating: list[float]) -> Comparison:
    """Does the non-saturating loss end closer to the data? W₁(minimax) − W₁(non-saturating), paired by seed; holds
    at > 2 SE."""
    return paired_difference(minimax, non_saturating)


def falls(start: list[float], end: list[float]) -> Comparison:
    """Is W₁ at the end below W₁ at the start? The drop start − end, paired by seed; holds at > 2 SE."""
    return paired_difference(start, end)


class Shift(nn.Module):
    """Notebook 15.1's generator x* = z + θ."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))

    def forward(self, z: Tensor) -> Tensor:
        return z + self.theta


def _fit(
    gen: nn.Module,
    disc: nn.Module,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    data: tuple[Tensor, Tensor],
    cfg: Config,
    steps: int,
    *,
    noise: torch.Generator,
    latent_dim: int,
    eval_seed: int,
    kind: GeneratorLossKind = "non_saturating",
    run: Run | None = None,
    name: str = "gan",
) -> tuple[list[float], list[int]]:
    """Train one GAN with train(); W₁ of fixed-noise samples vs held-out data at the start and every interval."""
    x, held_out = data
    fixed = latent(cfg.n_eval, latent_dim, torch.Generator().manual_seed(10_000 + eval_seed))

    def w1() -> float:
        with torch.no_grad():
            return wasserstein_1d(gen(fixed).reshape(-1), held_out.reshape(-1))

    curve, at = [w1()], [0]
    g_update, d_update = OptimizerStep(opts[0]), OptimizerStep(opts[1])
    step = gan_step(gen, disc, g_update, d_update, latent_dim=latent_dim, noise=noise, kind=kind)
    result = train(
        step,
        lambda epoch: minibatches(x, batch_size=cfg.batch_size, generator=noise),
        steps=steps,
        state={"gen": gen, "disc": disc, "g_opt": opts[0], "d_opt": opts[1], "noise": noise},
        log_every=cfg.log_every,
        evaluate=lambda: {"w1": w1()},
        run=run,
        name=name,
    )
    curve += [h["w1"] for h in result.history]
    at += result.at
    return curve, at


def run(cfg: Config, run: Run) -> None:
    mixture = mixture_1d()
    curves: dict[str, list[list[float]]] = {"shift_minimax": [], "shift_non_saturating": [], "mlp": []}
    steps_at: dict[str, list[int]] = {}
    final: dict[str, tuple[Tensor, Tensor]] = {}
    ratio_error = 0.0
    for seed in seed_range(cfg):
        g = torch.Generator().manual_seed(seed)
        # -- 1. notebook 15.1: x* = z + θ against logistic regression ---------------------------------------
        x = torch.randn(cfg.n_train, 1, generator=g) + 7.5
        held_out = torch.randn(cfg.n_eval, 1, generator=g) + 7.5
        with torch.no_grad():
            logits = -2.0 + 1.0 * (3.0 + latent(cfg.batch_size, 1, g)).squeeze(1)  # the initial players
        ratio_error = max(ratio_error, _gradient_ratio_error(logits))
        for kind in KINDS:  # the same start, data and noise for both generator losses
            gen, disc = Shift(3.0), nn.Linear(1, 1)
            with torch.no_grad():
                disc.weight.fill_(1.0)
                disc.bias.fill_(-2.0)
            noise = torch.Generator().manual_seed(seed)
            shift_opts = (SGD(gen.parameters(), lr=cfg.shift_lr), SGD(disc.parameters(), lr=cfg.shift_lr))
            curve, steps_at["shift"] = _fit(
                gen, disc, shift_opts, (x, held_out), cfg, cfg.shift_steps,
                noise=noise, latent_dim=1, eval_seed=seed, kind=kind,
            )  # fmt: skip
            curves[f"shift_{kind}"].append(curve)
            run.log(
                seed, **{f"shift_{kind}_w1_end": curve[-1], f"shift_{kind}_theta": float(gen.theta.detach())}
            )

        # -- 2. MLP generator and discriminator on the four-mode mixture -----------------------------------
        x, held_out = draw(mixture, cfg.n_train, g).float(), draw(mixture, cfg.n_eval, g).float()
        mlp_gen = MLP(cfg.latent_dim, (cfg.width, cfg.width), 1, "leaky_relu", generator=g)
        mlp_disc = MLP(1, (cfg.width, cfg.width), 1, "leaky_relu", generator=g)
        mlp_opts = gan_adams(mlp_gen, mlp_disc, cfg.lr)
        curve, steps_at["mlp"] = _fit(
            mlp_gen, mlp_disc, mlp_opts, (x, held_out), cfg, cfg.mlp_steps,
            noise=g, latent_dim=cfg.latent_dim, eval_seed=seed, run=run, name=f"mlp_seed{seed}",
        )  # fmt: skip
        curves["mlp"].append(curve)
        if seed == cfg.seed:
            with torch.no_grad():
                final["mlp"] = (held_out, mlp_gen(latent(cfg.n_eval, cfg.latent_dim, g)))

    # -- check and claims --------------------------------------------------------------------------------
    run.check(
        "minimax-gradient-ratio",
        "On the initial discriminator's logits a of generated samples, d/da of the minimax generator loss "
        "log(1 − sig a) is sig(a)/(1 − sig(a)) times that of the non-saturating loss −log sig a (largest "
        "relative error)",
        error=ratio_error,
        tolerance=1e-10,
    )
    for name, label in (("shift_minimax", "notebook 15.1's x* = z + θ vs logistic regression, minimax loss"),
                        ("mlp", "MLP GAN on a four-mode 1-D mixture, non-saturating loss")):  # fmt: skip
        start, end = [c[0] for c in curves[name]], [c[-1] for c in curves[name]]
        comparison = falls(start, end)
        claim_comparison(
            run,
            f"wasserstein-falls-{name.split('_')[0]}",
            f"Training the GAN lowers the Wasserstein distance W₁ between generated and real samples ({label}; "
            f"paired by seed, {cfg.seeds} seeds, drop > 2 SE): {comparison.describe()}",
            comparison,
            expected="W₁(start) − W₁(end) > 2 SE",
            w1_start=start,
            w1_end=end,
        )
    minimax, saturating = ([c[-1] for c in curves[f"shift_{k}"]] for k in KINDS)
    comparison = faster(minimax, saturating)
    claim_comparison(
        run,
        "non-saturating-moves-faster",
        f"From the same start, the non-saturating generator loss brings x* = z + θ closer to the data than the "
        f"minimax loss in {cfg.shift_steps} steps (final W₁, paired by seed, {cfg.seeds} seeds, > 2 SE): "
        f"{comparison.describe()}",
        comparison,
        expected="W₁(minimax) − W₁(non-saturating) > 2 SE",
        w1_minimax=minimax,
        w1_non_saturating=saturating,
    )
    run.summary(
        shift_minimax_w1_end=sum(minimax) / cfg.seeds,
        shift_non_saturating_w1_end=sum(saturating) / cfg.seeds,
        mlp_w1_end=sum(c[-1] for c in curves["mlp"]) / cfg.seeds,
    )

    # -- figures -----------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.6)
    for i, kind in enumerate(KINDS):
        for j, curve in enumerate(curves[f"shift_{kind}"]):
            axes[0, 0].plot(
                steps_at["shift"], curve, color=f"C{i}", alpha=0.7, label=kind if j == 0 else None
            )
    axes[0, 0].set(xlabel="step", ylabel="W₁(generated, real)", yscale="log", title="x* = z + θ vs logistic")
    axes[0, 0].legend(fontsize=8)
    for curve in curves["mlp"]:
        axes[0, 1].plot(steps_at["mlp"], curve, alpha=0.7)
    axes[0, 1].set(xlabel="step", ylabel="W₁(generated, real)", yscale="log", title="MLP GAN, 4-mode mixture")
    run.figure("wasserstein-curves", fig)

    fig, axes = subplots(1, 1, width=5.5)
    real, fake = final["mlp"]
    edges = torch.linspace(-2.5, 2.5, 81)
    ax = axes[0, 0]
    ax.hist(real.reshape(-1).numpy(), bins=edges.numpy(), density=True, alpha=0.5, label="data")
    ax.hist(fake.reshape(-1).numpy(), bins=edges.numpy(), density=True, alpha=0.5, label="generated")
    grid = torch.linspace(-2.5, 2.5, 400, dtype=torch.float64)[:, None]
    ax.plot(grid.squeeze(1), mixture.log_prob(grid).exp(), color="black", linewidth=1, label="true density")
    ax.set(
        xlabel="x", ylabel="density", title=f"MLP GAN samples after {cfg.mlp_steps} steps (seed {cfg.seed})"
    )
    ax.legend(fontsize=8)
    run.figure("samples", fig)


def _gradient_ratio_error(logits: Tensor) -> float:
    """Largest relative gap between d/da minimax and sig/(1 − sig) · d/da non-saturating."""
    a = logits.detach().double().requires_grad_(True)
    (minimax,) = torch.autograd.grad(generator_loss(a, "minimax", "sum"), a)
    (saturating,) = torch.autograd.grad(generator_loss(a, "non_saturating", "sum"), a)
    s = torch.sigmoid(a.detach())
    expected = s / (1 - s) * saturating
    return float(((minimax - expected).abs() / expected.abs()).max())
