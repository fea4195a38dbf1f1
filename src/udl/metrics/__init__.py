"""Evaluation metrics: accuracy and accuracy under an L∞ attack (section 9.3.4), calibration error (9.3.4),
detection average precision / mAP (10.5.2) and segmentation IoU (10.5.3)."""

from udl.metrics._calibration import ReliabilityBins, expected_calibration_error, reliability_bins
from udl.metrics._detection import average_precision, interpolated_average_precision, mean_average_precision
from udl.metrics._robust import accuracy, robust_accuracy
from udl.metrics._segmentation import confusion_matrix, iou_from_confusion, mask_iou, mean_iou

__all__ = [
    "ReliabilityBins",
    "accuracy",
    "average_precision",
    "confusion_matrix",
    "expected_calibration_error",
    "interpolated_average_precision",
    "iou_from_confusion",
    "mask_iou",
    "mean_average_precision",
    "mean_iou",
    "reliability_bins",
    "robust_accuracy",
]
from udl.metrics._likelihood import bits_per_dim, negative_log_likelihood, uniform_dequantize

__all__ += ["bits_per_dim", "negative_log_likelihood", "uniform_dequantize"]
