"""MNIST-1D-style augmentation (notebook 9.5): circular shifts are exact ``torch.roll``s, scales lie in
[0.8, 1.2], everything is seeded and shape-preserving."""

from __future__ import annotations

import pytest
import torch

from reference import gen
from udl.data import (
    augment_dataset,
    augment_signals,
    circular_shift,
    random_span_mask,
    sample_shift_and_scale,
    shift_and_scale,
)


def _signals(n: int = 50, length: int = 40) -> torch.Tensor:
    return torch.randn(n, length, generator=gen(0))


@pytest.mark.parametrize("shape", [(50, 40), (6, 3, 11)])
def test_circular_shift_is_a_per_row_roll(shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape, generator=gen(1))
    shifts = torch.randint(-100, 100, (shape[0],), generator=gen(2))
    out = circular_shift(x, shifts)
    for i in range(shape[0]):
        assert torch.equal(out[i], torch.roll(x[i], int(shifts[i]), dims=-1))


def test_shift_and_scale_is_roll_times_scale_exactly() -> None:
    x = _signals()
    shifts, scales = sample_shift_and_scale(len(x), x.shape[1], generator=gen(3))
    out = shift_and_scale(x, shifts, scales)
    for i in range(len(x)):
        assert torch.equal(out[i], torch.roll(x[i], int(shifts[i])) * scales[i])


def test_sampled_parameters_are_in_range_and_cover_it() -> None:
    shifts, scales = sample_shift_and_scale(20_000, 40, generator=gen(4))
    assert shifts.dtype == torch.int64 and int(shifts.min()) == 0 and int(shifts.max()) == 39
    assert float(scales.min()) >= 0.8 and float(scales.max()) <= 1.2
    assert float(scales.min()) < 0.801 and float(scales.max()) > 1.199
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.005)
    counts = torch.bincount(shifts, minlength=40).double()
    assert float(counts.min()) > 0.8 * 500 and float(counts.max()) < 1.2 * 500  # ≈ uniform, 500 expected each


def test_augment_signals_is_seeded_and_shape_preserving() -> None:
    x = _signals()
    a = augment_signals(x, generator=gen(5))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, augment_signals(x, generator=gen(5)))
    assert not torch.equal(a, augment_signals(x, generator=gen(6)))
    assert torch.equal(a, shift_and_scale(x, *sample_shift_and_scale(len(x), 40, generator=gen(5))))


def test_each_augmented_signal_is_a_scaled_rotation_of_its_source() -> None:
    # recover (shift, scale) from the output alone: exactly one roll makes the ratio constant, in [0.8, 1.2]
    x = _signals(20)
    a = augment_signals(x, generator=gen(7))
    for i in range(len(x)):
        ratios = [a[i] / torch.roll(x[i], s) for s in range(40)]
        matches = [s for s, r in enumerate(ratios) if float(r.max() - r.min()) < 1e-5]
        assert len(matches) == 1
        scale = float(ratios[matches[0]].mean())
        assert 0.8 <= scale <= 1.2


def test_unit_scale_range_gives_pure_rotations() -> None:
    x = _signals(10)
    a = augment_signals(x, generator=gen(8), scale_range=(1.0, 1.0))
    for i in range(len(x)):
        assert any(torch.equal(a[i], torch.roll(x[i], s)) for s in range(40))
        assert torch.equal(a[i].sort().values, x[i].sort().values)


def test_augment_dataset_keeps_originals_and_labels() -> None:
    x = _signals(30)
    y = torch.arange(30) % 10
    xa, ya = augment_dataset(x, y, 45, generator=gen(9))
    assert xa.shape == (75, 40) and ya.shape == (75,)
    assert torch.equal(xa[:30], x) and torch.equal(ya[:30], y)
    # the source indices come first from the generator: every extra row is its source's scaled rotation
    source = torch.randint(0, 30, (45,), generator=gen(9))
    assert torch.equal(ya[30:], y[source])
    g = gen(9)
    torch.randint(0, 30, (45,), generator=g)
    assert torch.equal(xa[30:], augment_signals(x[source], generator=g))
    xb, _ = augment_dataset(x, y, 45, generator=gen(9))
    assert torch.equal(xa, xb)


def test_bad_input() -> None:
    x = _signals(4)
    with pytest.raises(ValueError, match="shifts"):
        circular_shift(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="scale_range"):
        augment_signals(x, scale_range=(1.2, 0.8))
    with pytest.raises(ValueError, match="one length"):
        augment_dataset(x, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="num_extra"):
        augment_dataset(x, torch.zeros(4, dtype=torch.long), -1)


def test_random_span_mask_blocks_are_contiguous_and_cover_every_offset():
    mask = random_span_mask(2000, 40, 10, generator=gen(10))
    assert mask.shape == (2000, 40) and mask.dtype == torch.bool
    assert (mask.sum(1) == 10).all()
    starts = mask.float().argmax(1)
    for row, s in zip(mask[:50], starts[:50], strict=True):
        expected = torch.zeros(40, dtype=torch.bool)
        expected[int(s) : int(s) + 10] = True
        assert torch.equal(row, expected)
    assert set(starts.tolist()) == set(range(31))  # offsets 0..L-span all drawn
    assert torch.equal(mask, random_span_mask(2000, 40, 10, generator=gen(10)))
    assert random_span_mask(3, 5, 5).all()
    with pytest.raises(ValueError, match="span"):
        random_span_mask(3, 5, 6)
