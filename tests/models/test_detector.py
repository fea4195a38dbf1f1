"""Tests of udl.models.GridDetector: target encoding (hand cases, collisions, exact round trip through decoding),
the YOLO loss against a cell-by-cell float64 reference (values and gradients), detection with NMS on a hand-made
output, shapes, initialization and validation."""

from __future__ import annotations

import math

import pytest
import torch

from reference import F64, gen
from udl.data import make_shapes
from udl.metrics import mean_average_precision
from udl.models import GridDetector, GridDetectorConfig
from udl.models.detector import cell_boxes, decode_grid_targets, encode_grid_targets


def _sorted(boxes: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = boxes[:, 0] * 1e6 + boxes[:, 1]
    order = torch.argsort(key)
    return boxes[order], labels[order]


def test_encoding_hand_cases():
    boxes = [torch.tensor([[4.0, 4.0, 12.0, 12.0], [1.0, 2.0, 4.0, 7.0]])]
    labels = [torch.tensor([2, 3])]
    target = encode_grid_targets(boxes, labels, grid_size=8, stride=4, anchor=10.0, dtype=F64)
    assert target.shape == (1, 8, 8, 6)
    # centre (8, 8) -> cell (row 2, col 2), offsets (0, 0), size 8 x 8
    assert target[0, 2, 2].tolist() == pytest.approx([1, 0, 0, math.log(0.8), math.log(0.8), 2], abs=1e-15)
    # centre (2.5, 4.5) -> cell (row 1, col 0), offsets (0.625, 0.125), size 3 x 5
    assert target[0, 1, 0].tolist() == pytest.approx(
        [1, 0.625, 0.125, math.log(0.3), math.log(0.5), 3], abs=1e-15
    )
    assert float(target[..., 0].sum()) == 2.0 and float(target.abs().sum(-1).gt(0).sum()) == 2.0


def test_one_box_per_cell_the_larger_wins_in_either_order():
    small, large = [9.0, 9.0, 11.0, 11.0], [8.5, 8.5, 11.5, 11.5]  # both centred at (10, 10): cell (2, 2)
    for order in ([small, large], [large, small]):
        target = encode_grid_targets(
            [torch.tensor(order)],
            [torch.tensor([1, 2] if order[0] is small else [2, 1])],
            grid_size=8,
            stride=4,
            anchor=10.0,
            dtype=F64,
        )
        assert float(target[..., 0].sum()) == 1.0
        assert target[0, 2, 2, 3].item() == pytest.approx(math.log(0.3)) and target[0, 2, 2, 5].item() == 2.0


@pytest.mark.parametrize("stride,grid", [(4, 8), (8, 4), (2, 16)])
def test_encode_decode_round_trip(stride, grid):
    data = make_shapes(50, generator=gen(0))
    if stride == 8:  # bigger cells: keep objects apart enough that no two centres share a cell
        data = make_shapes(50, min_extent=9, max_shapes=2, generator=gen(0))
    boxes = [b.double() for b in data.boxes]
    target = encode_grid_targets(boxes, data.labels, grid_size=grid, stride=stride, anchor=10.0, dtype=F64)
    decoded = decode_grid_targets(target, stride=stride, anchor=10.0)
    assert len(decoded) == 50
    for d, b, lab in zip(decoded, boxes, data.labels, strict=True):
        got_boxes, got_labels = _sorted(d["boxes"], d["labels"])
        want_boxes, want_labels = _sorted(b, lab)
        assert torch.equal(got_labels, want_labels)
        torch.testing.assert_close(got_boxes, want_boxes, rtol=0, atol=1e-12)  # up to exp(log(w)) rounding
        # the centres of integer boxes come back bit for bit (dyadic arithmetic with a power-of-two stride)
        assert torch.equal(
            (got_boxes[:, :2] + got_boxes[:, 2:]) / 2, (want_boxes[:, :2] + want_boxes[:, 2:]) / 2
        )
    # float32 targets round-trip to float32 precision
    target32 = encode_grid_targets(data.boxes, data.labels, grid_size=grid, stride=stride, anchor=10.0)
    assert target32.dtype == torch.float32
    for d, b in zip(decode_grid_targets(target32, stride=stride, anchor=10.0), data.boxes, strict=True):
        torch.testing.assert_close(
            _sorted(d["boxes"], d["labels"])[0], _sorted(b, b[:, 0])[0], rtol=0, atol=1e-5
        )


def test_encoding_validation():
    with pytest.raises(ValueError, match="positive width"):
        encode_grid_targets(
            [torch.tensor([[1.0, 1.0, 1.0, 3.0]])], [torch.tensor([1])], grid_size=8, stride=4, anchor=1
        )
    with pytest.raises(ValueError):
        encode_grid_targets([torch.zeros(0, 4)], [], grid_size=8, stride=4, anchor=1)
    empty = encode_grid_targets(
        [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], grid_size=4, stride=8, anchor=1
    )
    assert empty.shape == (1, 4, 4, 6) and not bool(empty.any())


def reference_loss(output: torch.Tensor, target: torch.Tensor, lambda_coord: float, lambda_noobj: float):
    """The YOLO loss written cell by cell with scalar formulas."""
    n, s = output.shape[0], output.shape[1]
    total = output.new_zeros(())
    for b in range(n):
        for i in range(s):
            for j in range(s):
                o, t = output[b, i, j], target[b, i, j]
                p = 1 / (1 + torch.exp(-o[0]))
                if t[0] == 1:
                    total = total - torch.log(p)
                    sx, sy = 1 / (1 + torch.exp(-o[1])), 1 / (1 + torch.exp(-o[2]))
                    total = total + lambda_coord * (
                        (sx - t[1]) ** 2 + (sy - t[2]) ** 2 + (o[3] - t[3]) ** 2 + (o[4] - t[4]) ** 2
                    )
                    c = int(t[5]) - 1
                    total = total - (o[5 + c] - torch.log(torch.exp(o[5:]).sum()))
                else:
                    total = total - lambda_noobj * torch.log(1 - p)
    return total / n


def test_loss_matches_the_cell_by_cell_reference_in_value_and_gradient():
    cfg = GridDetectorConfig(lambda_coord=3.0, lambda_noobj=0.25)
    detector = GridDetector(cfg, generator=gen(1)).double()
    data = make_shapes(3, generator=gen(2))
    target = detector.encode_targets(data.boxes, data.labels, dtype=F64)
    output = torch.randn(3, 8, 8, 8, generator=gen(3), dtype=F64, requires_grad=True)
    ours = detector.loss(output, target)
    (grad,) = torch.autograd.grad(ours, output)
    ref = reference_loss(output, target, 3.0, 0.25)
    (ref_grad,) = torch.autograd.grad(ref, output)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)
    terms = detector.loss_terms(output, target)
    assert set(terms) == {"objectness", "box", "class"}
    torch.testing.assert_close(sum(terms.values()), ours)


def _perfect_output(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """An output whose decoding is exactly the target: confident objectness and class, inverse-sigmoid offsets."""
    out = torch.zeros(*target.shape[:3], 5 + num_classes, dtype=F64)
    present = target[..., 0] > 0.5
    out[..., 0] = torch.where(present, 12.0, -12.0)
    out[..., 1:3] = torch.logit(target[..., 1:3].clamp(1e-9, 1 - 1e-9))
    out[..., 3:5] = target[..., 3:5]
    cls = torch.nn.functional.one_hot((target[..., 5].long() - 1).clamp(min=0), num_classes).double()
    out[..., 5:] = 12.0 * cls
    return out


def test_detect_on_a_perfect_output_recovers_every_box_and_scores_map_one():
    detector = GridDetector(GridDetectorConfig(), generator=gen(4))
    data = make_shapes(20, generator=gen(5))
    target = detector.encode_targets(data.boxes, data.labels, dtype=F64)
    out = _perfect_output(target, 3)
    detections = detector.detect(out)
    for d, b, lab in zip(detections, data.boxes, data.labels, strict=True):
        got_boxes, got_labels = _sorted(d["boxes"], d["labels"])
        want_boxes, want_labels = _sorted(b.double(), lab)
        assert torch.equal(got_labels, want_labels)
        torch.testing.assert_close(got_boxes, want_boxes, rtol=0, atol=1e-6)
        assert bool((d["scores"] > 0.99).all())
    assert mean_average_precision(detections, data.targets())[0] == 1.0
    assert float(detector.loss_terms(out, target)["box"]) < 1e-10


def test_detect_suppresses_a_duplicate_in_the_neighbouring_cell_but_not_across_classes():
    detector = GridDetector(GridDetectorConfig(), generator=gen(6))
    target = detector.encode_targets([torch.tensor([[6.0, 6.0, 14.0, 14.0]])], [torch.tensor([1])], dtype=F64)
    out = _perfect_output(target, 3)  # the object, centre (10, 10), sits in cell (2, 2)
    # cell (2, 3), spanning x in [12, 16), predicts the same size with centre x = (3 + 0.05) 4 = 12.2, a lower
    # score: box [8.2, 16.2] x [6, 14], IoU 46.4 / 81.6 = 0.57 with the true box
    out[0, 2, 3, 0] = 2.0
    out[0, 2, 3, 1] = torch.logit(torch.tensor(0.05, dtype=F64))
    out[0, 2, 3, 2] = out[0, 2, 2, 2]
    out[0, 2, 3, 3:5] = out[0, 2, 2, 3:5]
    out[0, 2, 3, 5:] = out[0, 2, 2, 5:]
    dup = detector.detect(out, score_threshold=0.5, iou_threshold=0.5)[0]
    raw = detector.detect(out, score_threshold=0.5, iou_threshold=1.0)[0]
    assert len(raw["boxes"]) == 2 and len(dup["boxes"]) == 1
    torch.testing.assert_close(dup["boxes"][0], torch.tensor([6.0, 6.0, 14.0, 14.0], dtype=F64))
    out[0, 2, 3, 5:] = torch.tensor([0.0, 12.0, 0.0], dtype=F64)  # now a confident disc: another class
    assert len(detector.detect(out, score_threshold=0.5, iou_threshold=0.5)[0]["boxes"]) == 2


def test_cell_boxes_layout():
    xy = torch.full((1, 2, 3, 2), 0.5, dtype=F64)
    boxes = cell_boxes(xy, torch.zeros(1, 2, 3, 2, dtype=F64), stride=4, anchor=2.0)
    # cell (row 1, col 2): centre (10, 6), size 2 x 2
    assert boxes[0, 1, 2].tolist() == [9.0, 5.0, 11.0, 7.0]


def test_forward_shape_init_and_determinism():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = GridDetector(GridDetectorConfig(in_channels=3, num_classes=2, widths=(4, 8, 16)), generator=gen(7))
    b = GridDetector(GridDetectorConfig(in_channels=3, num_classes=2, widths=(4, 8, 16)), generator=gen(7))
    assert torch.equal(torch.get_rng_state(), before)
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert a.cfg.stride == 4 and a.cfg.grid_size == 8
    out = a(torch.randn(5, 3, 32, 32, generator=gen(8)))
    assert out.shape == (5, 8, 8, 7)
    assert a.head.bias is not None and a.head.bias[0].item() == pytest.approx(-math.log(64))


def test_training_steps_reduce_the_loss():
    data = make_shapes(32, generator=gen(9))
    detector = GridDetector(GridDetectorConfig(widths=(8, 16, 16)), generator=gen(10))
    target = detector.encode_targets(data.boxes, data.labels)
    opt = torch.optim.Adam(detector.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        loss = detector.loss(detector(data.images), target)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_validation():
    with pytest.raises(ValueError, match="multiple of the stride"):
        GridDetectorConfig(image_size=30)
    with pytest.raises(ValueError):
        GridDetectorConfig(anchor=0.0)
    with pytest.raises(ValueError):
        GridDetectorConfig(widths=())
    with pytest.raises(ValueError, match="expects"):
        GridDetector()(torch.zeros(1, 1, 16, 16))
