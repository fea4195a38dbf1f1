"""Figure helpers: matplotlib ``Figure`` objects with no pyplot global state, in one house style."""

from __future__ import annotations

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
