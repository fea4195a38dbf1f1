"""Depth efficiency (UDL chapter 4): at equal parameter counts, deep ReLU networks make more linear regions.

Protocol (sections 4.1-4.5, figs 4.1-4.3 and 4.7), one input and one output:

- *Deep*: for width W in ``widths`` and depth K = 1..``max_depth``, the folding construction of figs 4.1-4.3
  (``udl.nn.sawtooth_mlp``): every hidden layer maps each of W sub-intervals of [0, 1] onto [0, 1], so K layers
  compose to a sawtooth with W^K linear pieces. Its regions are *measured*, as distinct activation patterns along
  [0, 1] (``count_regions_1d``, float64, at least 64 samples per expected region).
- *Shallow at the same parameter count*: D = ⌊(P − 1)/3⌋ hidden units use at most the deep net's P parameters
  (a shallow 1-D net has 3D + 1). No shallow net can have more than D + 1 regions (Zaslavsky, eq. 3.15); a net
  with D joints spread over (0, 1) reaches it, which we also measure.
- *Randomly initialized* nets of both kinds (torch's default initialization), regions counted on [−``span``,
  ``span``], for contrast: the maximum is a statement about the best weights, and random deep networks are known
  to have far fewer regions than that maximum (Hanin & Rolnick, 2019).

Every count is also compared with the upper bound ∏_l (D_l + 1) for 1-D input (Serra et al., 2018).

The three statements are checks, not claims: once the counts are verified to match theory (W^K for the folding
construction, D + 1 for the spread shallow net), "deep beats shallow at equal parameters" and "the advantage
grows with depth" are arithmetic on W^K against ⌊(P − 1)/3⌋ + 1, guaranteed for W >= 3 and K >= 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from udl.checks import at_least
from udl.functional import (
    count_regions_1d,
    deep_max_regions_lower_bound,
    deep_max_regions_upper_bound,
    zaslavsky_max_regions,
)
from udl.nn import MLP, ShallowNetwork, count_parameters, sawtooth_mlp
from udl.report import Run
from udl.report.figures import PALETTE, integer_ticks, subplots

CHAPTER = 4
SECTION = "4.5"
"""where in the chapter the experiment belongs (orders `udl list`)"""
SUMMARY = (
    "At equal parameter counts, deeper ReLU nets make more linear regions than shallow ones (figs 4.1-4.7)"
)
CONTEXT = (
    "Chapter 4 composes networks: each layer can fold the input space onto itself, so the number of linear "
    "regions can grow exponentially with depth, while a shallow network's grows only polynomially with its "
    "parameters. Figure 4.7 shows the maximum numbers of regions at equal parameter counts."
)

SEGMENT = (1e-9, 1 - 1.7e-9)
"""The constructions' regions are counted on this segment: at x = 0 (and 1) a pre-activation is exactly 0, and
unequal margins keep the samples off the breakpoints m/W^K (with symmetric ends an odd sample count would put
one exactly at 1/2)."""

MAX_SAMPLES = 200_000_000
"""the most points along the segment a count may sample (the full preset's W = 6, K = 8 takes 1.1e8)"""


@dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = (3, 4, 5)
    """hidden-layer widths W of the deep constructions, distinct, each >= 3 (with W = 2 the sawtooth's 2^K
    pieces first beat a shallow net at K = 3: at K = 2 its 13 parameters make 4 regions against 5)"""
    max_depth: int = 6
    """deepest network K (depths 1..K; the claims compare K >= 2)"""
    random_nets: int = 4
    """randomly initialized nets per configuration, for the contrast"""
    span: float = 10.0
    """random nets' regions are counted on [−span, span]"""
    samples_per_region: int = 64
    """samples per expected region along the segment (at least 100,000 samples in all)"""
    seed: int = 0
    """seed for the random nets"""

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 3 or len(set(self.widths)) != len(self.widths):
            raise ValueError(f"widths must be distinct integers >= 3, got {self.widths}")
        if self.max_depth < 2:
            raise ValueError(f"max_depth must be >= 2 to compare depths, got {self.max_depth}")
        at_least(self, 0, "random_nets")
        if not self.span > 0:
            raise ValueError(f"span must be > 0, got {self.span}")
        at_least(self, 4, "samples_per_region")
        # in logs: a huge max_depth must not make W^K a number with billions of digits before it is refused
        log_samples = math.log(self.samples_per_region) + self.max_depth * math.log(max(self.widths))
        if log_samples > math.log(MAX_SAMPLES):
            samples = f"10^{log_samples / math.log(10):.0f}"
            raise ValueError(
                f"max_depth={self.max_depth} with widths up to {max(self.widths)} needs {samples} samples "
                f"(samples_per_region · W^K), more than {MAX_SAMPLES:.0e}: lower max_depth or widths"
            )


PRESETS = {
    "smoke": Config(widths=(3,), max_depth=3, random_nets=1, samples_per_region=16),
    "quick": Config(),
    # Wider sweep, deeper nets, more random nets. W = 2 is left out (see ``widths``): depth pays from K = 3 on.
    "full": Config(widths=(3, 4, 5, 6), max_depth=8, random_nets=16),
}


def shallow_units(parameters: int) -> int:
    """The most hidden units D a 1-input, 1-output shallow net can have with at most ``parameters`` (3D + 1)."""
    return max(1, (parameters - 1) // 3)


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    f64 = torch.float64
    generator = torch.Generator().manual_seed(cfg.seed)
    rows = []
    total = len(cfg.widths) * cfg.max_depth
    with run.progress(total, "counting regions") as bar:
        for width in cfg.widths:
            for depth in range(1, cfg.max_depth + 1):
                deep = sawtooth_mlp(width, depth, dtype=f64).to(dev)
                params = count_parameters(deep)
                expected = width**depth
                num = max(100_000, cfg.samples_per_region * expected)
                deep_regions = count_regions_1d(deep, *SEGMENT, num=num)
                units = shallow_units(params)
                # The best shallow net: D joints evenly spread inside (0, 1) (slopes alternate so none cancel).
                joints = (torch.arange(units, dtype=f64) + 0.5) / units
                theta = torch.stack([-joints, torch.ones(units, dtype=f64)], dim=1)
                phi = torch.cat(
                    [torch.zeros(1, dtype=f64), (-1.0) ** torch.arange(units, dtype=f64)]
                ).unsqueeze(0)
                shallow = ShallowNetwork.from_parameters(theta.to(dev), phi.to(dev))
                shallow_regions = count_regions_1d(shallow, *SEGMENT, num=max(100_000, 64 * units))
                random_deep, random_shallow = [], []
                for _ in range(cfg.random_nets):
                    net = MLP(1, (width,) * depth, 1, init="torch", generator=generator, dtype=f64).to(dev)
                    random_deep.append(count_regions_1d(net, -cfg.span, cfg.span, num=200_000))
                    net1 = ShallowNetwork(1, units, 1, generator=generator, dtype=f64).to(dev)
                    random_shallow.append(count_regions_1d(net1, -cfg.span, cfg.span, num=200_000))
                row = {
                    "width": width,
                    "depth": depth,
                    "parameters": params,
                    "deep_regions": deep_regions,
                    "deep_expected": expected,
                    "deep_lower_bound": deep_max_regions_lower_bound(1, width, depth),
                    "deep_upper_bound": deep_max_regions_upper_bound(1, (width,) * depth),
                    "shallow_units": units,
                    "shallow_regions": shallow_regions,
                    "shallow_bound": zaslavsky_max_regions(1, units),
                    "random_deep_mean": sum(random_deep) / len(random_deep) if random_deep else None,
                    "random_shallow_mean": sum(random_shallow) / len(random_shallow)
                    if random_shallow
                    else None,
                    "random_deep_max": max(random_deep, default=None),
                }
                rows.append(row)
                run.log(len(rows), **{k: v for k, v in row.items() if v is not None})
                bar.update(len(rows), width=width, depth=depth, regions=deep_regions)

    # -- checks -----------------------------------------------------------------------------------------------
    mismatched = [
        f"W={r['width']},K={r['depth']}"
        for r in rows
        if r["deep_regions"] != r["deep_expected"] or r["shallow_regions"] != r["shallow_bound"]
    ]
    over = [
        f"W={r['width']},K={r['depth']}"
        for r in rows
        if max(r["deep_regions"], r["random_deep_max"] or 0) > r["deep_upper_bound"]
    ]
    run.check(
        "counts-match-theory",
        "The measured counts agree with theory: the folding construction has exactly W^K regions, the spread "
        "shallow net exactly D + 1, and no network exceeds the upper bound ∏(D_l + 1) (configurations off)",
        error=len(mismatched) + len(over),
        tolerance=0,
        measured={"mismatched": mismatched, "over_upper_bound": over, "configurations": len(rows)},
        expected="0 mismatched, 0 over the bound",
    )
    compared = [r for r in rows if r["depth"] >= 2]
    losses = [f"W={r['width']},K={r['depth']}" for r in compared if r["deep_regions"] <= r["shallow_bound"]]
    ratio = {(r["width"], r["depth"]): r["deep_regions"] / r["shallow_bound"] for r in rows}
    run.check(
        "deep-beats-shallow",
        "At equal parameter counts, a deep ReLU network (K >= 2 layers of W >= 3 units) makes more linear "
        "regions than any shallow network can (configurations where it does not)",
        error=len(losses),
        tolerance=0,
        measured={
            "configurations": len(compared),
            "deep_not_ahead": losses,
            "ratio_at_max_depth": {f"W={w}": round(ratio[(w, cfg.max_depth)], 2) for w in cfg.widths},
        },
        expected="deep regions > shallow maximum in every configuration",
    )
    not_growing = [
        f"W={w},K={k}"
        for w in cfg.widths
        for k in range(2, cfg.max_depth + 1)
        if ratio[(w, k)] <= ratio[(w, k - 1)]
    ]
    run.check(
        "advantage-grows-with-depth",
        "The deep network's advantage grows with depth: the ratio of deep to shallow regions at equal "
        "parameters rises with every added layer (configurations where it does not)",
        error=len(not_growing),
        tolerance=0,
        measured={
            "ratios": {
                f"W={w}": [round(ratio[(w, k)], 2) for k in range(1, cfg.max_depth + 1)] for w in cfg.widths
            },
            "not_rising": not_growing,
        },
        expected="strictly rising in K for every W",
    )
    deepest = [r for r in rows if r["depth"] == cfg.max_depth]
    run.summary(
        max_deep_regions=max(r["deep_regions"] for r in rows),
        **{f"ratio_W{r['width']}_K{r['depth']}": r["deep_regions"] / r["shallow_bound"] for r in deepest},
        **(
            {f"random_deep_W{r['width']}_K{r['depth']}": r["random_deep_mean"] for r in deepest}
            if cfg.random_nets
            else {}
        ),
    )

    # -- figures ----------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=5.4)
    ax = axes[0, 0]
    for i, width in enumerate(cfg.widths):
        mine = [r for r in rows if r["width"] == width]
        color = PALETTE[i % len(PALETTE)]
        ax.semilogy(
            [r["parameters"] for r in mine],
            [r["deep_regions"] for r in mine],
            "o-",
            color=color,
            label=f"deep, W = {width} (measured)",
        )
        # the lower bound, and the random networks' mean where they were run
        series = [("deep_lower_bound", ":")]
        if cfg.random_nets:
            series.append(("random_deep_mean", "x--"))
        for key, style in series:
            ax.semilogy(
                [r["parameters"] for r in mine], [r[key] for r in mine], style, color=color, alpha=0.7
            )
    param_counts = sorted({r["parameters"] for r in rows})
    ax.semilogy(
        param_counts,
        [shallow_units(p) + 1 for p in param_counts],
        "-",
        color="black",
        linewidth=2,
        label="shallow maximum D + 1",
    )
    ax.plot([], [], ":", color="gray", label="deep lower bound (W+1)^K")
    if cfg.random_nets:
        ax.plot([], [], "x--", color="gray", label="deep, random init (mean)")
    ax.set(xlabel="parameters", ylabel="linear regions", title="Regions at equal parameters (cf. fig. 4.7)")
    integer_ticks(ax, "x")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    width = cfg.widths[0]
    x = torch.linspace(0, 1, 4001, dtype=f64).unsqueeze(1)
    for depth in range(1, min(3, cfg.max_depth) + 1):
        with torch.no_grad():
            y = sawtooth_mlp(width, depth, dtype=f64)(x).squeeze(1)
        ax.plot(x.squeeze(1), y + 1.2 * (depth - 1), label=f"K = {depth}: {width**depth} pieces")
    ax.set(xlabel="input x", ylabel="output (offset by depth)", title=f"Folding: W = {width} units per layer")
    ax.legend(fontsize=8)
    run.figure("depth-efficiency", fig)
