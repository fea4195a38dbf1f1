"""Tests of udl.data.shapes: shapes and dtypes, determinism, masks agree with boxes, shape geometry, validation."""

from __future__ import annotations

import math

import pytest
import torch

from reference import gen
from udl.data import SHAPE_CLASSES, make_shapes


def test_shapes_dtypes_and_label_ranges():
    data = make_shapes(40, size=32, channels=3, generator=gen(0))
    assert data.images.shape == (40, 3, 32, 32) and data.images.dtype == torch.float32
    assert data.masks.shape == (40, 32, 32) and data.masks.dtype == torch.long
    assert len(data) == 40 and len(data.boxes) == 40 and len(data.labels) == 40
    assert data.classes == SHAPE_CLASSES and data.num_classes == 3
    for boxes, labels in zip(data.boxes, data.labels, strict=True):
        assert boxes.shape == (len(labels), 4) and boxes.dtype == torch.float32 and labels.dtype == torch.long
        assert 1 <= len(labels) <= 3
        assert bool(((labels >= 1) & (labels <= 3)).all())
        assert bool((boxes >= 0).all() and (boxes <= 32).all())
        assert bool((boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all())
    assert set(data.masks.unique().tolist()) == {0, 1, 2, 3}
    targets = data.targets()
    assert targets[3]["boxes"] is data.boxes[3] and targets[3]["labels"] is data.labels[3]


def test_same_generator_state_gives_identical_data_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = make_shapes(20, generator=gen(5))
    assert torch.equal(torch.get_rng_state(), before)
    b = make_shapes(20, generator=gen(5))
    c = make_shapes(20, generator=gen(6))
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(a.labels, b.labels, strict=True))
    assert not torch.equal(a.images, c.images)


def test_boxes_are_the_tight_boxes_of_the_mask_pixels_and_cover_every_object_pixel():
    """Brute force, per object: the pixels labelled with the object's class inside its box have exactly that box
    as their tight box, and the objects' pixel counts add up to every non-background pixel of the image."""
    data = make_shapes(60, generator=gen(1))
    for mask, boxes, labels in zip(data.masks, data.boxes, data.labels, strict=True):
        covered = 0
        for box, label in zip(boxes.long().tolist(), labels.tolist(), strict=True):
            x1, y1, x2, y2 = box
            window = mask[y1:y2, x1:x2]
            assert set(window.unique().tolist()) <= {0, label}
            rows, cols = torch.nonzero(window == label, as_tuple=True)
            assert (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1) == (
                0,
                0,
                x2 - x1,
                y2 - y1,
            )
            covered += len(rows)
        assert covered == int((mask > 0).sum())


def test_objects_never_overlap_or_touch():
    data = make_shapes(200, max_shapes=4, generator=gen(2))
    for boxes in data.boxes:
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i].tolist(), boxes[j].tolist()
                gap_x = max(b[0] - a[2], a[0] - b[2])
                gap_y = max(b[1] - a[3], a[1] - b[3])
                assert max(gap_x, gap_y) >= 0  # disjoint boxes (the drawn extents are >= 1 px apart)


def test_shape_geometry():
    """Independent checks of each class's rasterization: a square fills its box; a disc fills about pi/4 of its
    box; a triangle fills about half and widens downwards."""
    data = make_shapes(300, min_extent=10, max_extent=14, generator=gen(3))
    fill: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for mask, boxes, labels in zip(data.masks, data.boxes, data.labels, strict=True):
        for box, label in zip(boxes.long().tolist(), labels.tolist(), strict=True):
            x1, y1, x2, y2 = box
            window = (mask[y1:y2, x1:x2] == label).long()
            fill[label].append(float(window.sum()) / window.numel())
            if label == 1:
                assert bool(window.all())
            if label == 3:
                widths = window.sum(1)
                assert bool((widths[1:] >= widths[:-1]).all())  # widening from the apex down
    assert min(fill[1]) == 1.0
    assert abs(sum(fill[2]) / len(fill[2]) - math.pi / 4) < 0.06
    assert abs(sum(fill[3]) / len(fill[3]) - 0.5) < 0.08


def test_without_noise_objects_are_flat_and_background_is_one_level_per_image():
    data = make_shapes(30, noise=0.0, channels=2, generator=gen(4))
    for image, mask, boxes in zip(data.images, data.masks, data.boxes, strict=True):
        background = image[:, mask == 0]
        assert bool((background == background[:, :1]).all())
        assert bool((background >= 0).all() and (background <= 0.2).all())
        for box in boxes.long().tolist():
            x1, y1, x2, y2 = box
            inside = image[:, y1:y2, x1:x2][:, mask[y1:y2, x1:x2] > 0]
            assert bool((inside == inside[:, :1]).all())
            assert bool((inside >= 0.5).all() and (inside <= 1.0).all())


def test_noise_has_the_requested_standard_deviation():
    clean = make_shapes(200, noise=0.0, generator=gen(7))
    noisy = make_shapes(200, noise=0.1, generator=gen(7))
    assert torch.equal(clean.masks, noisy.masks)
    residual = (noisy.images - clean.images).double()
    assert abs(float(residual.std()) - 0.1) < 0.002 and abs(float(residual.mean())) < 0.002


def test_counts_and_classes():
    data = make_shapes(
        400, min_shapes=2, max_shapes=4, min_extent=4, max_extent=6, num_classes=2, generator=gen(8)
    )
    counts = [len(b) for b in data.boxes]
    assert min(counts) == 2 and max(counts) == 4  # small shapes always fit
    assert data.classes == ("square", "disc")
    assert set(torch.cat(data.labels).tolist()) == {1, 2}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_images": 0},
        {"channels": 0},
        {"min_shapes": 3, "max_shapes": 2},
        {"max_shapes": 0},
        {"min_extent": 0.5},
        {"min_extent": 10.0, "max_extent": 8.0},
        {"max_extent": 40.0},
        {"noise": -0.1},
        {"num_classes": 4},
    ],
)
def test_bad_arguments_raise(kwargs):
    args = {"num_images": 4, **kwargs}
    with pytest.raises(ValueError):
        make_shapes(**args)
