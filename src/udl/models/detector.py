r"""A single-stage grid object detector in the style of YOLO (UDL section 10.5.2).

YOLO (Redmon et al., 2016) reads the whole image once with a convolutional network whose output is a coarse
S x S grid; every grid cell predicts whether an object's centre falls in it, the object's box and its class.
Overlapping duplicate boxes are then removed by non-maximum suppression (``udl.functional.nms``). This module is
that recipe at the scale of 32 x 32 synthetic images, one box per cell:

- **Backbone.** Stages of two 3x3 conv-BN-ReLU layers with widths (D_1, ..., D_L), a 2x2 max-pool between
  stages, so the grid stride is s = 2^(L-1) pixels and the grid is S = image_size / s cells a side. A 1x1
  convolution then gives each cell 5 + C numbers: an objectness logit o, box parameters (t_x, t_y, t_w, t_h)
  and C class logits.
- **Box parametrization.** A box with centre (c_x, c_y) and size (w, h) in pixels belongs to the cell
  (i, j) = (floor(c_y / s), floor(c_x / s)) that holds its centre, and is encoded relative to that cell:

  .. math:: x = c_x / s - j,\quad y = c_y / s - i \in [0, 1), \qquad
            t_w = \log(w / a),\quad t_h = \log(h / a),

  with a the ``anchor`` size prior. The network predicts the offsets through a sigmoid, x = σ(t_x),
  y = σ(t_y), and the log sizes directly, and a box is decoded by
  c_x = (j + x) s, w = a exp(t_w) (YOLOv2's parametrization, without per-cell anchor sets).
- **Loss** (per image, YOLO's sum-squared form with its weights): binary cross-entropy of the objectness on
  every cell, cells without an object weighted by λ_noobj; on the cells responsible for an object,
  λ_coord times the squared error of (x, y, t_w, t_h), plus the cross-entropy of the class.
- **Detection.** Score = σ(o) times the most probable class's probability (YOLO's class-specific confidence);
  boxes scoring at least a threshold go through per-class non-maximum suppression.

A cell holds at most one object; when two objects' centres share a cell the target keeps the larger box (the
other cannot be detected). :func:`udl.data.make_shapes` keeps objects apart so that with the default sizes
this never happens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.functional.boxes import batched_nms
from udl.models.unet import _check_channels, _conv2d, _conv_bn_relu

__all__ = [
    "TARGET_FIELDS",
    "GridDetector",
    "GridDetectorConfig",
    "cell_boxes",
    "decode_grid_targets",
    "encode_grid_targets",
]

TARGET_FIELDS: tuple[str, ...] = ("objectness", "x", "y", "log_w", "log_h", "label")
"""The last axis of an encoded target: objectness (0/1), cell-relative centre (x, y) in [0, 1), log size
relative to the anchor, and the object's label (1..C, stored as a float; 0 where there is no object)."""


@dataclass(frozen=True)
class GridDetectorConfig:
    """Hyperparameters of :class:`GridDetector`."""

    in_channels: int = 1
    """input image channels"""
    num_classes: int = 3
    """object classes C (labels 1..C; 0 is background)"""
    image_size: int = 32
    """input height and width in pixels; divisible by the stride 2^(len(widths) - 1)"""
    widths: tuple[int, ...] = (16, 32, 64)
    """channels of each backbone stage; a 2x2 max-pool between stages"""
    anchor: float = 10.0
    """box size prior a in pixels: the net predicts log(w / a) and log(h / a)"""
    lambda_coord: float = 5.0
    """weight of the box regression term (YOLO: 5)"""
    lambda_noobj: float = 0.5
    """weight of the objectness term on cells without an object (YOLO: 0.5)"""
    batch_norm: bool = True
    """batch normalization after every 3x3 convolution"""

    def __post_init__(self) -> None:
        _check_channels(self.in_channels, self.num_classes, self.widths)
        if self.image_size < 1 or self.image_size % self.stride:
            raise ValueError(
                f"image_size must be a positive multiple of the stride {self.stride} (2^(len(widths) - 1)), "
                f"got {self.image_size}"
            )
        if self.anchor <= 0 or self.lambda_coord < 0 or self.lambda_noobj < 0:
            raise ValueError(
                f"need anchor > 0 and non-negative loss weights, got anchor={self.anchor}, "
                f"lambda_coord={self.lambda_coord}, lambda_noobj={self.lambda_noobj}"
            )

    @property
    def stride(self) -> int:
        """Pixels per grid cell, 2^(L-1)."""
        return 2 ** (len(self.widths) - 1)

    @property
    def grid_size(self) -> int:
        """Cells per side, S = image_size / stride."""
        return self.image_size // self.stride


def encode_grid_targets(
    boxes: Sequence[Tensor],
    labels: Sequence[Tensor],
    *,
    grid_size: int,
    stride: float,
    anchor: float,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Encode per-image boxes as a dense (N, S, S, 6) grid target (fields: :data:`TARGET_FIELDS`).

    The cell (i, j) = (floor(c_y / s), floor(c_x / s)) holding a box's centre (clamped into the grid) gets
    objectness 1, the centre's offset inside the cell, the log size relative to ``anchor`` and the label; all
    other cells are zero. When several boxes of one image fall in the same cell the largest is kept (equal
    areas: the later one). Computed in float64, returned as ``dtype``.

    Args:
        boxes: per image, (K_n, 4) boxes ``(x1, y1, x2, y2)`` in pixels, with positive width and height.
        labels: per image, (K_n,) labels 1..C.
        grid_size: S.
        stride: s, pixels per cell.
        anchor: a, the size prior in pixels.
    """
    if len(boxes) != len(labels):
        raise ValueError(f"boxes and labels must list the same images, got {len(boxes)} and {len(labels)}")
    n = len(boxes)
    target = torch.zeros(n, grid_size, grid_size, len(TARGET_FIELDS), dtype=torch.float64)
    if n == 0 or sum(len(b) for b in boxes) == 0:
        return target.to(dtype)
    image = torch.cat([torch.full((len(b),), k, dtype=torch.long) for k, b in enumerate(boxes)])
    box = torch.cat([b.reshape(-1, 4) for b in boxes]).double().cpu()
    label = torch.cat([lab.reshape(-1) for lab in labels]).double().cpu()
    if len(label) != len(box):
        raise ValueError("each image needs exactly one label per box")
    w, h = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    if bool((w <= 0).any() | (h <= 0).any()):
        raise ValueError("every box needs a positive width and height (x2 > x1, y2 > y1)")
    cx, cy = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
    j = torch.floor(cx / stride).long().clamp(0, grid_size - 1)
    i = torch.floor(cy / stride).long().clamp(0, grid_size - 1)
    cell = (image * grid_size + i) * grid_size + j
    # one box per cell: sort by area, then (stably) by cell, and keep the last box of every cell
    by_area = torch.sort(w * h, stable=True).indices
    order = by_area[torch.sort(cell[by_area], stable=True).indices]
    last = torch.ones(len(order), dtype=torch.bool)
    last[:-1] = cell[order][1:] != cell[order][:-1]
    keep = order[last]
    fields = torch.stack(
        [
            torch.ones(len(box), dtype=torch.float64),
            cx / stride - j,
            cy / stride - i,
            torch.log(w / anchor),
            torch.log(h / anchor),
            label,
        ],
        -1,
    )  # (K, 6)
    target.view(-1, len(TARGET_FIELDS))[cell[keep]] = fields[keep]
    return target.to(dtype)


def cell_boxes(xy: Tensor, log_wh: Tensor, *, stride: float, anchor: float) -> Tensor:
    """(N, S, S, 4) boxes ``(x1, y1, x2, y2)`` from per-cell centre offsets (N, S, S, 2) in [0, 1] and log sizes.

    Cell (i, j)'s box has centre ((j + x) s, (i + y) s) and size a exp(t_w), a exp(t_h).
    """
    grid_y, grid_x = xy.shape[1], xy.shape[2]
    cols = torch.arange(grid_x, dtype=xy.dtype, device=xy.device).view(1, 1, grid_x)
    rows = torch.arange(grid_y, dtype=xy.dtype, device=xy.device).view(1, grid_y, 1)
    cx = (cols + xy[..., 0]) * stride
    cy = (rows + xy[..., 1]) * stride
    w, h = anchor * torch.exp(log_wh[..., 0]), anchor * torch.exp(log_wh[..., 1])
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def decode_grid_targets(target: Tensor, *, stride: float, anchor: float) -> list[dict[str, Tensor]]:
    """Invert :func:`encode_grid_targets`: per image ``{"boxes": (K, 4), "labels": (K,)}``, cells in row-major
    order."""
    boxes = cell_boxes(target[..., 1:3], target[..., 3:5], stride=stride, anchor=anchor)
    present = target[..., 0] > 0.5
    return [
        {"boxes": boxes[n][present[n]], "labels": target[n, ..., 5][present[n]].round().long()}
        for n in range(len(target))
    ]


class GridDetector(nn.Module):
    """YOLO-style single-stage detector on an S x S grid (see the module docstring).

    Args:
        cfg: the hyperparameters.
        generator: source of the initial weights (He normal, zero biases); with a generator, building never
            touches torch's global RNG.

    Shapes:
        input (N, in_channels, image_size, image_size) -> (N, S, S, 5 + C): per cell the objectness logit,
        (t_x, t_y, t_w, t_h) and the class logits.
    """

    def __init__(
        self, cfg: GridDetectorConfig | None = None, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        cfg = cfg if cfg is not None else GridDetectorConfig()
        self.cfg = cfg
        bn = cfg.batch_norm
        stages = []
        previous = cfg.in_channels
        for level, width in enumerate(cfg.widths):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if level else []
            layers += [
                _conv_bn_relu(previous, width, batch_norm=bn, generator=generator),
                _conv_bn_relu(width, width, batch_norm=bn, generator=generator),
            ]
            stages.append(nn.Sequential(*layers))
            previous = width
        self.backbone = nn.Sequential(*stages)
        self.head = _conv2d(previous, 5 + cfg.num_classes, 1, bias=True, generator=generator)
        with torch.no_grad():
            # start with a low objectness everywhere (most cells are empty), as detectors usually do
            assert self.head.bias is not None
            self.head.bias[0] = -math.log(cfg.grid_size**2)

    def forward(self, x: Tensor) -> Tensor:
        size = self.cfg.image_size
        if x.dim() != 4 or x.shape[1:] != (self.cfg.in_channels, size, size):
            raise ValueError(
                f"GridDetector expects (N, {self.cfg.in_channels}, {size}, {size}) images, got {tuple(x.shape)}"
            )
        out = self.head(self.backbone(x))  # (N, 5 + C, S, S)
        return out.permute(0, 2, 3, 1)  # (N, S, S, 5 + C)

    # -- targets ------------------------------------------------------------------------------------------------
    def encode_targets(
        self, boxes: Sequence[Tensor], labels: Sequence[Tensor], dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """(N, S, S, 6) training targets for this detector's grid (:func:`encode_grid_targets`)."""
        cfg = self.cfg
        return encode_grid_targets(
            boxes, labels, grid_size=cfg.grid_size, stride=cfg.stride, anchor=cfg.anchor, dtype=dtype
        )

    def decode_targets(self, target: Tensor) -> list[dict[str, Tensor]]:
        """The boxes and labels an encoded target holds (:func:`decode_grid_targets`)."""
        return decode_grid_targets(target, stride=self.cfg.stride, anchor=self.cfg.anchor)

    # -- loss -----------------------------------------------------------------------------------------------------
    def loss_terms(self, output: Tensor, target: Tensor) -> dict[str, Tensor]:
        """The three loss terms, each summed over cells and averaged over images.

        - ``objectness``: binary cross-entropy of σ(o) against 0/1, weighted λ_noobj on empty cells;
        - ``box``: λ_coord Σ over responsible cells of (σ(t_x) − x)² + (σ(t_y) − y)² + (t_w − log w/a)²
          + (t_h − log h/a)²;
        - ``class``: Σ over responsible cells of the cross-entropy of the class logits.
        """
        cfg = self.cfg
        n = output.shape[0]
        obj = target[..., 0]
        responsible = obj > 0.5
        weight = torch.where(responsible, 1.0, cfg.lambda_noobj).to(output.dtype)
        objectness = nn.functional.binary_cross_entropy_with_logits(
            output[..., 0], obj.to(output.dtype), weight=weight, reduction="sum"
        )
        pred, true = output[responsible], target[responsible]  # (K, 5 + C), (K, 6)
        box = cfg.lambda_coord * (
            (torch.sigmoid(pred[:, 1:3]) - true[:, 1:3]).square().sum()
            + (pred[:, 3:5] - true[:, 3:5]).square().sum()
        )
        classes = nn.functional.cross_entropy(pred[:, 5:], true[:, 5].round().long() - 1, reduction="sum")
        return {"objectness": objectness / n, "box": box / n, "class": classes / n}

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Total training loss (the sum of :meth:`loss_terms`); ``loss_fn`` for ``udl.train.fit``."""
        terms = self.loss_terms(output, target)
        return terms["objectness"] + terms["box"] + terms["class"]

    # -- detection ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def detect(
        self,
        output: Tensor,
        *,
        score_threshold: float = 0.05,
        iou_threshold: float = 0.5,
        max_detections: int = 100,
    ) -> list[dict[str, Tensor]]:
        """Boxes, scores and labels per image from the network's ``output`` (N, S, S, 5 + C).

        Score = σ(o) · max_c softmax(class logits)_c; boxes (clipped to the image) scoring at least
        ``score_threshold`` go through per-class non-maximum suppression at ``iou_threshold``; at most
        ``max_detections`` of the best remain, in decreasing score.
        """
        cfg = self.cfg
        boxes = cell_boxes(
            torch.sigmoid(output[..., 1:3]), output[..., 3:5], stride=cfg.stride, anchor=cfg.anchor
        ).clamp(0, cfg.image_size)
        probability, label = torch.softmax(output[..., 5:], -1).max(-1)
        scores = torch.sigmoid(output[..., 0]) * probability  # (N, S, S)
        detections = []
        for n in range(len(output)):
            keep = scores[n] >= score_threshold
            b, s, c = boxes[n][keep], scores[n][keep], label[n][keep] + 1
            kept = batched_nms(b, s, c, iou_threshold)[:max_detections]
            detections.append({"boxes": b[kept], "scores": s[kept], "labels": c[kept]})
        return detections
