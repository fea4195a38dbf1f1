"""Tests of udl.data.digits: the deterministic stratified split of sklearn's 8x8 digits, and shift/rotation
augmentation against exact pixel moves (brute force), torch.rot90, and seeded reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from reference import F64
from reference import gen as _gen
from udl.data import load_digits_split, random_shift_rotate, shift_rotate

# ------------------------------------------------------------------------------------------------ the split


@pytest.fixture(scope="module")
def sklearn_digits():
    bunch = load_digits()
    return torch.as_tensor(bunch.images, dtype=torch.float32), torch.as_tensor(bunch.target)


def test_split_is_deterministic_disjoint_complete_and_stratified(sklearn_digits):
    images, labels = sklearn_digits
    a, b = load_digits_split(0.3, seed=4), load_digits_split(0.3, seed=4)
    for name in ("x_train", "y_train", "x_test", "y_test", "train_index", "test_index"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    train, test = set(a.train_index.tolist()), set(a.test_index.tolist())
    assert not train & test and train | test == set(range(1797))
    for c in range(10):
        n_c = int((labels == c).sum())
        assert int((a.y_test == c).sum()) == round(0.3 * n_c)
    # the tensors are the sklearn images, scaled to [0, 1], in index order
    assert torch.equal(a.x_train[:, 0], images[a.train_index] / 16)
    assert torch.equal(a.y_test, labels[a.test_index])
    assert torch.all(a.train_index.diff() > 0) and torch.all(a.test_index.diff() > 0)
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == torch.float32
    assert a.y_train.dtype == torch.int64
    assert float(a.x_train.min()) == 0.0 and float(a.x_train.max()) == 1.0


def test_different_seeds_give_different_splits():
    assert not torch.equal(load_digits_split(0.5, 0).test_index, load_digits_split(0.5, 1).test_index)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_bad_test_fraction_raises(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(fraction)


# ------------------------------------------------------------------------------------------------ augmentation


def _shift_by_hand(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """out[y, x] = image[y - dy, x - dx] where that pixel exists, 0 elsewhere."""
    h, w = image.shape
    out = np.zeros_like(image)
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[y, x] = image[y - dy, x - dx]
    return out


def test_integer_shifts_move_pixels_exactly():
    images = torch.rand(5, 2, 8, 8, generator=_gen(0), dtype=F64)
    shifts = torch.tensor([[1, 0], [0, -1], [-1, 1], [2, 2], [0, 0]], dtype=F64)
    out = shift_rotate(images, torch.zeros(5, dtype=F64), shifts)
    for n in range(5):
        dx, dy = int(shifts[n, 0]), int(shifts[n, 1])
        for c in range(2):
            expected = _shift_by_hand(images[n, c].numpy(), dx, dy)
            np.testing.assert_allclose(out[n, c].numpy(), expected, rtol=0, atol=1e-12)


def test_quarter_turn_equals_rot90_counter_clockwise():
    images = torch.rand(3, 1, 8, 8, generator=_gen(1), dtype=F64)
    out = shift_rotate(images, torch.full((3,), 90.0, dtype=F64), torch.zeros(3, 2, dtype=F64))
    torch.testing.assert_close(out, torch.rot90(images, 1, dims=(-2, -1)), rtol=0, atol=1e-12)
    half = shift_rotate(images, torch.full((3,), 180.0, dtype=F64), torch.zeros(3, 2, dtype=F64))
    torch.testing.assert_close(half, images.flip(-1, -2), rtol=0, atol=1e-12)


def test_rotation_is_a_true_rotation_on_non_square_images():
    # centre of a 6 x 10 image: (x, y) = (4.5, 2.5); pixel (x=5, y=2) is at offset (0.5, -0.5), a quarter turn
    # counter-clockwise on screen (y down) takes it to (-0.5, -0.5): pixel (x=4, y=2).
    image = torch.zeros(1, 1, 6, 10, dtype=F64)
    image[0, 0, 2, 5] = 1.0
    out = shift_rotate(image, torch.tensor([90.0], dtype=F64), torch.zeros(1, 2, dtype=F64))
    expected = torch.zeros_like(image)
    expected[0, 0, 2, 4] = 1.0
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_shift_rotate_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="degrees"):
        shift_rotate(torch.zeros(2, 1, 8, 8), torch.zeros(3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        shift_rotate(torch.zeros(8, 8), torch.zeros(8), torch.zeros(8, 2))


def test_random_augmentation_is_seeded_and_keeps_shape_and_range():
    images = load_digits_split(0.5, 0).x_train[:64]
    state = torch.get_rng_state()
    a = random_shift_rotate(images, generator=_gen(3))
    b = random_shift_rotate(images, generator=_gen(3))
    c = random_shift_rotate(images, generator=_gen(4))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == images.shape and a.dtype == images.dtype
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, images)


def test_random_shifts_without_rotation_are_one_of_the_allowed_moves():
    images = torch.rand(40, 1, 8, 8, generator=_gen(5), dtype=F64)
    out = random_shift_rotate(images, max_shift=1, max_degrees=0.0, generator=_gen(6))
    seen = set()
    for n in range(40):
        matches = [
            (dx, dy)
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if np.allclose(out[n, 0].numpy(), _shift_by_hand(images[n, 0].numpy(), dx, dy), atol=1e-12)
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) >= 7  # 40 draws from 9 moves cover most of them
    identity = random_shift_rotate(images, max_shift=0, max_degrees=0.0, generator=_gen(6))
    torch.testing.assert_close(identity, images, rtol=0, atol=1e-12)


def test_random_augmentation_rejects_negative_ranges():
    with pytest.raises(ValueError, match="max_shift"):
        random_shift_rotate(torch.zeros(1, 1, 8, 8), max_shift=-1)
    with pytest.raises(ValueError, match="max_degrees"):
        random_shift_rotate(torch.zeros(1, 1, 8, 8), max_degrees=-5.0)
