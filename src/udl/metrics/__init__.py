"""Evaluation metrics: accuracy, and accuracy under an L∞ attack (UDL section 9.3.4)."""

from udl.metrics._robust import accuracy, robust_accuracy

__all__ = ["accuracy", "robust_accuracy"]
