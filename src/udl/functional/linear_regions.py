r"""Linear regions of ReLU networks: the book's counting formulas and empirical counters (UDL sections 3.3, 4.5).

A ReLU network is piecewise linear; every input has an *activation pattern*, the set of hidden units whose
pre-activation is positive. Inputs sharing a pattern get the same linear function, and for a fixed pattern the
set of inputs that produce it is an intersection of half-spaces (layer by layer, each pre-activation is linear in
the input once the earlier layers' pattern is fixed), hence convex. The counters here therefore count activation
patterns, the standard empirical proxy for linear regions: adjacent regions whose linear functions happen to agree
(e.g. a unit whose outgoing weights are zero) are still counted separately.

Models passed to the counters either have a method ``activation_pattern(x) -> bool (N, H)`` (``udl.nn.MLP``,
``udl.nn.ShallowNetwork``) or are a plain callable ``x -> bool (N, H)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, overload

import torch
from torch import Tensor, nn

__all__ = [
    "count_regions_1d",
    "count_regions_2d",
    "deep_max_regions_lower_bound",
    "deep_max_regions_upper_bound",
    "zaslavsky_max_regions",
]

PatternModel = nn.Module | Callable[[Tensor], Tensor]
_WORD_BITS = 63  # bits packed per int64 code word; 63 keeps every word non-negative


def zaslavsky_max_regions(in_features: int, hidden: int) -> int:
    r"""Maximum number of linear regions of a shallow ReLU network (UDL section 3.3, eq. 3.15; Zaslavsky, 1975).

    D hidden units cut the D_i-dimensional input space with D hyperplanes :math:`\theta_{d0} + \sum_i\theta_{di}
    x_i = 0`; an arrangement of D hyperplanes has at most

    .. math:: N = \sum_{j=0}^{D_i} \binom{D}{j}

    regions, attained when the hyperplanes are in general position. For :math:`D \le D_i` this is :math:`2^D`.

    Args:
        in_features: D_i >= 0.
        hidden: D >= 0.

    Returns:
        The exact count as a Python int (no overflow).

    Example:
        >>> zaslavsky_max_regions(1, 3)  # three joints on a line: four pieces (UDL fig. 3.3)
        4
        >>> zaslavsky_max_regions(2, 3)
        7
    """
    if in_features < 0 or hidden < 0:
        raise ValueError(f"in_features and hidden must be >= 0, got {in_features} and {hidden}")
    return sum(math.comb(hidden, j) for j in range(in_features + 1))


def deep_max_regions_lower_bound(in_features: int, width: int, depth: int) -> int:
    r"""Lower bound on the maximum number of linear regions of a deep ReLU network (UDL section 4.5.1).

    For D_i inputs and K hidden layers of D >= D_i units each, a construction (Montúfar et al., 2014, with the
    +1 of Serra et al., 2018) reaches

    .. math:: N = \left(\left\lfloor \frac{D}{D_i} \right\rfloor + 1\right)^{D_i (K-1)}
              \cdot \sum_{j=0}^{D_i} \binom{D}{j}

    regions: every one of the first K − 1 layers folds each input axis ⌊D/D_i⌋ + 1 times, and the last layer
    adds a Zaslavsky arrangement (``zaslavsky_max_regions``). K = 1 gives the shallow count exactly. These are
    the numbers of UDL fig. 4.7: D_i = 1, K = 5, D = 10 (471 parameters) gives 11^5 = 161,051 regions; D_i = 10,
    K = 5, D = 50 (10,801 parameters) gives more than 10^40.

    Args:
        in_features: D_i >= 1.
        width: D >= D_i.
        depth: K >= 1.

    Returns:
        The exact bound as a Python int.
    """
    if in_features < 1 or depth < 1:
        raise ValueError(f"in_features and depth must be >= 1, got {in_features} and {depth}")
    if width < in_features:
        raise ValueError(
            f"the bound needs width >= in_features, got width={width} < in_features={in_features}"
        )
    folds = (width // in_features + 1) ** (in_features * (depth - 1))
    return folds * zaslavsky_max_regions(in_features, width)


def deep_max_regions_upper_bound(in_features: int, widths: Sequence[int]) -> int:
    r"""Upper bound on the number of linear regions of a deep ReLU network (Serra et al., 2018; Raghu et al., 2017).

    Layer l, with D_l units, splits each region that reaches it by an arrangement of D_l hyperplanes in a space
    of dimension at most :math:`d_l = \min(D_i, D_1, \dots, D_{l-1})` (the earlier layers' image), so it
    multiplies the count by at most Zaslavsky's number for that dimension:

    .. math:: N \le \prod_{l=1}^{K} \sum_{j=0}^{\min(D_i, D_1, \dots, D_l)} \binom{D_l}{j}

    For D_i = 1 this is :math:`\prod_l (D_l + 1)`; for one layer it is ``zaslavsky_max_regions`` exactly.
    (Serra et al.'s Theorem 1 sharpens it further; this product is the bound the book's discussion implies.)

    Args:
        in_features: D_i >= 1.
        widths: D_1, ..., D_K, each >= 1.

    Returns:
        The exact bound as a Python int.
    """
    widths = [int(w) for w in widths]
    if in_features < 1 or not widths or min(widths) < 1:
        raise ValueError(f"need in_features >= 1 and widths of integers >= 1, got {in_features} and {widths}")
    bound, dim = 1, in_features
    for width in widths:
        dim = min(dim, width)
        bound *= zaslavsky_max_regions(dim, width)
    return bound


def _pattern_fn(model: PatternModel) -> Callable[[Tensor], Tensor]:
    method = getattr(model, "activation_pattern", None)
    fn: Callable[[Tensor], Tensor] = method if callable(method) else model

    def pattern(x: Tensor) -> Tensor:
        p = fn(x)
        if not isinstance(p, Tensor) or p.dtype != torch.bool or p.dim() != 2 or p.shape[0] != x.shape[0]:
            got = f"{p.dtype} {tuple(p.shape)}" if isinstance(p, Tensor) else type(p).__name__
            raise ValueError(f"the activation pattern must be a bool tensor of shape (N, H), got {got}")
        return p

    return pattern


def _dtype_device(model: PatternModel, like: Tensor) -> tuple[torch.dtype, torch.device]:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.dtype, p.device
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    return dtype, like.device


def _as_point(p: Tensor | Sequence[float] | float) -> Tensor:
    # Python numbers become float64 first: float32 would round 1 - 1e-9 to exactly 1.
    t = p if isinstance(p, Tensor) else torch.as_tensor(p, dtype=torch.float64)
    return t.reshape(1) if t.dim() == 0 else t


@torch.no_grad()
def count_regions_1d(
    model: PatternModel,
    start: Tensor | Sequence[float] | float,
    end: Tensor | Sequence[float] | float,
    num: int = 100_000,
    *,
    chunk_size: int = 16_384,
) -> int:
    r"""Number of linear regions a ReLU network has along the segment from ``start`` to ``end``.

    Samples :math:`\mathbf{x}_n = (1 - t_n)\,\mathbf{x}_{\text{start}} + t_n\,\mathbf{x}_{\text{end}}` at ``num``
    evenly spaced :math:`t_n \in [0, 1]` and returns 1 + the number of consecutive pairs whose activation patterns
    differ.

    Why this counts regions: the inputs with one activation pattern form a convex set (see the module docstring),
    and a line meets a convex set in a single interval, so along the segment each region is entered once and every
    region boundary is a pattern change. The count is a lower bound that converges to the true number as ``num``
    grows: regions narrower than the sample spacing can be missed. A sample lying exactly on a boundary (a
    pre-activation exactly 0) is reported as inactive and can add spurious changes; avoid endpoints that sit on
    a boundary.

    The segment is processed in chunks of ``chunk_size`` points (one pattern carried across chunk borders), so
    memory stays O(chunk_size · H) whatever ``num``.

    Args:
        model: ``udl.nn.MLP``/``ShallowNetwork`` (anything with ``activation_pattern``) or a callable returning
            a bool (N, H) pattern.
        start: first endpoint, shape (D_i,) (a float is a 1-D point).
        end: second endpoint, shape (D_i,).
        num: number of samples, >= 2.
        chunk_size: points evaluated per call of the model.

    Returns:
        The number of regions met, >= 1.
    """
    if num < 2:
        raise ValueError(f"num must be >= 2, got {num}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    a, b = _as_point(start), _as_point(end)
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(
            f"start and end must both have shape (D_i,), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype, device = _dtype_device(model, a)
    a, b = a.to(dtype=dtype, device=device), b.to(dtype=dtype, device=device)
    pattern = _pattern_fn(model)

    changes = 0
    previous: Tensor | None = None  # last pattern of the previous chunk, (1, H)
    for lo in range(0, num, chunk_size):
        hi = min(lo + chunk_size, num)
        t = (torch.arange(lo, hi, dtype=dtype, device=device) / (num - 1)).unsqueeze(1)  # (n, 1)
        x = (1 - t) * a + t * b  # (n, D_i); exact at both endpoints
        p = pattern(x)  # (n, H)
        if previous is not None:
            p_all = torch.cat([previous, p], dim=0)
        else:
            p_all = p
        changes += int((p_all[1:] != p_all[:-1]).any(dim=1).sum())
        previous = p[-1:]
    return 1 + changes


def _pack_patterns(p: Tensor) -> Tensor:
    """Pack a bool (N, H) pattern into int64 codes (N, ceil(H / 63)), equal rows <-> equal codes."""
    n, h = p.shape
    words = -(-h // _WORD_BITS)
    padded = torch.zeros(n, words * _WORD_BITS, dtype=torch.int64, device=p.device)
    padded[:, :h] = p
    shifts = torch.arange(_WORD_BITS, device=p.device)
    return (padded.view(n, words, _WORD_BITS) << shifts).sum(dim=-1)  # (N, words): distinct powers of 2


@overload
def count_regions_2d(
    model: PatternModel,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    resolution: int = ...,
    *,
    return_labels: Literal[False] = ...,
    chunk_size: int = ...,
) -> int: ...


@overload
def count_regions_2d(
    model: PatternModel,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    resolution: int = ...,
    *,
    return_labels: Literal[True],
    chunk_size: int = ...,
) -> tuple[int, Tensor]: ...


@torch.no_grad()
def count_regions_2d(
    model: PatternModel,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    resolution: int = 512,
    *,
    return_labels: bool = False,
    chunk_size: int = 65_536,
) -> int | tuple[int, Tensor]:
    r"""Number of distinct activation patterns of a 2-input network on a grid (UDL fig. 3.8, 4.6).

    Evaluates the pattern at every point of a ``resolution`` x ``resolution`` grid over
    ``xlim`` x ``ylim`` (endpoints included), packs each pattern into int64 words (63 units per word, so the
    comparison is exact, no hashing) and counts distinct rows with ``torch.unique(dim=0)``.

    This is a lower bound on the number of regions meeting the rectangle: regions thinner than the grid spacing
    can be missed. For a ReLU network every pattern region is convex, so it also never over-counts, except that a
    grid point lying exactly on a boundary (pre-activation exactly 0) shows the "inactive" pattern of that
    boundary itself.

    Args:
        model: anything with ``activation_pattern`` (``udl.nn.MLP`` / ``ShallowNetwork`` with 2 inputs) or a
            callable returning a bool (N, H) pattern for inputs (N, 2).
        xlim: (min, max) of the first input x_1.
        ylim: (min, max) of the second input x_2.
        resolution: grid points per axis, >= 1.
        return_labels: also return the region id of every grid point.
        chunk_size: grid points evaluated per call of the model.

    Returns:
        The number of regions found; with ``return_labels=True``, ``(count, labels)`` where ``labels`` is int64
        (resolution, resolution) with ``labels[i, j]`` the region id (0 .. count−1) of the point
        ``(x_1, x_2) = (xs[j], ys[i])`` — rows follow x_2, as ``plt.imshow(labels, origin="lower")`` expects.
    """
    if resolution < 1:
        raise ValueError(f"resolution must be >= 1, got {resolution}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype, device = _dtype_device(model, torch.empty(0))
    xs = torch.linspace(xlim[0], xlim[1], resolution, dtype=dtype, device=device)
    ys = torch.linspace(ylim[0], ylim[1], resolution, dtype=dtype, device=device)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")  # each (resolution, resolution), rows follow ys
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)  # (R*R, 2)
    pattern = _pattern_fn(model)

    codes = torch.cat([_pack_patterns(pattern(chunk)) for chunk in points.split(chunk_size)])  # (R*R, words)
    if codes.shape[1] == 0:  # no hidden units: a single region
        count, inverse = 1, torch.zeros(points.shape[0], dtype=torch.int64, device=device)
    else:
        uniques, inverse = torch.unique(codes, dim=0, return_inverse=True)
        count = uniques.shape[0]
    if return_labels:
        return count, inverse.reshape(resolution, resolution)
    return count
