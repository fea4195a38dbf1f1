"""A diffusion model of the 8×8 digits: quality against the number of DDIM steps, and classifier-free guidance
(UDL sections 18.4-18.6).

Protocol. The 899 training digits of ``udl.data.load_digits_split`` (pixels scaled to [−1, 1]) with their labels.
One ``UNetDenoiser`` per seed (a small U-Net whose residual blocks add an embedding of the step t and of the label
c; ``widths`` channels at 8×8 and 4×4), trained with the book's simplified loss ‖g[z_t, t, c] − ε‖² (section 18.4)
on a cosine schedule of T = ``steps_t`` steps, Adam with a cosine decay; each label is replaced by the null label
with probability ``p_uncond`` (section 18.6.3), so the same network is also the unconditional model. Sampling
clamps each step's implied data x̂ to [−1, 1] (``clip=1``, diffusers' ``clip_sample``, which its DDIM sampler does
by default): the images are known to lie there, and without it deterministic DDIM's first steps, where √α_t is
near 0, multiply the network's error by 1/√α_t (a prototype without the clamp gave a Fréchet distance of 80-90 at
every step count, against 4-25 with it; the protocol was fixed then, before the claims were run).

Measures, all on ``samples`` images per sampler and seed, in the features of the cached digits classifier
(``udl.metrics.digits_features``, ~98% accurate on held-out digits):

- *quality vs steps* (section 18.6.2): the Fréchet digits distance (FDD) to the training digits of unconditional
  samples (null label) by deterministic DDIM (η = 0) on ``ddim_counts`` evenly spaced steps, all from the same
  z_T, and of T-step ancestral sampling (σ_t² = the posterior variance); the FDD of as many held-out test digits
  is the floor a perfect model would reach;
- *guidance* (section 18.6.3): for each weight w in ``guidance_weights`` the guided noise estimate
  (1 + w) g(z, t, c) − w g(z, t, ∅) with ``samples / 10`` requests of each digit (DDIM, ``guidance_steps``
  steps); the rate at which the classifier recognizes the requested digit, and the diversity: the mean pairwise
  feature distance among the samples of one requested digit, averaged over digits
  (``udl.metrics.within_class_diversity``; held-out test digits give the reference value).

Claims (``seeds`` seeds, paired by seed, > 2 SE): (1) with the fewest DDIM steps the samples are worse (higher
FDD) than with all T steps; (2) DDIM with ``accelerated_steps`` steps is within ``accelerated_factor``× the FDD of
T-step ancestral sampling; (3) guidance at the largest weight raises the recognition rate above w = 0's; (4) at a
cost in diversity: within-class diversity at the largest weight is below w = 0's.

Result at quick (3 seeds, 3000 steps, T = 200, 500 samples): all four claims hold. FDD (held-out floor 3.26): DDIM
2 steps 26.5, 5: 12.8, 10: 10.1, 25: 8.9, 50: 8.7, 200: 8.5; ancestral 200 steps 7.2 (DDIM-25 / ancestral 1.24×).
Guidance w = 0 / 0.5 / 1 / 2 / 4: recognized 89.1 / 98.4 / 99.7 / 100 / 99.9%, within-digit diversity 10.0 / 8.9
/ 8.2 / 7.6 / 7.1 (held-out digits 9.9): unguided samples are as diverse as real digits, guided ones less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import load_digits_split
from udl.experiments._generative import show_images, to_unit
from udl.experiments._recipes import seed_range
from udl.generative import DiffusionSchedule, UNetDenoiser, beta_schedule, ddpm_loss, guided
from udl.generative.diffusion import sample
from udl.metrics import digits_features, frechet_digits_distance, within_class_diversity
from udl.optim import Adam, CosineDecay
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, mean_se, paired_difference
from udl.train import OptimizerStep, minibatches, train

CHAPTER = 18
SECTION = "18.6"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "DDPM on 8×8 digits: sample quality vs DDIM steps; classifier-free guidance trades diversity for accuracy"
)
CONTEXT = (
    "Section 18.6 makes diffusion models practical: DDIM reuses the trained network with far fewer, deterministic "
    "steps, and classifier-free guidance mixes the conditional and unconditional noise estimates of one network "
    "to make samples look more like the requested class. Here both are measured on a small U-Net for the 8×8 "
    "digits."
)

NULL = 10
"""the null label ("no condition"): the ten digits are 0-9"""


@dataclass(frozen=True)
class Config:
    steps_t: int = 200
    """T, the number of diffusion steps (cosine schedule)"""
    widths: tuple[int, ...] = (16, 32)
    """U-Net channels at each resolution (8×8, 4×4)"""
    train_steps: int = 3000
    """Adam steps per model"""
    batch_size: int = 128
    """training images per step"""
    lr: float = 2e-3
    """Adam's initial learning rate (cosine decay to 0)"""
    p_uncond: float = 0.2
    """probability of training on the null label (classifier-free guidance)"""
    samples: int = 500
    """images per sampler and seed (a multiple of 10: equal requests per digit)"""
    ddim_counts: tuple[int, ...] = (2, 5, 10, 25, 50, 200)
    """DDIM step counts for the quality-vs-steps curve, increasing, the last at most T"""
    accelerated_steps: int = 25
    """DDIM step count of claim (2)"""
    accelerated_factor: float = 1.5
    """claim (2)'s bar: DDIM's FDD below this multiple of ancestral sampling's"""
    guidance_weights: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
    """classifier-free guidance weights w, increasing from 0"""
    guidance_steps: int = 50
    """DDIM steps of the guided samples"""
    seeds: int = 3
    """models trained (the claims pair them)"""
    seed: int = 0
    """seed of the first model"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1), accelerated_factor=(1, 100))
        in_range(self, p_uncond=(0, 1), guidance_weights=(0, 100), closed_low=True)
        at_least(self, 1, "steps_t", "train_steps", "batch_size", "seeds")
        if not 1 <= len(self.widths) <= 3 or min(self.widths) < 1:
            raise ValueError(f"widths must be 1 to 3 positive channel counts (8×8 images), got {self.widths}")
        if self.samples < 20 or self.samples % 10:
            raise ValueError(f"samples must be a multiple of 10 and >= 20, got {self.samples}")
        for name in ("ddim_counts", "guidance_weights"):
            values = getattr(self, name)
            if len(values) < 2 or list(values) != sorted(set(values)):
                raise ValueError(f"{name} must be at least two strictly increasing values, got {values}")
        if self.guidance_weights[0] != 0:
            raise ValueError(
                f"guidance_weights must start at 0 (the unguided model), got {self.guidance_weights}"
            )
        for name in ("accelerated_steps", "guidance_steps", "ddim_counts"):
            value = getattr(self, name)
            if not all(1 <= v <= self.steps_t for v in (value if isinstance(value, tuple) else (value,))):
                raise ValueError(f"{name} must be in [1, steps_t={self.steps_t}], got {value}")
        if self.accelerated_steps not in self.ddim_counts:
            raise ValueError(
                f"accelerated_steps must be one of ddim_counts {self.ddim_counts}, got {self.accelerated_steps}"
            )


PRESETS = {
    "smoke": Config(
        steps_t=20,
        widths=(8, 16),
        train_steps=20,
        samples=40,
        ddim_counts=(2, 5, 20),
        accelerated_steps=5,
        guidance_weights=(0.0, 2.0),
        guidance_steps=5,
        seeds=1,
    ),
    "quick": Config(),
    "full": Config(
        steps_t=1000,
        widths=(32, 64),
        train_steps=20_000,
        samples=1000,
        ddim_counts=(2, 5, 10, 20, 50, 100, 250, 1000),
        accelerated_steps=100,
        seeds=5,
    ),
}


def fewer_steps_worse_verdict(fdd_fewest: list[float], fdd_all: list[float]) -> Verdict:
    """The FDD with the fewest DDIM steps exceeds the FDD with all T steps (paired over seeds, > 2 SE)."""
    return paired_difference(fdd_fewest, fdd_all).verdict


def accelerated_close_verdict(fdd_ddim: list[float], fdd_ancestral: list[float], factor: float) -> Verdict:
    """Accelerated DDIM's FDD is below ``factor`` × the ancestral sampler's (paired over seeds, > 2 SE)."""
    return paired_difference([factor * a for a in fdd_ancestral], fdd_ddim).verdict


def guidance_raises_verdict(at_max: list[float], at_zero: list[float]) -> Verdict:
    """The recognition rate at the largest guidance weight exceeds that at w = 0 (paired, > 2 SE)."""
    return paired_difference(at_max, at_zero).verdict


def guidance_costs_diversity_verdict(at_max: list[float], at_zero: list[float]) -> Verdict:
    """Within-class diversity at the largest guidance weight is below that at w = 0 (paired, > 2 SE)."""
    return paired_difference(at_zero, at_max).verdict


def _train_denoiser(
    cfg: Config, schedule: DiffusionSchedule, x: Tensor, y: Tensor, seed: int, run: Run
) -> UNetDenoiser:
    """A U-Net noise predictor trained with the simplified loss (algorithm 18.1), labels dropped at p_uncond."""
    g = torch.Generator().manual_seed(seed)
    model = UNetDenoiser(1, cfg.widths, num_classes=10, generator=g).to(run.device)
    opt = Adam(model.parameters(), lr=cfg.lr)
    update = OptimizerStep(opt, scheduler=CosineDecay(opt, total_steps=cfg.train_steps))

    def step(batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        loss = ddpm_loss(model, batch[0], schedule, labels=batch[1], p_uncond=cfg.p_uncond, null_label=NULL,
                         generator=g)  # fmt: skip
        update(loss)
        return {"loss": loss.detach()}

    train(step, lambda epoch: minibatches(x, y, batch_size=cfg.batch_size, generator=g), steps=cfg.train_steps,
          state={"model": model, "optimizer": opt, "generator": g}, run=run, name=f"denoiser-{seed}",
          log_every=max(1, cfg.train_steps // 10))  # fmt: skip
    return model.eval()


def run(cfg: Config, run: Run) -> None:
    data = load_digits_split()
    features = digits_features()
    x = (data.x_train * 2 - 1).to(run.device)
    y = data.y_train.to(run.device)
    schedule = DiffusionSchedule(beta_schedule("cosine", cfg.steps_t))
    n, shape = cfg.samples, (cfg.samples, 1, 8, 8)
    floor = frechet_digits_distance(data.x_train, data.x_test[:n], features)
    real_diversity = within_class_diversity(features.features(data.x_test), data.y_test)
    wanted = torch.arange(10).repeat_interleave(n // 10)  # (n,) the requested digits
    labels, null = wanted.to(run.device), torch.full((n,), NULL, device=run.device)

    def images(model_fn: Callable[[Tensor, Tensor], Tensor], seed: int, **kw: Any) -> Tensor:
        z = sample(model_fn, shape, schedule, clip=1.0, generator=torch.Generator().manual_seed(seed),
                   device=run.device, **kw)  # fmt: skip
        return to_unit(z).cpu()

    fdd: dict[int, list[float]] = {c: [] for c in cfg.ddim_counts}
    fdd_ancestral: list[float] = []
    accuracy: dict[float, list[float]] = {w: [] for w in cfg.guidance_weights}
    diversity: dict[float, list[float]] = {w: [] for w in cfg.guidance_weights}
    shown_steps: dict[int, Tensor] = {}
    shown_guided: dict[float, Tensor] = {}
    with run.progress(cfg.seeds, "training and sampling denoisers") as bar:
        for s, seed in enumerate(seed_range(cfg)):
            model = _train_denoiser(cfg, schedule, x, y, seed, run)

            def unconditional(z: Tensor, t: Tensor) -> Tensor:
                return model(z, t, null)  # noqa: B023

            # the same z_T for every count: the deterministic paths differ only in their steps
            for count in cfg.ddim_counts:
                imgs = images(unconditional, 10_000 + seed, method="ddim", count=count)
                fdd[count].append(frechet_digits_distance(data.x_train, imgs, features))
                if s == 0:
                    shown_steps[count] = imgs[:16]
            imgs = images(unconditional, 20_000 + seed, method="ddpm", variance="posterior")
            fdd_ancestral.append(frechet_digits_distance(data.x_train, imgs, features))
            for w in cfg.guidance_weights:
                imgs = images(
                    guided(model, labels, w, NULL), 30_000 + seed, method="ddim", count=cfg.guidance_steps
                )
                f = features.features(imgs)
                accuracy[w].append(float((features.predict(imgs) == wanted).double().mean()))
                diversity[w].append(within_class_diversity(f, wanted))
                if s == 0:
                    shown_guided[w] = imgs[
                        (torch.arange(10)[:, None] * (n // 10) + torch.arange(min(6, n // 10))).reshape(-1)
                    ]
            run.log(s, fdd_ancestral=fdd_ancestral[-1], **{f"fdd_ddim{c}": fdd[c][-1] for c in cfg.ddim_counts},
                    **{f"accuracy_w{w:g}": accuracy[w][-1] for w in cfg.guidance_weights},
                    **{f"diversity_w{w:g}": diversity[w][-1] for w in cfg.guidance_weights})  # fmt: skip
            bar.update(s + 1)

    fewest, every, w_max = cfg.ddim_counts[0], cfg.ddim_counts[-1], cfg.guidance_weights[-1]
    accelerated = fdd[cfg.accelerated_steps]
    run.claim(
        "fewer-steps-worse",
        f"Deterministic DDIM samples are worse with {fewest} steps than with {every}: a higher Fréchet digits "
        f"distance ({cfg.seeds} seeds × {n} samples, paired, > 2 SE)",
        holds=fewer_steps_worse_verdict(fdd[fewest], fdd[every]),
        measured={"fdd_fewest": fdd[fewest], "fdd_all": fdd[every], "floor": floor},
        expected="fdd_fewest − fdd_all > 2 SE",
    )
    run.claim(
        "accelerated-ddim-close",
        f"DDIM with {cfg.accelerated_steps} steps ({cfg.steps_t / cfg.accelerated_steps:g}× fewer) is within "
        f"{cfg.accelerated_factor:g}× the Fréchet digits distance of {cfg.steps_t}-step ancestral sampling "
        f"({cfg.seeds} seeds, paired, > 2 SE)",
        holds=accelerated_close_verdict(accelerated, fdd_ancestral, cfg.accelerated_factor),
        measured={"fdd_ddim": accelerated, "fdd_ancestral": fdd_ancestral, "floor": floor},
        expected=f"fdd_ddim < {cfg.accelerated_factor:g} × fdd_ancestral",
    )
    run.claim(
        "guidance-raises-accuracy",
        f"Classifier-free guidance with w = {w_max:g} makes the requested digit more recognizable than w = 0 "
        f"(digits classifier, {n} requests per seed, {cfg.seeds} seeds, paired, > 2 SE)",
        holds=guidance_raises_verdict(accuracy[w_max], accuracy[0.0]),
        measured={"accuracy_w_max": accuracy[w_max], "accuracy_w0": accuracy[0.0]},
        expected="accuracy(w_max) − accuracy(0) > 2 SE",
    )
    run.claim(
        "guidance-costs-diversity",
        f"… at a cost in diversity: the mean pairwise feature distance within a requested digit is lower at "
        f"w = {w_max:g} than at w = 0 ({cfg.seeds} seeds, paired, > 2 SE)",
        holds=guidance_costs_diversity_verdict(diversity[w_max], diversity[0.0]),
        measured={
            "diversity_w_max": diversity[w_max],
            "diversity_w0": diversity[0.0],
            "held_out_digits": real_diversity,
        },
        expected="diversity(0) − diversity(w_max) > 2 SE",
    )
    run.summary(fdd_floor=floor, fdd_ancestral=mean_se(fdd_ancestral).mean,
                **{f"fdd_ddim{c}": mean_se(fdd[c]).mean for c in cfg.ddim_counts},
                **{f"accuracy_w{w:g}": mean_se(accuracy[w]).mean for w in cfg.guidance_weights},
                **{f"diversity_w{w:g}": mean_se(diversity[w]).mean for w in cfg.guidance_weights},
                diversity_held_out=real_diversity)  # fmt: skip
    _figures(
        cfg, run, fdd, fdd_ancestral, floor, accuracy, diversity, real_diversity, shown_steps, shown_guided
    )


def _figures(
    cfg: Config,
    run: Run,
    fdd: dict[int, list[float]],
    fdd_ancestral: list[float],
    floor: float,
    accuracy: dict[float, list[float]],
    diversity: dict[float, list[float]],
    real_diversity: float,
    shown_steps: dict[int, Tensor],
    shown_guided: dict[float, Tensor],
) -> None:
    """Quality vs DDIM steps; accuracy and diversity vs guidance weight; the samples themselves."""
    fig, axes = subplots(1, 2, width=4.6)
    ax = axes[0, 0]
    counts = list(cfg.ddim_counts)
    stats = [mean_se(fdd[c]) for c in counts]
    ax.errorbar(counts, [m.mean for m in stats], yerr=[2 * m.se for m in stats], marker="o", capsize=3,
                label="DDIM (η = 0)")  # fmt: skip
    anc = mean_se(fdd_ancestral)
    ax.axhline(anc.mean, color="#b3261e", ls="--", label=f"ancestral, {cfg.steps_t} steps")
    ax.axhline(floor, color="#6b7280", ls=":", label="held-out digits (floor)")
    ax.set(xscale="log", yscale="log", xlabel="sampling steps", ylabel="Fréchet digits distance",
           title=f"Quality vs steps (mean ± 2 SE, {cfg.seeds} seeds)")  # fmt: skip
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    weights = list(cfg.guidance_weights)
    acc, div = [mean_se(accuracy[w]) for w in weights], [mean_se(diversity[w]) for w in weights]
    ax.errorbar(weights, [100 * m.mean for m in acc], yerr=[200 * m.se for m in acc], marker="o", capsize=3,
                color="#1d4ed8", label="requested digit recognized (%)")  # fmt: skip
    ax.set(xlabel="guidance weight w", ylabel="recognized (%)", title="Classifier-free guidance")
    twin = ax.twinx()
    twin.errorbar(weights, [m.mean for m in div], yerr=[2 * m.se for m in div], marker="s", capsize=3,
                  color="#b45309", label="within-digit diversity")  # fmt: skip
    twin.axhline(real_diversity, color="#b45309", ls=":", lw=1)
    twin.set(ylabel="within-digit diversity (dotted: held-out)")
    twin.grid(False)
    lines = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], fontsize=7, loc="center right")
    run.figure("quality-and-guidance", fig)

    fig, axes = subplots(1, len(shown_steps), width=1.8, height=2.2)
    for ax, (count, imgs) in zip(axes[0], shown_steps.items(), strict=True):
        show_images(ax, imgs, f"DDIM, {count} steps", 4)
    run.figure("samples-vs-steps", fig)
    fig, axes = subplots(1, len(shown_guided), width=2.4, height=4.0)
    for ax, (w, imgs) in zip(axes[0], shown_guided.items(), strict=True):
        show_images(ax, imgs, f"w = {w:g}\nrows: requested 0-9", min(6, cfg.samples // 10))
    run.figure("guided-samples", fig)
