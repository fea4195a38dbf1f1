r"""The linear probe: a linear classifier fitted on frozen features (UDL section 9.3.8).

The usual way to judge a self-supervised (or transferred) representation is to freeze the features and fit only
a linear classifier on labelled data; its test accuracy is the score of the representation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["ProbeResult", "linear_probe"]


@dataclass(frozen=True)
class ProbeResult:
    """A fitted linear probe: accuracies and the classifier on standardized features."""

    train_accuracy: float
    """fraction of the training examples classified correctly"""
    test_accuracy: float
    """fraction of the test examples classified correctly"""
    weight: Tensor
    """(C, D) float64 weights acting on standardized features"""
    bias: Tensor
    """(C,) float64 biases"""
    mean: Tensor
    """(D,) training-feature means used for standardization"""
    scale: Tensor
    """(D,) training-feature standard deviations used for standardization (1 for constant features)"""

    def logits(self, features: Tensor) -> Tensor:
        """(N, C) float64 class scores of raw (unstandardized) ``features`` (N, D)."""
        return ((features.double() - self.mean) / self.scale) @ self.weight.T + self.bias


def linear_probe(
    features_train: Tensor,
    y_train: Tensor,
    features_test: Tensor,
    y_test: Tensor,
    *,
    num_classes: int | None = None,
    method: Literal["logistic", "ridge"] = "logistic",
    l2: float = 1e-3,
    max_iter: int = 500,
) -> ProbeResult:
    r"""Fit a linear classifier on frozen features and report its accuracy (the standard probe of 9.3.8).

    Features are standardized with the training means and standard deviations, then, in float64:

    - ``"logistic"``: multinomial logistic regression, minimizing
      :math:`\frac1N\sum_i -\log\mathrm{softmax}[\mathbf{W}\mathbf{x}_i + \mathbf{b}]_{y_i} + \frac{\lambda}{2}
      \|\mathbf{W}\|_F^2` (the multiclass cross-entropy of UDL section 5.5 plus L2; the bias is not
      penalized) with full-batch L-BFGS (strong-Wolfe line search, at most ``max_iter`` iterations). The
      objective is strictly convex for :math:`\lambda > 0`, so the fit is unique and deterministic.
    - ``"ridge"``: least squares on one-hot targets with penalty :math:`\lambda\|\mathbf{W}\|_F^2` on the mean
      squared error, solved in closed form, :math:`\mathbf{W}^T = (\tilde{\mathbf{X}}^T\tilde{\mathbf{X}}/N +
      \lambda\mathbf{I})^{-1}\tilde{\mathbf{X}}^T\tilde{\mathbf{Y}}/N` on centred data (the least-squares normal
      equations with a ridge term, UDL section 9.1); the class is the arg max of the fitted scores.

    Args:
        features_train: (N, D) training features.
        y_train: (N,) int class labels.
        features_test: (M, D) test features.
        y_test: (M,) int class labels.
        num_classes: C; default ``max(y) + 1`` over both label sets.
        method: ``"logistic"`` or ``"ridge"``.
        l2: :math:`\lambda \ge 0` (``"logistic"`` with 0 may not converge on separable data).
        max_iter: L-BFGS iterations (``"logistic"`` only).

    Returns:
        A :class:`ProbeResult`.

    Raises:
        ValueError: bad shapes, an unknown method, a negative ``l2`` or ``max_iter < 1``.
    """
    if (
        features_train.ndim != 2
        or features_test.ndim != 2
        or features_train.shape[1] != features_test.shape[1]
    ):
        raise ValueError(
            f"features must be (N, D) and (M, D), got {tuple(features_train.shape)} and {tuple(features_test.shape)}"
        )
    if y_train.shape != (len(features_train),) or y_test.shape != (len(features_test),):
        raise ValueError("y_train and y_test must be (N,) and (M,), one label per feature row")
    if method not in ("logistic", "ridge"):
        raise ValueError(f"method must be 'logistic' or 'ridge', got {method!r}")
    if l2 < 0 or max_iter < 1:
        raise ValueError(f"need l2 >= 0 and max_iter >= 1, got l2={l2}, max_iter={max_iter}")
    if num_classes is None:
        num_classes = int(max(int(y_train.max()), int(y_test.max()) if len(y_test) else 0)) + 1

    x = features_train.detach().double()
    y = y_train.to(x.device)
    mean = x.mean(0)
    scale = x.std(0, correction=0)
    scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))  # constant (e.g. dead ReLU) features
    x = (x - mean) / scale
    n, d = x.shape

    if method == "ridge":
        targets = F.one_hot(y, num_classes).double()  # (N, C)
        x_bar, t_bar = x.mean(0), targets.mean(0)  # zero by standardization / class frequencies
        xc, tc = x - x_bar, targets - t_bar
        gram = xc.T @ xc / n + l2 * torch.eye(d, dtype=x.dtype, device=x.device)  # (D, D)
        weight = torch.linalg.solve(gram, xc.T @ tc / n).T  # (C, D)
        bias = t_bar - weight @ x_bar
    else:
        weight = torch.zeros(num_classes, d, dtype=x.dtype, device=x.device, requires_grad=True)
        bias = torch.zeros(num_classes, dtype=x.dtype, device=x.device, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [weight, bias],
            lr=1.0,
            max_iter=max_iter,
            tolerance_grad=1e-10,
            tolerance_change=1e-14,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ weight.T + bias, y) + 0.5 * l2 * weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(closure)
        weight, bias = weight.detach(), bias.detach()

    result = ProbeResult(0.0, 0.0, weight, bias, mean, scale)
    train_accuracy = _accuracy(result.logits(features_train), y_train)
    test_accuracy = _accuracy(result.logits(features_test), y_test)
    return ProbeResult(train_accuracy, test_accuracy, weight, bias, mean, scale)


def _accuracy(logits: Tensor, y: Tensor) -> float:
    if len(y) == 0:
        return float("nan")
    return float((logits.argmax(1) == y.to(logits.device)).double().mean())
