"""Normalizing flows fitted by maximum likelihood to 2-D densities (UDL sections 16.3 and 16.5.1).

Protocol. Two Gaussian mixtures with exact log-densities (``udl.data``): a ring of 8 modes (radius 2, σ = 0.25)
and a 4 × 4 grid (spacing 1.2, σ = 0.2). Each flow family of section 16.3 — elementwise + LU-linear layers,
RealNVP couplings, MAF, IAF and contractive residual flows (``udl.generative.flows.flow_stack``, the same number
of layers and hidden units) — is fitted by maximum likelihood (minimizing −log Pr(x) = −log Pr(f^{-1}[x]) −
log|det ∂f^{-1}/∂x|, UDL section 16.2.2) with Adam on ``n_train`` samples and scored on ``n_test`` fresh samples.

The true density's entropy H = E[−log p(x)] is the lowest test NLL any model can reach in expectation: the test
NLL is the cross-entropy, H + KL(p ‖ q). Per test point, d_i = log p(x_i) − log q(x_i) (exact log p from the
mixture) has mean KL(p ‖ q) and a standard error across the test points. The claim, fixed before any run:
a family *approaches the entropy* on a density when its KL is below ``KL_BAR`` = 0.1 nats by more than 2 SE
(``udl.stats.paired_difference`` of bar + log q against log p, paired by test point; one training run per
family and density, so the SE is the test-sample noise, not the seed-to-seed spread). Where the KL is above the
bar, the validation KL (``n_val`` fresh samples) half-way through training and at its end decides: a family that
gained at least the remaining gap in the second half is still approaching (not established: a longer budget
judges it), one that gained less has levelled off (fails). Flow families that are
not universal (elementwise + linear layers) are expected to fail it on the ring, whose modes no product of
monotone maps separates; their KL is reported, and each other family's claim to beat them (higher test
log-likelihood, paired per test point, 2 SE) is a second claim.

Result (quick, 1000 steps): no family reaches the 0.1-nat bar. Test KL on ring / grid: coupling 0.30 / 0.40,
MAF 0.27 / 2.26 (one test point in a near-empty region of the MAF density dominates the grid mean), IAF
0.30 / 0.48, residual 0.36 / 0.64; the validation KL fell by less than the remaining gap over the second half of
training, so by the rule above the claims fail at this budget. The
elementwise + linear stack stays at 1.30 / 0.96 nats; coupling, IAF and residual flows beat it on both
densities (+1.00 / +0.56, +1.00 / +0.48, +0.94 / +0.33 nats, SE ≤ 0.01), MAF only on the ring (+1.03; on the grid
−1.30 ± 1.80 from that one point, though 76% of the test points favour MAF): that claim fails.

Result (full, 10,000 steps, 100,000 training and test points; 1,017 s): the four "beats elementwise + linear"
claims HOLD, MAF's included (+1.23 / +0.81 nats). The entropy claims still FAIL: KL ring / grid coupling 0.15 /
0.25, MAF 0.19 / 0.26, IAF 0.12 / 0.26, residual 0.04 / 0.29; the ring is within reach of the bar, the 5×5 grid's
narrow, well-separated modes are not for flows of this size.

Checks: every fitted density integrates to 1 on a grid (trapezoid rule on [−6, 6]², to 1e-2), and the exact
entropy estimate agrees with the test points' mean of −log p within 4 SE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.checks import at_least, in_range
from udl.data import GaussianMixture, grid_of_gaussians, ring_of_gaussians
from udl.generative.flows import FLOW_FAMILIES, FlowDensity, flow_stack
from udl.optim import Adam, CosineDecay
from udl.report import Run
from udl.report.figures import PALETTE, subplots
from udl.stats import Comparison, Verdict, all_of, mean_se, paired_difference
from udl.train import OptimizerStep, minibatches, train

CHAPTER = 16
SECTION = "16.3"
SUMMARY = "Flow families fitted by maximum likelihood to 2-D mixtures: test NLL vs the true entropy"
CONTEXT = (
    "A normalizing flow's likelihood is exact, so it is trained by maximum likelihood and scored by test NLL, "
    "whose floor is the data's entropy. Coupling, autoregressive and residual flows are expressive enough to "
    "approach it on multimodal 2-D densities; elementwise and linear layers alone are not (UDL 16.3, 16.5.1)."
)

KL_BAR = 0.1
"""nats: a family approaches the entropy when test NLL − H = KL(p ‖ q) < KL_BAR by 2 SE (set before any run)"""

DENSITIES = {
    "ring": lambda: ring_of_gaussians(8, radius=2.0, std=0.25),
    "grid": lambda: grid_of_gaussians(4, spacing=1.2, std=0.2),
}


@dataclass(frozen=True)
class Config:
    densities: tuple[str, ...] = ("ring", "grid")
    """the target densities (ring, grid)"""
    families: tuple[str, ...] = FLOW_FAMILIES
    """the flow families fitted (elementwise-linear, coupling, maf, iaf, residual)"""
    layers: int = 6
    """flow layers per model"""
    hidden: int = 64
    """hidden units of the conditioners / residual branches"""
    steps: int = 1000
    """Adam steps per model"""
    batch_size: int = 256
    """samples per step"""
    lr: float = 3e-3
    """Adam learning rate"""
    n_train: int = 20_000
    """training samples (drawn once)"""
    n_test: int = 20_000
    """test samples (fresh)"""
    n_val: int = 5000
    """validation samples (fresh): the KL half-way and at the end of training, for the verdict's trend"""
    seed: int = 0
    """seed of the data, the initializations and the batch order"""

    def __post_init__(self) -> None:
        in_range(self, lr=(0, 1))
        if not self.densities or any(d not in DENSITIES for d in self.densities):
            raise ValueError(f"densities must name some of {', '.join(DENSITIES)}, got {self.densities}")
        if not self.families or any(f not in FLOW_FAMILIES for f in self.families):
            raise ValueError(f"families must name some of {', '.join(FLOW_FAMILIES)}, got {self.families}")
        at_least(self, 1, "layers", "hidden", "steps", "batch_size")
        at_least(self, 2, "n_train", "n_test", "n_val")


PRESETS = {
    "smoke": Config(layers=2, hidden=16, steps=20, n_train=1000, n_test=1000),
    "quick": Config(),
    "full": Config(steps=10_000, n_train=100_000, n_test=100_000),
}


def approach_verdict(
    log_q: dict[str, torch.Tensor], log_p: dict[str, torch.Tensor], val_kl: dict[str, tuple[float, float]]
) -> Verdict:
    """On every density, KL(p ‖ q) = mean(log p − log q) over the test points is below ``KL_BAR`` by 2 SE
    (paired per test point: bar + log q against log p).

    Where the test KL is not below the bar, ``val_kl[d]`` = (validation KL half-way, at the end) decides between
    *fails* (training has levelled off: the second half gained less than the remaining gap, KL_mid − KL_end <
    KL_end − bar) and *not established* (still approaching: another such gain would close the gap).
    """
    verdicts = []
    for d in log_q:
        verdict = paired_difference(KL_BAR + log_q[d], log_p[d]).verdict
        mid, end = val_kl[d]
        if verdict is Verdict.FAILS and mid - end >= end - KL_BAR:
            verdict = Verdict.NOT_ESTABLISHED
        verdicts.append(verdict)
    return all_of(*verdicts)


def beats_baseline_verdict(
    log_q: dict[str, torch.Tensor], log_q_baseline: dict[str, torch.Tensor]
) -> Verdict:
    """On every density the family's test log-likelihood exceeds the baseline's by 2 SE, paired per test point."""
    return all_of(*(paired_difference(log_q[d], log_q_baseline[d]).verdict for d in log_q))


def _integral(density: FlowDensity, half_width: float = 6.0, points: int = 301) -> float:
    axis = torch.linspace(-half_width, half_width, points)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        p = density.log_prob(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).exp().reshape(points, points)
    return float(torch.trapezoid(torch.trapezoid(p, axis, dim=1), axis))


def _fit(
    model: FlowDensity,
    x_train: torch.Tensor,
    validation: tuple[torch.Tensor, torch.Tensor],
    cfg: Config,
    generator: torch.Generator,
    run: Run,
    name: str,
) -> tuple[float, float]:
    """Maximum likelihood with Adam (cosine learning-rate decay): minimize −(1/N) Σ log Pr(x_i) over mini-batches
    (UDL section 16.2.2). Returns the validation KL half-way and at the end."""
    optimizer = Adam(model.parameters(), lr=cfg.lr)
    update = OptimizerStep(optimizer, clip_norm=10.0, scheduler=CosineDecay(optimizer, total_steps=cfg.steps))
    dev = run.device

    def step(batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        loss = -model.log_prob(batch[0].to(dev)).mean()
        update(loss)
        return {"loss": loss.detach()}

    x_val, log_p_val = validation
    log_every = max(1, cfg.steps // 10)
    result = train(
        step,
        lambda epoch: minibatches(x_train, batch_size=cfg.batch_size, generator=generator),
        steps=cfg.steps,
        state={"model": model, "optimizer": optimizer, "generator": generator},
        run=run,
        name=name,
        log_every=log_every,
        evaluate=lambda: {"val_kl": float((log_p_val - model.log_prob(x_val.to(dev)).cpu().double()).mean())},
        evaluate_every=5 * log_every,
    )
    kls = [h["val_kl"] for h in result.history if "val_kl" in h]
    return kls[0], kls[-1]


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    generator = torch.Generator().manual_seed(cfg.seed)
    results: dict[tuple[str, str], Comparison] = {}
    log_qs: dict[tuple[str, str], torch.Tensor] = {}
    log_ps: dict[str, torch.Tensor] = {}
    val_kls: dict[tuple[str, str], tuple[float, float]] = {}
    samples: dict[tuple[str, str], torch.Tensor] = {}
    truth: dict[str, tuple[GaussianMixture, torch.Tensor]] = {}
    entropy_gap, integral_error = 0.0, 0.0
    for density_name in cfg.densities:
        mixture = DENSITIES[density_name]()
        x_train = torch.as_tensor(mixture.sample(cfg.n_train, generator=generator)).float()
        x_test = torch.as_tensor(mixture.sample(cfg.n_test, generator=generator))
        x_val = torch.as_tensor(mixture.sample(cfg.n_val, generator=generator))
        validation = (x_val.float(), mixture.log_prob(x_val))
        log_p = log_ps[density_name] = mixture.log_prob(x_test)  # exact, float64
        # the entropy by a larger independent sample: the test points' mean −log p must agree with it
        entropy = mean_se(-mixture.log_prob(torch.as_tensor(mixture.sample(200_000, generator=generator))))
        test_entropy = mean_se(-log_p)
        entropy_gap = max(entropy_gap, abs(entropy.mean - test_entropy.mean) / test_entropy.se - 4)
        truth[density_name] = (mixture, x_train[:2000])
        for family in cfg.families:
            model = FlowDensity(flow_stack(family, 2, cfg.layers, cfg.hidden, generator=generator), 2).to(dev)
            val_kls[density_name, family] = _fit(
                model, x_train, validation, cfg, generator, run, f"{density_name}-{family}"
            )
            model.eval()
            with torch.no_grad():
                log_q = torch.cat(
                    [model.log_prob(b.float().to(dev)).cpu() for b in x_test.split(5000)]
                ).double()
                samples[density_name, family] = model.sample(2000, generator=generator).cpu()
            integral_error = max(integral_error, abs(_integral(model.cpu()) - 1))
            results[density_name, family] = paired_difference(KL_BAR + log_q, log_p)
            log_qs[density_name, family] = log_q
            kl = results[density_name, family]
            run.log(
                0,
                **{
                    f"{density_name}/{family}/test_nll": float(-log_q.mean()),
                    f"{density_name}/entropy": entropy.mean,
                },
                **{f"{density_name}/{family}/kl": kl.mean_b - kl.mean_a + KL_BAR},
            )

    # -- checks and claims --------------------------------------------------------------------------------------
    run.check(
        "fitted-densities-integrate-to-one",
        "Every fitted flow density integrates to 1 over [−6, 6]² (trapezoid rule, 301² points; largest |∫ − 1|)",
        error=integral_error,
        tolerance=1e-2,
    )
    run.check(
        "entropy-estimates-agree",
        "The entropy from 200,000 exact log-densities and the test points' mean −log p agree within 4 SE "
        "(largest excess over 4 SE, in SE)",
        error=max(0.0, entropy_gap),
        tolerance=0.0,
    )
    for family in cfg.families:
        parts = {d: results[d, family] for d in cfg.densities}
        kls = {d: KL_BAR - c.diff for d, c in parts.items()}
        verdict = approach_verdict(
            {d: log_qs[d, family] for d in cfg.densities},
            log_ps,
            {d: val_kls[d, family] for d in cfg.densities},
        )
        statement = (
            f"A {family} flow fitted by maximum likelihood approaches the true entropy: test NLL − H = KL(p ‖ q) "
            f"< {KL_BAR} nats by 2 SE on {', '.join(cfg.densities)} ({cfg.n_test} test points paired, one run)"
        )
        measured = {
            d: {
                "kl_nats": kls[d],
                "se": parts[d].se,
                "test_nll": -parts[d].mean_a + KL_BAR,
                "entropy": -float(log_ps[d].mean()),
                "val_kl_half_way": val_kls[d, family][0],
                "val_kl_end": val_kls[d, family][1],
            }
            for d in parts
        }
        if family == "elementwise-linear":
            run.summary(**{f"{d}_kl_elementwise_linear": kls[d] for d in parts})
            continue  # not universal: reported, no claim (module docstring)
        run.claim(
            f"{family}-approaches-entropy",
            statement,
            holds=verdict,
            measured=measured,
            expected=f"KL < {KL_BAR} nats by 2 SE (not established: above it but still falling fast enough)",
        )
        run.summary(**{f"{d}_kl_{family}": kls[d] for d in parts})
        if "elementwise-linear" in cfg.families:
            gains = {
                d: paired_difference(log_qs[d, family], log_qs[d, "elementwise-linear"])
                for d in cfg.densities
            }
            run.claim(
                f"{family}-beats-elementwise-linear",
                f"A {family} flow models the multimodal densities better than the same number of elementwise + "
                f"linear layers: higher test log-likelihood on {', '.join(cfg.densities)} (paired per test point, "
                "one run, bar 2 SE)",
                holds=beats_baseline_verdict(
                    {d: log_qs[d, family] for d in cfg.densities},
                    {d: log_qs[d, "elementwise-linear"] for d in cfg.densities},
                ),
                measured={
                    d: {"gain_nats": c.diff, "se": c.se, "test_points": c.n, "points_favouring": c.wins}
                    for d, c in gains.items()
                },
                expected="log-likelihood gain > 2 SE on every density",
            )

    # -- figures ------------------------------------------------------------------------------------------------
    columns = 1 + len(cfg.families)
    fig, axes = subplots(len(cfg.densities), columns, width=2.6, height=2.6)
    for r, density_name in enumerate(cfg.densities):
        _, shown = truth[density_name]
        panels = [("data", shown)] + [(f, samples[density_name, f]) for f in cfg.families]
        for c, (label, points) in enumerate(panels):
            ax = axes[r, c]
            ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.4, color=PALETTE[0 if c == 0 else 1])
            note = "" if c == 0 else f"\nKL {KL_BAR - results[density_name, label].diff:.3f}"
            ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), title=f"{density_name}: {label}{note}")
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
    run.figure("samples", fig)
