"""Evaluation metrics: accuracy and accuracy under an L∞ attack (section 9.3.4), calibration error (9.3.4),
detection average precision / mAP (10.5.2) and segmentation IoU (10.5.3)."""

from udl.metrics._calibration import ReliabilityBins, expected_calibration_error, reliability_bins
from udl.metrics._detection import average_precision, interpolated_average_precision, mean_average_precision
from udl.metrics._digits_features import (
    DigitsClassifierRecipe,
    DigitsFeatures,
    digits_features,
    frechet_digits_distance,
)
from udl.metrics._generative import (
    ModeCoverage,
    PrecisionRecall,
    TransportPlan,
    clustering_accuracy,
    discrete_wasserstein,
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    mode_coverage,
    precision_recall,
    wasserstein_1d,
    within_class_diversity,
)
from udl.metrics._robust import accuracy, robust_accuracy
from udl.metrics._segmentation import confusion_matrix, iou_from_confusion, mask_iou, mean_iou

__all__ = [
    "DigitsClassifierRecipe",
    "DigitsFeatures",
    "ModeCoverage",
    "PrecisionRecall",
    "ReliabilityBins",
    "TransportPlan",
    "accuracy",
    "average_precision",
    "clustering_accuracy",
    "confusion_matrix",
    "digits_features",
    "discrete_wasserstein",
    "expected_calibration_error",
    "frechet_digits_distance",
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "interpolated_average_precision",
    "iou_from_confusion",
    "mask_iou",
    "mean_average_precision",
    "mean_iou",
    "mode_coverage",
    "precision_recall",
    "reliability_bins",
    "robust_accuracy",
    "wasserstein_1d",
    "within_class_diversity",
]
from udl.metrics._likelihood import bits_per_dim, negative_log_likelihood, uniform_dequantize

__all__ += ["bits_per_dim", "negative_log_likelihood", "uniform_dequantize"]
