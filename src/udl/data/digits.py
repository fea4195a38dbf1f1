r"""scikit-learn's 8 x 8 handwritten digits as image tensors, and seeded shift/rotation augmentation.

The data set (1,797 grey images of the digits 0-9, 8 x 8 pixels with values 0..16; UCI "optical recognition of
handwritten digits") ships inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is downloaded. It
is the smallest real image classification problem: big enough for a convolutional network to beat chance by
far, small enough to train on a CPU in seconds (UDL section 10.5 uses MNIST, 28 x 28, for the same purpose).

Data augmentation (UDL section 9.3.7) transforms each training image in ways that should not change its label,
here a rotation by a few degrees about the image centre followed by a shift of a whole number of pixels, with
zeros brought in at the borders. :func:`shift_rotate` applies given transformations (bilinear resampling with
``torch.nn.functional.affine_grid``/``grid_sample``; a pure shift moves pixels exactly);
:func:`random_shift_rotate` draws them from a ``torch.Generator``.

Example:
    >>> from udl.data import load_digits_split
    >>> data = load_digits_split(test_fraction=0.5, seed=0)
    >>> data.x_train.shape, data.x_train.dtype
    (torch.Size([899, 1, 8, 8]), torch.float32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Digits", "load_digits_split", "random_shift_rotate", "shift_rotate"]

MAX_PIXEL = 16.0
"""sklearn's digits have integer pixel values 0..16; dividing by this maps them to [0, 1]."""


@dataclass(frozen=True)
class Digits:
    """A train/test split of the 8 x 8 digits: images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    train_index: Tensor
    """positions of the training images in ``sklearn.datasets.load_digits()`` order"""
    test_index: Tensor
    """positions of the test images in the same order (disjoint from ``train_index``)"""


def load_digits_split(test_fraction: float = 0.5, seed: int = 0) -> Digits:
    """The 1,797 digits split into train and test sets, stratified by class, deterministically from ``seed``.

    For each class c with n_c images, ``round(test_fraction * n_c)`` images drawn by a permutation from a
    ``torch.Generator`` seeded with ``seed`` go to the test set and the rest to training; both sets are then
    put in index order. The same arguments always give the same split, on any machine.

    Args:
        test_fraction: share of each class held out for testing, in (0, 1).
        seed: seed of the split.

    Returns:
        :class:`Digits` with images scaled to [0, 1] (pixel / 16).

    Raises:
        ValueError: ``test_fraction`` outside (0, 1).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits  # the data ship inside scikit-learn

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / MAX_PIXEL  # (1797, 1, 8, 8)
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)  # (1797,)
    generator = torch.Generator().manual_seed(seed)
    test_parts = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).squeeze(1)
        n_test = round(test_fraction * len(members))
        test_parts.append(members[torch.randperm(len(members), generator=generator)[:n_test]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[torch.cat(test_parts)] = True
    train_index, test_index = torch.nonzero(~is_test).squeeze(1), torch.nonzero(is_test).squeeze(1)
    return Digits(
        images[train_index],
        labels[train_index],
        images[test_index],
        labels[test_index],
        train_index,
        test_index,
    )


def shift_rotate(images: Tensor, degrees: Tensor, shifts: Tensor) -> Tensor:
    r"""Rotate each image about its centre by ``degrees[n]`` (counter-clockwise on screen), then translate it by
    ``shifts[n] = (dx, dy)`` pixels (+x right, +y down), filling uncovered pixels with zeros.

    Output pixel p takes the bilinearly interpolated input value at :math:`R^{-1}(p - t)` (about the centre),
    the inverse map ``affine_grid`` needs. Integer shifts with zero rotation move pixels exactly; since the
    interpolation weights are non-negative and sum to at most 1, values in [0, 1] stay in [0, 1].

    Args:
        images: (N, C, H, W).
        degrees: (N,) rotation angles in degrees.
        shifts: (N, 2) translations in pixels, (dx, dy).

    Returns:
        (N, C, H, W), same dtype and device as ``images``.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    n, _, h, w = images.shape
    if degrees.shape != (n,) or shifts.shape != (n, 2):
        raise ValueError(
            f"need degrees (N,) and shifts (N, 2) for N={n}, got {tuple(degrees.shape)} and {tuple(shifts.shape)}"
        )
    device, dtype = images.device, images.dtype
    theta = degrees.to(device, dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # In pixel units about the centre (y pointing down), a counter-clockwise rotation on screen by θ is
    # R = [[cos, sin], [-sin, cos]]; the forward map is p -> R p + t, so the inverse is p -> R^T (p - t).
    inverse = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (N, 2, 2) = R^T
    offset = -(inverse @ shifts.to(device, dtype).unsqueeze(-1))  # (N, 2, 1) = -R^T t
    # affine_grid works in normalized coordinates u = p / S, S = diag(W/2, H/2) (align_corners=False), so the
    # inverse map there is u -> S^-1 R^T S u - S^-1 R^T t.
    scale = torch.tensor([w / 2.0, h / 2.0], device=device, dtype=dtype)  # (2,) the diagonal of S
    affine = torch.cat(
        [inverse * scale / scale.unsqueeze(-1), offset / scale.unsqueeze(-1)], dim=-1
    )  # (N, 2, 3)
    grid = torch.nn.functional.affine_grid(affine, list(images.shape), align_corners=False)  # (N, H, W, 2)
    return torch.nn.functional.grid_sample(
        images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )


def random_shift_rotate(
    images: Tensor,
    *,
    max_shift: int = 1,
    max_degrees: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Augment a batch: each image is rotated by an angle drawn from U(-max_degrees, max_degrees) and shifted by
    whole pixels (dx, dy), each drawn uniformly from {-max_shift, ..., max_shift} (see :func:`shift_rotate`).

    The draws come from ``generator`` (a CPU generator; torch's global one if None), angles first, then shifts,
    so the same generator state gives the same augmented batch on any device.

    Args:
        images: (N, C, H, W) images.
        max_shift: largest shift in pixels along each axis (>= 0).
        max_degrees: largest rotation in degrees (>= 0).
        generator: source of randomness.

    Returns:
        (N, C, H, W) augmented images.

    Raises:
        ValueError: negative ``max_shift`` or ``max_degrees``.
    """
    if max_shift < 0 or max_degrees < 0:
        raise ValueError(f"max_shift and max_degrees must be >= 0, got {max_shift} and {max_degrees}")
    n = images.shape[0]
    degrees = (torch.rand(n, generator=generator, dtype=torch.float64) * 2.0 - 1.0) * max_degrees
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).to(torch.float64)
    return shift_rotate(images, degrees, shifts)
