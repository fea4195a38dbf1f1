"""udl.losses.check_class_labels: the one label check of the classification losses and calibration metrics."""

from __future__ import annotations

import pytest
import torch

from udl.losses import check_class_labels, smoothed_cross_entropy
from udl.metrics import expected_calibration_error


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8])
def test_integer_labels_in_range_pass(dtype: torch.dtype) -> None:
    check_class_labels(torch.tensor([0, 2, 1], dtype=dtype), 3)
    check_class_labels(torch.empty(0, dtype=dtype), 3)  # nothing to check


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (torch.tensor([0.0, 1.0]), "integer tensor"),
        (torch.tensor([True, False]), "integer tensor"),
        (torch.tensor([0, 3]), r"0\.\.2, got 0\.\.3"),
        (torch.tensor([-1, 1]), r"0\.\.2, got -1\.\.1"),
    ],
)
def test_bad_labels_raise(labels: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_class_labels(labels, 3)


def test_the_loss_and_the_metric_use_it() -> None:
    logits, probs, y = torch.zeros(2, 3), torch.full((2, 3), 1 / 3), torch.tensor([0, 3])
    for call in (
        lambda: smoothed_cross_entropy(logits, y, 0.1),
        lambda: expected_calibration_error(probs, y),
    ):
        with pytest.raises(ValueError, match=r"0\.\.2, got 0\.\.3"):
            call()
