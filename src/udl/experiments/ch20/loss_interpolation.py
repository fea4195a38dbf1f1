"""The loss along straight lines in parameter space (UDL section 20.3.3, fig. 20.5; Goodfellow et al., 2015).

Protocol: MLPs 40-``hidden``-10 (ReLU, He init) are trained on MNIST-1D with notebook 8.1's recipe
(``udl.experiments._mnist1d``), ``seeds`` initializations. For each run the training loss is evaluated at
``points`` equally spaced points of the line θ(α) = (1 − α) θ₀ + α θ₁ from its initialization θ₀ to its trained
weights θ₁ (``udl.functional.line_losses``), and on the line between the trained weights of runs s and s + 1.

Measures: the largest bump of the init→final line (the largest rise between consecutive points,
``udl.functional.largest_step_up``) as a fraction of the total fall L(0) − L(1), and the barrier between two minima,
max_α [L(θ(α)) − ((1 − α) L(θ_a) + α L(θ_b))], the height above the chord between them.

Claims: the init→final line decreases near-monotonically (every run's bump below ``bump_tolerance`` of its fall);
two independently trained minima are separated by a barrier (mean height > 2 SE over the ``seeds`` − 1 pairs), so
they are not linearly connected (hidden units are only defined up to permutation).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

from udl.checks import in_range
from udl.experiments._mnist1d import MNIST1DRecipe, load_split, seed_range, train_classifier
from udl.functional import flat_loss, largest_step_up, line_losses
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots
from udl.stats import Comparison, Verdict, paired_difference

CHAPTER = 20
SECTION = "20.3.3"
SUMMARY = "The loss falls monotonically from the initialization to the minimum, but rises between two minima"
CONTEXT = (
    "Section 20.3.3 (fig. 20.5): along the straight line from the initial to the final parameters the loss "
    "decreases smoothly (Goodfellow et al., 2015), although training takes a curved path; the straight line "
    "between two independently found minima, however, crosses a barrier."
)


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths"""
    points: int = 41
    """points α on each line (equally spaced in [0, 1], at least 3)"""
    bump_tolerance: float = 0.01
    """the largest rise along the init→final line allowed, as a fraction of its fall, for 'near-monotone'"""
    seeds: int = 4
    """trained runs (seed, seed+1, ...); seeds − 1 pairs of neighbours give the barriers"""

    def __post_init__(self) -> None:
        super().__post_init__()
        in_range(self, bump_tolerance=(0, 1))
        if self.points < 3 or self.seeds < 2 or any(h < 1 for h in self.hidden):
            raise ValueError("need points >= 3, seeds >= 2 (a pair for a barrier) and hidden widths >= 1")


PRESETS = {
    "smoke": Config(hidden=(32,), epochs=2, num_samples=600, seeds=2, points=11),
    "quick": Config(epochs=30, seeds=4),
    "full": Config(seeds=6),
}


def barrier_height(losses: Sequence[float]) -> float:
    """max_α [L(α) − ((1 − α) L(0) + α L(1))] over equally spaced α in [0, 1] (0 at the ends)."""
    n = len(losses)
    if n < 2:
        raise ValueError("barrier_height needs at least the two end points")
    return max(losses[i] - ((1 - i / (n - 1)) * losses[0] + i / (n - 1) * losses[-1]) for i in range(n))


def monotone_verdict(bumps: Sequence[float], falls: Sequence[float], tolerance: float) -> bool:
    """Every init→final line falls (L(0) > L(1)) and rises nowhere by more than ``tolerance`` of its fall."""
    if not bumps or len(bumps) != len(falls):
        raise ValueError("need one bump and one fall per run")
    return all(f > 0 and b <= tolerance * f for b, f in zip(bumps, falls, strict=True))


def barrier_verdict(barriers: Sequence[float]) -> tuple[Verdict, Comparison]:
    """The barrier between trained minima is positive: mean height > 2 SE over the pairs."""
    c = paired_difference(list(barriers), [0.0] * len(barriers))
    return c.verdict, c


def run(cfg: Config, run: Run) -> None:
    split = load_split(cfg, run.device)
    train = (split.x_train, split.y_train)
    alphas = torch.linspace(0, 1, cfg.points)
    inits, finals, losses = [], [], []
    for s in seed_range(cfg):
        g = torch.Generator().manual_seed(s)
        model = MLP(40, cfg.hidden, 10, generator=g, device=run.device)
        inits.append(parameters_to_vector(model.parameters()).detach().clone())
        train_classifier(model, cfg, train, run=run, name=f"seed{s}", generator=g)
        finals.append(parameters_to_vector(model.parameters()).detach().clone())
        with torch.no_grad():
            losses.append(float(nn.functional.cross_entropy(model(split.x_train), split.y_train)))
    f = flat_loss(model, nn.functional.cross_entropy, *train)
    with torch.no_grad():
        lines = [line_losses(f, a, b, alphas).tolist() for a, b in zip(inits, finals, strict=True)]
        pairs = [line_losses(f, a, b, alphas).tolist() for a, b in itertools.pairwise(finals)]
    run.check(
        "line-ends-are-the-models",
        "The line's loss at α = 1 equals the trained model's training loss (the flat-parameter view is the model)",
        error=max(abs(line[-1] - loss) for line, loss in zip(lines, losses, strict=True)),
        tolerance=1e-5,
    )
    bumps = [largest_step_up(line) for line in lines]
    falls = [line[0] - line[-1] for line in lines]
    barriers = [barrier_height(p) for p in pairs]
    for i, (line, pair) in enumerate(zip(lines, [*pairs, pairs[-1]], strict=True)):
        run.log(i + 1, bump=bumps[i], fall=falls[i], barrier=barrier_height(pair), final_loss=line[-1])
    run.claim(
        "init-to-final-is-monotone",
        f"The training loss falls near-monotonically from the initialization to the trained weights (every one of "
        f"{cfg.seeds} runs: largest rise ≤ {cfg.bump_tolerance:g} of the fall)",
        holds=monotone_verdict(bumps, falls, cfg.bump_tolerance),
        measured={"bump_over_fall": [round(b / f, 5) for b, f in zip(bumps, falls, strict=True)]},
        expected=f"≤ {cfg.bump_tolerance:g} for every run",
    )
    verdict, c = barrier_verdict(barriers)
    run.claim(
        "minima-not-linearly-connected",
        f"The loss rises between two independently trained minima (barrier above the chord, {len(barriers)} pairs, "
        "mean > 2 SE)",
        holds=verdict,
        measured={
            "barriers": [round(b, 4) for b in barriers],
            "described": c.describe("nats", digits=3),
            "end_losses": [round(x, 4) for x in losses],
        },
        expected="a positive barrier",
    )
    run.summary(bumps=bumps, falls=falls, barriers=barriers)

    fig, axes = subplots(1, 2, width=4.5)
    for line in lines:
        axes[0, 0].plot(alphas, line, color="C0", alpha=0.7)
    axes[0, 0].set(xlabel="α", ylabel="training loss", title="a) θ₀ → θ₁ (each seed)", yscale="log")
    for pair in pairs:
        axes[0, 1].plot(alphas, pair, color="C1", alpha=0.7)
    axes[0, 1].set(xlabel="α", ylabel="training loss", title="b) θ₁(seed s) → θ₁(seed s+1)")
    run.figure("loss-interpolation", fig)
