"""Upsampling of UDL section 10.4 (fig. 10.12): duplication, bilinear interpolation and max unpooling, written
from their formulas (index arithmetic and scatter) and checked against ``torch.nn.functional``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from udl.functional.conv import _is_int, _pair

__all__ = ["max_unpool", "upsample_bilinear", "upsample_duplicate"]


# -- upsampling (section 10.4, fig. 10.12) ---------------------------------------------------------------------
def _spatial(x: Tensor, value: int | float | Sequence[int] | Sequence[float], name: str) -> tuple:
    if x.dim() < 3:
        raise ValueError(f"input must be (N, C, *spatial), got shape {tuple(x.shape)}")
    return _pair(value, x.dim() - 2, name) if not isinstance(value, float) else (value,) * (x.dim() - 2)


def upsample_duplicate(input: Tensor, scale_factor: int | Sequence[int]) -> Tensor:
    """Upsample by duplicating every value ``scale_factor`` times along each spatial axis (fig. 10.12a).

    out[..., i] = x[..., ⌊i / s⌋]: ``F.interpolate(mode="nearest")`` for integer scale factors.
    Input (N, C, *spatial) with any number of spatial axes.
    """
    scales = _spatial(input, scale_factor, "scale_factor")
    if not all(_is_int(s) and s >= 1 for s in scales):
        raise ValueError(f"scale_factor must be integers >= 1, got {scale_factor!r}")
    out = input
    for axis, s in enumerate(scales, start=2):
        index = torch.arange(input.shape[axis] * s, device=input.device) // s
        out = out.index_select(axis, index)
    return out


def upsample_bilinear(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    align_corners: bool = False,
) -> Tensor:
    r"""Linear interpolation along every spatial axis in turn: bilinear for (N, C, H, W) (fig. 10.12c).

    Output position i of an axis of input length n and output length m reads the input at

    .. math:: u = i\,\frac{n-1}{m-1} \ \text{(align_corners)}, \qquad
              u = \max\!\left(0, (i + \tfrac12)\,r - \tfrac12\right) \ \text{(otherwise)}

    with r = 1 / scale_factor when a scale factor is given and n / m otherwise (so the pixel centres line up;
    torch's convention), and interpolates x[⌊u⌋] (1 − λ) + x[min(⌊u⌋ + 1, n − 1)] λ, λ = u − ⌊u⌋. This is
    ``F.interpolate(mode="linear" | "bilinear" | "trilinear")``. Give exactly one of ``size`` and
    ``scale_factor``; with a scale factor the output length is ⌊n · scale⌋.
    """
    dims = input.dim() - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor")
    scales: tuple = (None,) * dims if scale_factor is None else _spatial(input, scale_factor, "scale_factor")
    if size is None:
        if not all(s > 0 for s in scales):
            raise ValueError(f"scale_factor must be > 0, got {scale_factor!r}")
        sizes = tuple(math.floor(n * s) for n, s in zip(input.shape[2:], scales, strict=True))
    else:
        sizes = _spatial(input, size, "size")
    if not all(_is_int(m) and m >= 1 for m in sizes):
        raise ValueError(f"the output size must be integers >= 1, got {sizes}")
    out = input
    for axis in reversed(range(dims)):  # last axis first, like torch's kernel (same rounding)
        n, m, scale = input.shape[axis + 2], sizes[axis], scales[axis]
        i = torch.arange(m, dtype=input.dtype, device=input.device)
        if align_corners:
            u = i * ((n - 1) / (m - 1)) if m > 1 else torch.zeros_like(i)
        else:
            ratio = 1.0 / scale if scale is not None else n / m
            u = ((i + 0.5) * ratio - 0.5).clamp(min=0)
        low = u.floor().long().clamp(max=n - 1)
        high = (low + 1).clamp(max=n - 1)
        lam = (u - low.to(u.dtype)).reshape((m,) + (1,) * (dims - 1 - axis))  # broadcast along this axis
        out = out.index_select(axis + 2, low) * (1 - lam) + out.index_select(axis + 2, high) * lam
    return out


def max_unpool(
    input: Tensor,
    indices: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    output_size: Sequence[int] | None = None,
) -> Tensor:
    """Max unpooling (fig. 10.12b): each value goes back to where max pooling found it; everything else is 0.

    ``indices`` are the flat spatial positions returned by ``F.max_pool1d/2d(..., return_indices=True)``;
    input and indices are (N, C, *spatial) with one or two spatial axes. The output's spatial size is
    ``output_size`` (spatial, or the full shape) or, by default, (n − 1) s − 2p + K per axis, as in
    ``F.max_unpool1d/2d``.
    """
    dims = input.dim() - 2
    if dims not in (1, 2) or indices.shape != input.shape:
        raise ValueError(f"input and indices must both be (N, C, L) or (N, C, H, W), got {input.shape}")
    kernel = _pair(kernel_size, dims, "kernel_size")
    strides = kernel if stride is None else _pair(stride, dims, "stride")
    pads = _pair(padding, dims, "padding")
    if output_size is None:
        dims_in = zip(input.shape[2:], strides, pads, kernel, strict=True)
        spatial = tuple((n - 1) * s - 2 * p + k for n, s, p, k in dims_in)
    else:
        spatial = tuple(output_size)[-dims:]
    plane = math.prod(spatial)
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= plane):
        raise ValueError(f"indices must lie in [0, {plane}) for output size {spatial}")
    out = input.new_zeros(*input.shape[:2], plane)
    out = out.scatter(2, indices.flatten(2), input.flatten(2))  # out[n, c, indices[n, c, q]] = x[n, c, q]
    return out.reshape(*input.shape[:2], *spatial)
