"""Synthetic images of simple shapes with per-pixel class masks and bounding boxes (UDL sections 10.5.2-10.5.3).

Chapter 10 applies convolutional networks to object detection (YOLO, section 10.5.2) and semantic segmentation
(section 10.5.3), and chapter 11 to U-Nets (section 11.5.3). Those experiments need images whose objects, boxes
and masks are known exactly; this module draws them locally, so nothing is downloaded.

Each image is ``size`` x ``size`` pixels with ``channels`` channels. It holds between ``min_shapes`` and
``max_shapes`` objects, each a filled ``square``, ``disc`` or up-pointing ``triangle`` (the classes, labels 1, 2,
3 in that order; 0 is background). An object has a random extent s (its bounding square's side, uniform in
[``min_extent``, ``max_extent``] pixels), a random centre that keeps it inside the image, and a random intensity
per channel (uniform in [0.5, 1]); the background has a random level per image (uniform in [0, 0.2]) and every
pixel gets Gaussian noise of standard deviation ``noise``. Intensity is independent of the class, so only the
shape tells the classes apart. Objects never overlap: their extents are kept at least one pixel apart (a
candidate that would touch an earlier one is redrawn, up to ``max_tries`` times, and dropped after that), so the
mask of every object is exactly the pixels it covers and its box is exactly the tight box of those pixels.

Pixel (row i, column j) covers [j, j+1) x [i, i+1) and is inside a shape when its centre (j + 1/2, i + 1/2) is.
Boxes are ``(x1, y1, x2, y2)`` in pixel units (torchvision's ``xyxy``): x1 the first covered column, x2 one past
the last, so the box area equals the box's pixel count.

Generation is vectorized over images: Python loops run only over the ``max_shapes`` object slots and the redraw
attempts, never over pixels or images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SHAPE_CLASSES", "Shapes", "make_shapes"]

SHAPE_CLASSES: tuple[str, ...] = ("square", "disc", "triangle")
"""The object classes; class ``SHAPE_CLASSES[k]`` has label k + 1 (label 0 is background)."""


@dataclass(frozen=True)
class Shapes:
    """A batch of synthetic shape images.

    Attributes:
        images: (N, C, H, W) float32 pixel values (about [0, 1] plus noise).
        masks: (N, H, W) long per-pixel labels: 0 background, k + 1 for ``classes[k]``.
        boxes: N tensors (K_n, 4) float32, the objects' tight boxes ``(x1, y1, x2, y2)`` in pixels.
        labels: N tensors (K_n,) long, the objects' labels (1..len(classes)), aligned with ``boxes``.
        classes: the class names, ``classes[k]`` for label k + 1.
    """

    images: Tensor
    masks: Tensor
    boxes: list[Tensor]
    labels: list[Tensor]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """Number of object classes (background not counted)."""
        return len(self.classes)

    def targets(self) -> list[dict[str, Tensor]]:
        """Per-image ``{"boxes", "labels"}`` dicts, the target format of ``udl.metrics.mean_average_precision``."""
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.labels, strict=True)]


def _rasterize(kind: Tensor, cx: Tensor, cy: Tensor, extent: Tensor, size: int) -> Tensor:
    """(N, H, W) bool: the pixels whose centres lie inside each image's shape.

    ``kind`` (N,) long indexes SHAPE_CLASSES; ``cx``, ``cy``, ``extent`` (N,) float give the centre and the side of
    the shape's bounding square.
    """
    centres = torch.arange(size, dtype=torch.float64) + 0.5
    px = centres.view(1, 1, size)  # (1, 1, W) column centres
    py = centres.view(1, size, 1)  # (1, H, 1) row centres
    cx, cy, half = cx.view(-1, 1, 1), cy.view(-1, 1, 1), extent.view(-1, 1, 1) / 2
    dx, dy = px - cx, py - cy  # (N, H, W) after broadcasting
    square = (dx.abs() <= half) & (dy.abs() <= half)
    disc = dx.square() + dy.square() <= half.square()
    # isosceles triangle, apex at (cx, cy - half), base from cx - half to cx + half at y = cy + half:
    # at depth t = dy + half below the apex its half-width is t / 2
    triangle = (dy <= half) & (dx.abs() <= (dy + half) / 2)
    kind = kind.view(-1, 1, 1)
    return torch.where(kind == 0, square, torch.where(kind == 1, disc, triangle))


def make_shapes(
    num_images: int,
    *,
    size: int = 32,
    channels: int = 1,
    min_shapes: int = 1,
    max_shapes: int = 3,
    min_extent: float = 6.0,
    max_extent: float = 14.0,
    noise: float = 0.05,
    num_classes: int = 3,
    max_tries: int = 50,
    generator: torch.Generator | None = None,
) -> Shapes:
    """Draw ``num_images`` images of random, non-overlapping shapes with their masks, boxes and labels.

    Args:
        num_images: N, the number of images.
        size: image height and width in pixels.
        channels: 1 (grey) or more (each object and the background get an independent level per channel).
        min_shapes: fewest objects per image (an object that cannot be placed in ``max_tries`` draws is dropped,
            so an image can hold fewer).
        max_shapes: most objects per image; the count is uniform in [min_shapes, max_shapes].
        min_extent: smallest side of an object's bounding square, in pixels.
        max_extent: largest side, in pixels (at most ``size``).
        noise: standard deviation of the Gaussian pixel noise.
        num_classes: how many of ``SHAPE_CLASSES`` to use (the first ``num_classes``: 2 or 3; 1 is allowed).
        max_tries: draws per object before it is dropped when it keeps touching earlier objects.
        generator: the only source of randomness (a CPU generator; ``None`` uses torch's global RNG).

    Returns:
        A :class:`Shapes` on the CPU.

    Raises:
        ValueError: non-positive counts or sizes, ``min_shapes > max_shapes``, extents outside
            [1, size] or in the wrong order, a negative ``noise``, or ``num_classes`` outside 1..3.
    """
    if num_images < 1 or size < 1 or channels < 1 or max_tries < 1:
        raise ValueError(
            f"num_images, size, channels and max_tries must be >= 1, got {num_images}, {size}, {channels}, "
            f"{max_tries}"
        )
    if not 0 <= min_shapes <= max_shapes or max_shapes < 1:
        raise ValueError(
            f"need 0 <= min_shapes <= max_shapes and max_shapes >= 1, got {min_shapes}, {max_shapes}"
        )
    if not 1 <= min_extent <= max_extent <= size:
        raise ValueError(
            f"need 1 <= min_extent <= max_extent <= size, got {min_extent}, {max_extent}, {size}"
        )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not 1 <= num_classes <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes must be in 1..{len(SHAPE_CLASSES)}, got {num_classes}")

    n = num_images

    def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator, dtype=torch.float64)

    count = torch.randint(min_shapes, max_shapes + 1, (n,), generator=generator)
    background = uniform(n, channels, 1, 1, high=0.2)
    images = background.expand(n, channels, size, size).clone()
    masks = torch.zeros(n, size, size, dtype=torch.long)
    placed: list[Tensor] = []  # per slot, (N, 4) extents (x1, y1, x2, y2) of the placed objects, NaN if none
    boxes_per_slot: list[Tensor] = []
    labels_per_slot: list[Tensor] = []
    kept_per_slot: list[Tensor] = []

    for slot in range(max_shapes):
        # -- draw a candidate per image; redraw those that touch earlier objects --------------------------------
        kind = torch.randint(0, num_classes, (n,), generator=generator)
        level = uniform(n, channels, low=0.5, high=1.0)
        extent = torch.zeros(n, dtype=torch.float64)
        cx = torch.zeros(n, dtype=torch.float64)
        cy = torch.zeros(n, dtype=torch.float64)
        pending = slot < count  # (N,) images that still need this object
        wanted = pending.clone()
        for _ in range(max_tries):
            s = uniform(n, low=min_extent, high=max_extent)
            x = uniform(n) * (size - s) + s / 2  # centres keep the whole extent inside the image
            y = uniform(n) * (size - s) + s / 2
            extent = torch.where(pending, s, extent)
            cx = torch.where(pending, x, cx)
            cy = torch.where(pending, y, cy)
            if placed:
                box = torch.stack([cx - extent / 2, cy - extent / 2, cx + extent / 2, cy + extent / 2], -1)
                others = torch.stack(placed, 1)  # (N, slot, 4); NaN rows compare False, so never touch
                # extents at least one pixel apart: the gap between them along x or y is >= 1
                apart = (
                    (box[:, None, 0] >= others[..., 2] + 1)
                    | (others[..., 0] >= box[:, None, 2] + 1)
                    | (box[:, None, 1] >= others[..., 3] + 1)
                    | (others[..., 1] >= box[:, None, 3] + 1)
                    | others[..., 0].isnan()
                )
                pending = pending & ~apart.all(1)
            else:
                pending = torch.zeros_like(pending)
            if not bool(pending.any()):
                break
        kept = wanted & ~pending
        nan = torch.full((n,), float("nan"), dtype=torch.float64)
        placed.append(
            torch.stack(
                [
                    torch.where(kept, cx - extent / 2, nan),
                    torch.where(kept, cy - extent / 2, nan),
                    torch.where(kept, cx + extent / 2, nan),
                    torch.where(kept, cy + extent / 2, nan),
                ],
                -1,
            )
        )

        # -- paint the kept objects ------------------------------------------------------------------------------
        inside = _rasterize(kind, cx, cy, extent, size) & kept.view(-1, 1, 1)  # (N, H, W)
        images = torch.where(inside[:, None], level.view(n, channels, 1, 1), images)
        masks = torch.where(inside, (kind + 1)[:, None, None], masks)

        # -- tight boxes of the painted pixels -----------------------------------------------------------------
        cols, rows = inside.any(1), inside.any(2)  # (N, W), (N, H)
        index = torch.arange(size)
        big = size + 1
        x1 = torch.where(cols, index, big).amin(1)
        x2 = torch.where(cols, index + 1, -1).amax(1)
        y1 = torch.where(rows, index, big).amin(1)
        y2 = torch.where(rows, index + 1, -1).amax(1)
        kept = kept & cols.any(1)  # a sub-pixel shape covering no pixel centre is dropped
        boxes_per_slot.append(torch.stack([x1, y1, x2, y2], -1).to(torch.float32))
        labels_per_slot.append(kind + 1)
        kept_per_slot.append(kept)

    images = images + noise * torch.randn(images.shape, generator=generator, dtype=torch.float64)
    all_boxes = torch.stack(boxes_per_slot, 1)  # (N, S, 4)
    all_labels = torch.stack(labels_per_slot, 1)  # (N, S)
    all_kept = torch.stack(kept_per_slot, 1)  # (N, S)
    return Shapes(
        images=images.to(torch.float32),
        masks=masks,
        boxes=[all_boxes[i][all_kept[i]] for i in range(n)],
        labels=[all_labels[i][all_kept[i]] for i in range(n)],
        classes=SHAPE_CLASSES[:num_classes],
    )
