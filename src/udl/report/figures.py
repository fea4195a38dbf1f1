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
