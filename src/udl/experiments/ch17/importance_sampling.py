"""Importance sampling and the IWAE bound on a latent variable model with an exact likelihood (UDL 17.1, 17.8.1).

Protocol. The mixture of Gaussians is a latent variable model with a discrete z (section 17.1): Pr(z = k) = λ_k,
Pr(x | z = k) = Norm[μ_k, σ_k² I], and log Pr(x) is exact (a log-sum-exp). Two toy models from ``udl.data``:
the 1-D mixture of four Gaussians (``mixture_1d``) and a 2-D ring of eight (``ring_of_gaussians``, σ =
``ring_std``). ``points`` data points are drawn from each; the variational distribution q(z | x) is the prior λ
(a poor but valid proposal). For K in ``ks`` the importance-weighted bound
log (1/K) Σ_k Pr(x, z_k)/q(z_k | x), z_k ~ q (``udl.generative.mixture_iwae``, Burda et al. 2016; the log of the
importance-sampling estimate of section 17.8.1) is averaged over ``repeats`` independent draws per point.

Checks (every preset): the exact ELBO of any q is ≤ log Pr(x) and equals log Pr(x) − KL(q ‖ posterior) (the two
forms of the ELBO, UDL section 17.4); with q = the true posterior the ELBO equals log Pr(x) and so does the IWAE
bound for every draw; at K = 1 the IWAE bound's mean is the ELBO (within 4 SE); no mean bound exceeds log Pr(x)
by more than 4 SE (E[IWAE] ≤ log Pr(x)).

Claims: for each model, (1) the mean bound rises with K, every step from one K to the next by > 2 SE (paired by
data point); (2) it approaches log Pr(x): the gap at the largest K is below a tenth of the gap at K = 1 (paired,
> 2 SE).

Result at quick (200 points × 200 draws): every claim holds. Mean bound, mixture-1d: −34.0 (K = 1, the ELBO of the
prior) → −1.307 (K = 64) against log Pr(x) = −1.284, the gap 32.7 → 0.024 nats; ring-2d: −18.1 → −3.303 against
−3.256, the gap 14.8 → 0.047 nats.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import at_least, in_range
from udl.data import GaussianMixture, mixture_1d, ring_of_gaussians
from udl.generative import mixture_elbo, mixture_iwae
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Verdict, all_of, paired_difference

CHAPTER = 17
SECTION = "17.8"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = "The importance-weighted bound rises with the number of samples toward the exact log-likelihood"
CONTEXT = (
    "The likelihood of a latent variable model, Pr(x) = E_q[Pr(x, z)/q(z)], can be estimated by importance "
    "sampling (section 17.8.1). Its logarithm with K samples is a lower bound that equals the ELBO at K = 1, "
    "rises with K and tends to log Pr(x); on a mixture of Gaussians log Pr(x) is exact, so the gap is visible."
)


@dataclass(frozen=True)
class Config:
    ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    """numbers of importance samples K, increasing, starting at 1"""
    points: int = 200
    """data points drawn from each toy model"""
    repeats: int = 200
    """independent draws of the K samples per point (the mean bound per point averages them)"""
    ring_std: float = 0.5
    """σ of the ring's components (overlapping modes make the posterior uncertain)"""
    gap_fraction: float = 0.1
    """claim (2): the gap at the largest K is below this fraction of the gap at K = 1"""
    seed: int = 0
    """seed of the data and of the importance samples"""

    def __post_init__(self) -> None:
        in_range(self, ring_std=(0, 10), gap_fraction=(0, 1))
        if not self.ks or self.ks[0] != 1 or list(self.ks) != sorted(set(self.ks)):
            raise ValueError(f"ks must be strictly increasing integers starting at 1, got {self.ks}")
        if len(self.ks) < 2:
            raise ValueError(f"ks must name at least two values, got {self.ks}")
        at_least(self, 2, "points", "repeats")


PRESETS = {
    "smoke": Config(ks=(1, 4, 16), points=40, repeats=20),
    "quick": Config(),
    "full": Config(ks=(1, 2, 4, 8, 16, 32, 64, 128, 256), points=1000, repeats=1000),
}

MODELS = ("mixture-1d", "ring-2d")


def rises_verdict(bounds: list[list[float]]) -> Verdict:
    """bounds[i][n]: mean bound at the i-th K for point n; every step i -> i+1 rises by > 2 SE (paired by point)."""
    return all_of(*(paired_difference(b, a).verdict for a, b in itertools.pairwise(bounds)))


def approaches_verdict(gap_first: list[float], gap_last: list[float], fraction: float) -> Verdict:
    """fraction · gap at K = 1 exceeds the gap at the largest K by > 2 SE (paired by point)."""
    return paired_difference([fraction * g for g in gap_first], gap_last).verdict


def _bounds(mixture: GaussianMixture, x: Tensor, cfg: Config, g: torch.Generator) -> Tensor:
    """(len(ks), repeats, N): the IWAE bound of every draw, with q = the prior."""
    q = mixture.weights.expand(x.shape[0], -1)
    xr, qr = x.repeat(cfg.repeats, 1), q.repeat(cfg.repeats, 1)
    rows = [mixture_iwae(mixture, xr, qr, k, generator=g).reshape(cfg.repeats, -1) for k in cfg.ks]
    return torch.stack(rows)  # (len(ks), repeats, N)


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    models = {"mixture-1d": mixture_1d(), "ring-2d": ring_of_gaussians(modes=8, radius=2.0, std=cfg.ring_std)}
    elbo_gap = bayes_gap = posterior_gap = iwae_post_gap = 0.0
    k1_z = excess_z = 0.0
    curves: dict[str, tuple[Tensor, Tensor]] = {}
    data: dict[str, Tensor] = {}
    for name, mixture in models.items():
        x = mixture.sample(cfg.points, generator=g)
        assert isinstance(x, Tensor)
        data[name] = x
        log_px = mixture.log_prob(x)
        post = mixture.posterior(x)
        q_random = torch.softmax(
            2 * torch.randn(cfg.points, mixture.n_components, generator=g, dtype=x.dtype), 1
        )
        prior = mixture.weights.expand_as(post)
        for q in (q_random, prior):
            e = mixture_elbo(mixture, x, q)
            elbo_gap = max(elbo_gap, float((e - log_px).max()))
            kl = (q * (q.log() - post.clamp_min(1e-300).log())).sum(1)
            bayes_gap = max(bayes_gap, float((e - (log_px - kl)).abs().max()))
        posterior_gap = max(posterior_gap, float((mixture_elbo(mixture, x, post) - log_px).abs().max()))
        iw_post = mixture_iwae(mixture, x, post, max(cfg.ks), generator=g)
        iwae_post_gap = max(iwae_post_gap, float((iw_post - log_px).abs().max()))

        draws = _bounds(mixture, x, cfg, g)  # (len(ks), repeats, N)
        per_point = draws.mean(1)  # (len(ks), N)
        overall = draws.mean((1, 2))
        se = draws.mean(2).std(1) / math.sqrt(cfg.repeats)  # over repeats of the point-averaged bound
        elbo_prior = float(mixture_elbo(mixture, x, prior).mean())
        k1_z = max(k1_z, abs(float(overall[0]) - elbo_prior) / float(se[0]))
        excess_z = max(excess_z, float(((overall - log_px.mean()) / se).max()))
        curves[name] = (overall, log_px.mean().expand(len(cfg.ks)))
        for i, k in enumerate(cfg.ks):
            run.log(k, **{f"{name}_iwae": float(overall[i]), f"{name}_log_px": float(log_px.mean())})

        gaps = log_px[None] - per_point  # (len(ks), N)
        run.claim(
            f"{name}-rises-with-k",
            f"{name}: the mean IWAE bound rises at every step of K = {list(cfg.ks)} ({cfg.points} points, "
            f"{cfg.repeats} draws each; paired by point, > 2 SE)",
            holds=rises_verdict(per_point.tolist()),
            measured={"mean_bound": overall.tolist(), "log_px": float(log_px.mean())},
            expected="strictly rising",
        )
        run.claim(
            f"{name}-approaches-log-likelihood",
            f"{name}: the gap log Pr(x) − bound at K = {cfg.ks[-1]} is below {cfg.gap_fraction:g} of the gap at "
            "K = 1 (paired by point, > 2 SE)",
            holds=approaches_verdict(gaps[0].tolist(), gaps[-1].tolist(), cfg.gap_fraction),
            measured={"gap_k1": float(gaps[0].mean()), "gap_kmax": float(gaps[-1].mean())},
            expected=f"gap_kmax < {cfg.gap_fraction:g} · gap_k1",
        )
        run.summary(**{f"{name}_gap_k1": float(gaps[0].mean()), f"{name}_gap_kmax": float(gaps[-1].mean())})

    run.check("elbo-below-log-likelihood", "ELBO ≤ log Pr(x) for a random q and for the prior (largest excess)",
              error=max(elbo_gap, 0.0), tolerance=1e-12)  # fmt: skip
    run.check("elbo-two-forms", "The ELBO equals log Pr(x) − KL(q ‖ posterior) (UDL section 17.4.1; largest "
              "difference)", error=bayes_gap, tolerance=1e-10)  # fmt: skip
    run.check("elbo-tight-at-posterior", "With q = the exact posterior the ELBO equals log Pr(x)",
              error=posterior_gap, tolerance=1e-10)  # fmt: skip
    run.check("iwae-exact-at-posterior", "With q = the exact posterior every IWAE draw equals log Pr(x)",
              error=iwae_post_gap, tolerance=1e-10)  # fmt: skip
    run.check("iwae-k1-is-elbo", "At K = 1 the mean IWAE bound equals the exact ELBO of q (|z|, within 4 SE)",
              error=k1_z, tolerance=4.0)  # fmt: skip
    run.check("iwae-below-log-likelihood", "No mean IWAE bound exceeds the mean log Pr(x) by more than 4 SE "
              "(largest z)", error=max(excess_z, 0.0), tolerance=4.0)  # fmt: skip

    # -- figures ------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 3, width=4.0)
    for ax, name in zip(axes[0, :2], MODELS, strict=True):
        overall, log_px = curves[name]
        ax.plot(cfg.ks, overall, "o-", label="mean IWAE bound (q = prior)")
        ax.plot(cfg.ks, log_px, "k--", label="exact mean log Pr(x)")
        ax.set(xscale="log", xlabel="importance samples K", ylabel="nats", title=name)
        ax.legend(fontsize=7)
    ax = axes[0, 2]
    ring = data["ring-2d"]
    post = models["ring-2d"].posterior(ring).argmax(1)
    ax.scatter(ring[:, 0], ring[:, 1], c=post, cmap="tab10", s=6)
    ax.set(xlabel="x₁", ylabel="x₂", title="ring-2d samples, coloured by argmax posterior", aspect="equal")
    run.figure("iwae-vs-k", fig)
