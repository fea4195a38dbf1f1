"""What the chapter-19 tabular experiments share: the "near the optimum" verdict, and figures of a grid world
(state values as a heat map with the policy's action as an arrow in each cell, a path over the grid)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.axes import Axes
from torch import Tensor

from udl.stats import Verdict, mean_se


def near_optimal_verdict(gaps: Sequence[float], tolerance: float) -> Verdict:
    """Value gaps v*(s0) − v^π(s0), one per seed, are within ``tolerance``: holds if mean + 2 SE ≤ tolerance,
    fails if mean − 2 SE > tolerance, otherwise (or with one seed) not established."""
    s = mean_se(gaps)
    if s.n < 2:
        return Verdict.NOT_ESTABLISHED
    if s.mean + 2 * s.se <= tolerance:
        return Verdict.HOLDS
    return Verdict.FAILS if s.mean - 2 * s.se > tolerance else Verdict.NOT_ESTABLISHED


ARROWS = ((0.0, 0.32), (0.32, 0.0), (0.0, -0.32), (-0.32, 0.0))
"""(dx, dy) of the actions up, right, down, left (the penguin's and CliffWalking's order), y pointing up"""
FROZEN_LAKE_ARROWS = (ARROWS[3], ARROWS[2], ARROWS[1], ARROWS[0])
"""FrozenLake's actions: left, down, right, up"""


def plot_grid_values(
    ax: Axes,
    values: Tensor,
    shape: tuple[int, int],
    *,
    policy: Tensor | None = None,
    holes: Sequence[int] = (),
    goal: int | None = None,
    title: str = "",
    fmt: str = ".2f",
    arrows: Sequence[tuple[float, float]] = ARROWS,
    no_arrow: Sequence[int] = (),
) -> None:
    """Values (S,) as a heat map on a rows × cols grid (cell 0 top left), the value written in each cell, a
    black arrow for the policy's most probable action (``arrows[a]`` its direction) in every cell but the goal
    and ``no_arrow``, and 'H' / 'F' marks for holes and the goal."""
    rows, cols = shape
    grid = values.detach().double().reshape(rows, cols)
    image = ax.imshow(grid, cmap="RdYlGn", origin="upper", extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    for s in range(rows * cols):
        r, c = divmod(s, cols)
        mark = "H " if s in holes else ("F " if s == goal else "")
        ax.text(c, r + 0.3, f"{mark}{float(grid[r, c]):{fmt}}", ha="center", va="center", fontsize=7)
        if policy is not None and s != goal and s not in no_arrow:
            dx, dy = arrows[int(torch.as_tensor(policy[s]).argmax())]
            ax.arrow(
                c - dx / 2, r + dy / 2, dx, -dy, head_width=0.12, length_includes_head=True, color="black"
            )
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.grid(False)
    ax.set(title=title)


def plot_path(ax: Axes, path: Sequence[int], shape: tuple[int, int], *, label: str, color: str) -> None:
    """A sequence of cells drawn as a line through the cell centres (on a grid drawn by ``plot_grid_values``
    or with the same extent)."""
    cols = shape[1]
    xs = [s % cols for s in path]
    ys = [s // cols for s in path]
    ax.plot(xs, ys, "o-", color=color, label=label, linewidth=2, markersize=3)
