"""Figure helpers: matplotlib ``Figure`` objects with no pyplot global state, in one house style."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = ("#3b5ba5", "#e07b39", "#2e9e6a", "#b3261e", "#7a5195", "#6b7280", "#c9a227", "#17becf")


def subplots(
    nrows: int = 1, ncols: int = 1, *, width: float = 5.0, height: float = 3.6, **kwargs: Any
) -> tuple[Figure, np.ndarray]:
    """A new Figure with an (nrows, ncols) array of Axes (always a 2-D array), tight layout, light grid."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False, **kwargs))
    for ax in axes.flat:
        style(ax)
    return fig, axes


def style(ax: Axes) -> None:
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_prop_cycle(color=PALETTE)


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    """Only whole-number ticks on ``axis`` ("x", "y" or "both"): for epochs, widths, depths, counts."""
    from matplotlib.ticker import MaxNLocator

    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis must be 'x', 'y' or 'both', got {axis!r}")
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_curves(
    ax: Axes,
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    markers: str = "os^vD",
    scale: float = 1.0,
    legend: float | None = 8,
    **labels: Any,
) -> None:
    """One line with markers per named curve (its values × ``scale``, e.g. 100 for %), in order, then
    ``ax.set(**labels)`` (xlabel, ylabel, title, xscale, ...) and a legend of font size ``legend`` (None: none)."""
    for (name, values), marker in zip(curves.items(), itertools.cycle(markers), strict=False):
        ax.plot(x, [scale * v for v in values], marker + "-", label=name)
    if labels:
        ax.set(**labels)
    if legend is not None:
        ax.legend(fontsize=legend)


def plot_truth_and_data(
    ax: Axes,
    grid: Any,
    truth: Any,
    x: Any,
    y: Any,
    *,
    color: str = "black",
    linewidth: float = 2.0,
    truth_label: str = "true f(x)",
    data_label: str = "training data",
) -> None:
    """A 1-D regression panel's reference: the true function on ``grid`` (black line) and the training points
    ``(x, y)`` as markers of ``color``, with the axis labels "input x" / "output y"."""
    ax.plot(grid, truth, color="black", linewidth=linewidth, label=truth_label)
    ax.plot(x, y, "o", color=color, markersize=4, label=data_label)
    ax.set(xlabel="input x", ylabel="output y")


def plot_members_and_combinations(
    axes: Sequence[Axes],
    grid: Any,
    members: Sequence[Any],
    member_errors: Sequence[float],
    combinations: Mapping[str, tuple[Any, float]],
    truth: Any,
    x: Any,
    y: Any,
    *,
    labelled: int = 4,
    ylim: tuple[float, float] | None = None,
) -> None:
    """Two 1-D regression panels of an ensemble (cf. UDL notebook 9.3): its members on ``axes[0]`` (thin lines, the
    first ``labelled`` with their error in the legend), the combinations ``name -> (fit, error)`` on ``axes[1]``
    (thick; solid, dashed, dotted, dash-dotted), each over :func:`plot_truth_and_data`, with ``ylim`` and a legend."""
    for m, (fit, err) in enumerate(zip(members, member_errors, strict=True)):
        label = f"member (MSE {err:.3f})" if m < labelled else None
        axes[0].plot(grid, fit, linewidth=1, alpha=0.7, label=label)
    for i, (name, (fit, err)) in enumerate(combinations.items()):
        label = f"ensemble {name} (MSE {err:.3f})"
        axes[1].plot(
            grid,
            fit,
            ("-", "--", ":", "-.")[i % 4],
            color=PALETTE[i % len(PALETTE)],
            linewidth=2,
            label=label,
        )
    for ax in axes[:2]:
        plot_truth_and_data(ax, grid, truth, x, y)
        if ylim is not None:
            ax.set(ylim=ylim)
        ax.legend(fontsize=7)


def plot_size_curves(
    ax: Axes,
    curves: Mapping[str, Sequence[float]],
    *,
    singles: Sequence[float] | None = None,
    markers: str = "os^vD",
    scale: float = 1.0,
    **labels: Any,
) -> None:
    """An ensemble's error against its size K = 1..M: each named curve by :func:`plot_curves` (x label "ensemble
    size K", whole-number ticks, ``labels`` as there) and, if given, the members' own errors ``singles`` as grey
    crosses at K = 1."""
    size = len(next(iter(curves.values())))
    if singles is not None:
        ax.plot(
            [1] * len(singles), [scale * e for e in singles], "x", color=PALETTE[5], label="single members"
        )
    plot_curves(
        ax, list(range(1, size + 1)), curves, markers=markers, scale=scale, xlabel="ensemble size K", **labels
    )
    integer_ticks(ax, "x")


def log_positions(values: Sequence[float], below: float = 3.0) -> list[float]:
    """Where to draw ``values`` (>= 0, one of them positive) on a log axis: each positive value at itself, 0 at the
    smallest positive value / ``below`` (so that e.g. λ = 0 appears at the left of a λ grid)."""
    positive = [v for v in values if v > 0]
    if not positive or any(v < 0 for v in values):
        raise ValueError(f"need values >= 0, at least one positive, got {list(values)}")
    floor = min(positive) / below
    return [v if v > 0 else floor for v in values]


def plot_train_test_errors(ax: Axes, x: Sequence[float], test: Any, train: Any) -> None:
    """Error (%) against a setting from (settings, seeds) tensors: the test error's mean over the seeds with error
    bars of ± one standard deviation (zero for one seed), and the training error's mean dashed."""
    spread = test.std(dim=1) if test.shape[1] > 1 else test.new_zeros(len(test))
    ax.errorbar(x, 100 * test.mean(dim=1), yerr=100 * spread, fmt="o-", capsize=3, label="test")
    ax.plot(x, 100 * train.mean(dim=1), "s--", label="train")
