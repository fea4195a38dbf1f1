r"""Data augmentation for 1-D signals, MNIST-1D style (UDL section 9.3.8, notebook 9.5).

Augmentation expands the training set with transformed copies of the examples that keep their labels, so the
model learns the invariances the transformations encode (section 9.3.8). Notebook 9.5 augments MNIST-1D by

1. **circularly shifting** each signal by a random offset ("rotating, so points that would go off the end are
   added back to the beginning"): :math:`x'_t = x_{(t - s) \bmod L}` with s uniform on {0, ..., L−1};
2. **scaling** it by a factor c ~ U[0.8, 1.2]:  :math:`x'' = c\,x'`;

and appends 4000 such copies, each of a training example chosen uniformly at random, to the 4000 originals.

Everything here is vectorised over the batch and seeded by an explicit ``torch.Generator``; the shift follows
``torch.roll``'s convention (a positive shift moves values to higher indices).

:func:`random_span_mask` draws the input masks of the masked-inpainting pretext task (section 9.3.8).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "augment_dataset",
    "augment_signals",
    "circular_shift",
    "random_span_mask",
    "sample_shift_and_scale",
    "shift_and_scale",
]


def circular_shift(x: Tensor, shifts: Tensor) -> Tensor:
    r"""Roll each signal by its own offset: ``out[i] == torch.roll(x[i], int(shifts[i]), dims=-1)``.

    Args:
        x: (N, L) signals (or (N, C, L): every channel of example i is rolled by shifts[i]).
        shifts: (N,) integer offsets (any integers; taken modulo L).

    Returns:
        A tensor of x's shape; :math:`\text{out}_{i,t} = x_{i,(t - s_i) \bmod L}`.
    """
    if x.dim() < 2 or shifts.shape != x.shape[:1]:
        raise ValueError(
            f"need x (N, ..., L) and shifts (N,), got {tuple(x.shape)} and {tuple(shifts.shape)}"
        )
    length = x.shape[-1]
    t = torch.arange(length, device=x.device)  # (L,)
    index = (t - shifts.to(x.device).long().unsqueeze(-1)) % length  # (N, L)
    index = index.view(x.shape[0], *([1] * (x.dim() - 2)), length).expand_as(x)  # (N, ..., L)
    return x.gather(-1, index)


def sample_shift_and_scale(
    n: int,
    length: int,
    *,
    generator: torch.Generator | None = None,
    scale_range: tuple[float, float] = (0.8, 1.2),
) -> tuple[Tensor, Tensor]:
    """Draw n offsets uniform on {0, ..., length−1} and n scales uniform on ``scale_range`` (CPU tensors).

    Shifts are drawn first, then scales, both from ``generator``; (int64 (n,), float32 (n,)).
    """
    low, high = scale_range
    if n < 0 or length < 1:
        raise ValueError(f"need n >= 0 and length >= 1, got n={n}, length={length}")
    if not 0 < low <= high:
        raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
    device = generator.device if generator is not None else torch.device("cpu")
    shifts = torch.randint(0, length, (n,), generator=generator, device=device).cpu()
    scales = (low + (high - low) * torch.rand(n, generator=generator, device=device)).cpu()
    return shifts, scales


def shift_and_scale(x: Tensor, shifts: Tensor, scales: Tensor) -> Tensor:
    r""":math:`x''_{i,t} = c_i\, x_{i,(t - s_i) \bmod L}`: :func:`circular_shift`, then multiply each signal by
    its scale."""
    if scales.shape != x.shape[:1]:
        raise ValueError(f"need scales (N,) for x {tuple(x.shape)}, got {tuple(scales.shape)}")
    scale = scales.to(device=x.device, dtype=x.dtype).view(x.shape[0], *([1] * (x.dim() - 1)))
    return circular_shift(x, shifts) * scale


def augment_signals(
    x: Tensor,
    *,
    generator: torch.Generator | None = None,
    scale_range: tuple[float, float] = (0.8, 1.2),
) -> Tensor:
    """Notebook 9.5's ``augment`` applied to every row of x at once: a random circular shift, then a random
    scale in ``scale_range`` (defaults [0.8, 1.2]); equal to ``shift_and_scale(x, *sample_shift_and_scale(...))``
    with the same generator state.

    Args:
        x: (N, L) or (N, C, L) signals.
        generator: source of the shifts and scales (``None``: torch's global generator).
        scale_range: (low, high) of the uniform scale, 0 < low <= high.
    """
    shifts, scales = sample_shift_and_scale(len(x), x.shape[-1], generator=generator, scale_range=scale_range)
    return shift_and_scale(x, shifts, scales)


def augment_dataset(
    x: Tensor,
    y: Tensor,
    num_extra: int,
    *,
    generator: torch.Generator | None = None,
    scale_range: tuple[float, float] = (0.8, 1.2),
) -> tuple[Tensor, Tensor]:
    """The originals followed by ``num_extra`` augmented copies of examples drawn uniformly with replacement
    (notebook 9.5: 4000 originals + 4000 augmented).

    The source indices are drawn first, then the shifts and scales, all from ``generator``.

    Returns:
        ``(x_aug, y_aug)`` of lengths N + num_extra; the first N rows are x and y unchanged.
    """
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of one length, got {len(x)} and {len(y)}")
    if num_extra < 0:
        raise ValueError(f"num_extra must be >= 0, got {num_extra}")
    device = generator.device if generator is not None else torch.device("cpu")
    source = torch.randint(0, len(x), (num_extra,), generator=generator, device=device).to(x.device)
    extra = augment_signals(x[source], generator=generator, scale_range=scale_range)
    return torch.cat([x, extra]), torch.cat([y, y[source.to(y.device)]])


def random_span_mask(
    num: int,
    length: int,
    span: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """One contiguous masked block per example, at a uniformly random offset (for 1-D signal inpainting).

    Args:
        num: number of masks N.
        length: signal length L.
        span: masked positions per example, 1 <= span <= L.
        generator: source of the offsets (drawn on the CPU, so a CPU generator works for any ``device``).
        device: where to put the mask.

    Returns:
        Bool (N, L), True on positions ``start_n .. start_n + span - 1`` with ``start_n ~ U{0..L-span}``.
    """
    if num < 0 or length < 1 or not 1 <= span <= length:
        raise ValueError(
            f"need num >= 0 and 1 <= span <= length, got num={num}, length={length}, span={span}"
        )
    start = torch.randint(0, length - span + 1, (num, 1), generator=generator)  # (N, 1)
    position = torch.arange(length)  # (L,)
    mask = (position >= start) & (position < start + span)  # (N, L)
    return mask.to(device) if device is not None else mask
