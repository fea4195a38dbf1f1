"""Linear regions of trained networks, near the data, against initialization (UDL section 20.4.1; Hanin & Rolnick,
2019).

Protocol: MLPs 40-``hidden``-10 (ReLU, He init) trained on MNIST-1D with notebook 8.1's recipe
(``udl.experiments._mnist1d``), ``seeds`` runs. Regions are counted with chapter 3's counters
(``udl.functional.count_regions_1d`` / ``count_regions_2d``: distinct activation patterns) at initialization and
after training, on the same inputs:

- along ``lines`` segments between random pairs of training examples (``line_points`` samples each);
- on a 2-D slice through three training examples, x = x₀ + a (x₁ − x₀) + b (x₂ − x₀), (a, b) ∈ [−0.25, 1.25]²,
  a ``resolution`` × ``resolution`` grid.

Claims: training leaves the number of regions along lines through the data at the same order as at
initialization (each seed's trained/initial ratio of the mean count within a factor ``factor``: Hanin & Rolnick
find the density barely moves); and the count on the 2-D slice is far below the maximum for a network of this
size restricted to a plane (< 1% of ``udl.functional.deep_max_regions_upper_bound(2, hidden)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from udl.checks import in_range
from udl.experiments._mnist1d import MNIST1DRecipe, load_split, seed_range, train_classifier
from udl.functional import count_regions_1d, count_regions_2d, deep_max_regions_upper_bound
from udl.nn import MLP
from udl.report import Run
from udl.report.figures import subplots

CHAPTER = 20
SECTION = "20.4.1"
SUMMARY = (
    "Trained MNIST-1D nets have about as many linear regions near the data as at init, far below the maximum"
)
CONTEXT = (
    "Section 20.4.1: the number of linear regions a deep ReLU network can make grows exponentially with depth "
    "(chapter 4), but Hanin & Rolnick (2019) found that in practice the number met along lines through the data "
    "is close to the number of neurons, at initialization and after training alike: expressivity is not what "
    "training exploits."
)


@dataclass(frozen=True)
class Config(MNIST1DRecipe):
    hidden: tuple[int, ...] = (100, 100)
    """hidden-layer widths"""
    lines: int = 20
    """segments between random pairs of training examples"""
    line_points: int = 20_000
    """samples per segment"""
    resolution: int = 256
    """grid points per axis of the 2-D slice"""
    factor: float = 2.0
    """'same order': trained/initial ratio of the mean line count within [1/factor, factor]"""

    def __post_init__(self) -> None:
        super().__post_init__()
        in_range(self, factor=(1, 100))
        if self.lines < 1 or self.line_points < 2 or self.resolution < 2 or any(h < 1 for h in self.hidden):
            raise ValueError("need lines >= 1, line_points >= 2, resolution >= 2 and hidden widths >= 1")
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")


PRESETS = {
    "smoke": Config(
        hidden=(32, 32), epochs=2, num_samples=600, seeds=1, lines=3, line_points=1000, resolution=48
    ),
    "quick": Config(epochs=30, seeds=3),
    "full": Config(seeds=5, lines=100, resolution=512),
}


def same_order_verdict(initial: Sequence[float], trained: Sequence[float], factor: float) -> bool:
    """Every seed's trained/initial ratio of the mean region count lies in [1/factor, factor]."""
    if not initial or len(initial) != len(trained):
        raise ValueError("need one initial and one trained count per seed")
    return all(1 / factor <= t / i <= factor for i, t in zip(initial, trained, strict=True))


def far_below_maximum_verdict(counts: Sequence[int], maximum: int) -> bool:
    """Every measured count is below 1% of the maximum possible."""
    if not counts:
        raise ValueError("need at least one count")
    return all(c < 0.01 * maximum for c in counts)


def run(cfg: Config, run: Run) -> None:
    split = load_split(cfg, run.device)
    g = torch.Generator().manual_seed(cfg.seed)
    n = len(split.x_train)
    pairs = torch.randint(0, n, (cfg.lines, 2), generator=g)
    corners = split.x_train[torch.randperm(n, generator=g)[:3]].double()
    origin, u, v = corners[0], corners[1] - corners[0], corners[2] - corners[0]

    def counts(model: MLP) -> tuple[float, int, Tensor]:
        m = model.double()
        line = [
            count_regions_1d(m, split.x_train[i].double(), split.x_train[j].double(), cfg.line_points)
            for i, j in pairs.tolist()
        ]

        def plane(ab: Tensor) -> Tensor:  # (N, 2) slice coordinates -> the pattern at x0 + a u + b v
            return m.activation_pattern(origin + ab[:, :1] * u + ab[:, 1:] * v)

        area, labels = count_regions_2d(
            plane, (-0.25, 1.25), (-0.25, 1.25), cfg.resolution, return_labels=True
        )
        return sum(line) / len(line), area, labels

    results: dict[str, list[tuple[float, int, Tensor]]] = {"initial": [], "trained": []}
    for s in seed_range(cfg):
        model = MLP(40, cfg.hidden, 10, generator=torch.Generator().manual_seed(s), device=run.device)
        results["initial"].append(counts(MLP(40, cfg.hidden, 10, generator=torch.Generator().manual_seed(s))))
        train_classifier(
            model,
            cfg,
            (split.x_train, split.y_train),
            run=run,
            name=f"seed{s}",
            generator=torch.Generator().manual_seed(s),
        )
        results["trained"].append(counts(model))
        run.log(
            s - cfg.seed + 1,
            **{f"{k}_line_regions": r[-1][0] for k, r in results.items()},
            **{f"{k}_slice_regions": r[-1][1] for k, r in results.items()},
        )

    line_init = [r[0] for r in results["initial"]]
    line_trained = [r[0] for r in results["trained"]]
    run.check(
        "plane-grid-is-bounded",
        "No slice count exceeds the grid's number of points",
        error=float(max(0, max(r[1] for k in results for r in results[k]) - cfg.resolution**2)),
        tolerance=0.0,
    )
    run.claim(
        "regions-near-data-barely-change",
        f"The mean number of regions along {cfg.lines} lines between training examples after training is within a "
        f"factor {cfg.factor:g} of its value at initialization (every one of {cfg.seeds} seeds)",
        holds=same_order_verdict(line_init, line_trained, cfg.factor),
        measured={
            "initial": [round(c, 1) for c in line_init],
            "trained": [round(c, 1) for c in line_trained],
            "hidden_units": sum(cfg.hidden),
        },
        expected=f"ratio in [{1 / cfg.factor:g}, {cfg.factor:g}]",
    )
    maximum = deep_max_regions_upper_bound(2, list(cfg.hidden))
    slice_counts = [r[1] for k in results for r in results[k]]
    run.claim(
        "regions-far-below-maximum",
        f"A 2-D slice through three training examples meets < 1% of the {maximum:,} regions a {cfg.hidden} network "
        "can make in a plane (initial and trained)",
        holds=far_below_maximum_verdict(slice_counts, maximum),
        measured={
            "initial": [r[1] for r in results["initial"]],
            "trained": [r[1] for r in results["trained"]],
        },
        expected=f"< {maximum / 100:,.0f}",
    )
    run.summary(line_initial=line_init, line_trained=line_trained, slice_counts=slice_counts, maximum=maximum)

    fig, axes = subplots(1, 2, width=4.2)
    for ax, key in zip(axes[0], ("initial", "trained"), strict=True):
        _, count, labels = results[key][0]
        perm = torch.randperm(
            count, generator=torch.Generator().manual_seed(0)
        )  # neighbours get unlike colours
        ax.imshow(
            perm[labels].numpy(),
            origin="lower",
            extent=(-0.25, 1.25, -0.25, 1.25),
            cmap="tab20",
            interpolation="nearest",
        )
        ax.scatter([0, 1, 0], [0, 0, 1], color="k", s=12)
        ax.set(title=f"{key}: {count} regions", xlabel="a", ylabel="b")
    run.figure("linear-regions-trained", fig)
