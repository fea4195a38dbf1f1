r"""Self-supervised learning losses and the linear probe that evaluates learned features (UDL section 9.3.8).

Section 9.3.8 describes two families of self-supervised pretext tasks on unlabelled data:

- *generative*: part of each example is masked and the network predicts the missing part (inpainting);
  :func:`random_span_mask` draws the masks and :func:`masked_inpainting_loss` scores the prediction on the
  masked positions only.
- *contrastive*: two augmented views of the same example should map to nearby embeddings and views of different
  examples to distant ones. With cosine similarities :math:`s(\mathbf{a},\mathbf{b}) = \mathbf{a}^T\mathbf{b} /
  (\|\mathbf{a}\|\|\mathbf{b}\|)` and a temperature :math:`\tau`:

  * :func:`info_nce` (van den Oord et al., 2018; CLIP's loss when symmetric) scores view 1 of example i against
    view 2 of every example j in the batch, an N-way classification whose correct answer is j = i:

    .. math:: \ell_i = -\log \frac{\exp[s(\mathbf{z}^{(1)}_i, \mathbf{z}^{(2)}_i)/\tau]}
              {\sum_{j=1}^{N} \exp[s(\mathbf{z}^{(1)}_i, \mathbf{z}^{(2)}_j)/\tau]}

    For embeddings that carry no information (all similarities equal) every :math:`\ell_i = \log N`.
  * :func:`nt_xent` (SimCLR, Chen et al., 2020) pools the 2N views; each view's positive is its partner and its
    negatives are the other 2N−2 views (both views of every other example), a (2N−1)-way classification:

    .. math:: \ell_a = -\log \frac{\exp[s(\mathbf{z}_a, \mathbf{z}_{p(a)})/\tau]}
              {\sum_{b \ne a} \exp[s(\mathbf{z}_a, \mathbf{z}_b)/\tau]}, \qquad a = 1..2N

    With equal similarities every :math:`\ell_a = \log(2N-1)`.

  For both, perfectly separated embeddings (each positive pair identical, all other pairs orthogonal) give
  :math:`\log(1 + K e^{-1/\tau})` with K the number of negatives (N−1, resp. 2N−2), which goes to 0 as
  :math:`\tau \to 0`.

The usual way to judge a self-supervised representation is a *linear probe*: freeze the features and fit only a
linear classifier on labelled data (:func:`linear_probe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "ProbeResult",
    "info_nce",
    "linear_probe",
    "masked_inpainting_loss",
    "nt_xent",
    "random_span_mask",
]


def _check_views(z1: Tensor, z2: Tensor, temperature: float) -> None:
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 1:
        raise ValueError(
            f"z1 and z2 must both be (N, D) with N >= 1, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _unit(z: Tensor, normalize: bool) -> Tensor:
    return F.normalize(z, dim=-1) if normalize else z


def info_nce(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.1,
    *,
    symmetric: bool = False,
    normalize: bool = True,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> Tensor:
    r"""InfoNCE: each view-1 embedding must pick out its own view-2 embedding among the N in the batch.

    :math:`\ell_i = -\log \mathrm{softmax}_j[s(\mathbf{z}^{(1)}_i, \mathbf{z}^{(2)}_j)/\tau]_{j=i}` (module
    docstring). ``symmetric=True`` averages this with the same loss with the views swapped (columns of the
    similarity matrix), :math:`\tfrac12(\ell^{1\to2}_i + \ell^{2\to1}_i)`, as CLIP does.

    Args:
        z1: (N, D) embeddings of the first views.
        z2: (N, D) embeddings of the second views; row i is the positive of ``z1[i]``.
        temperature: :math:`\tau > 0`.
        symmetric: average both directions.
        normalize: use cosine similarity (rows scaled to unit length); ``False`` uses plain dot products.
        reduction: ``"mean"`` | ``"sum"`` over the N examples, or ``"none"`` for the (N,) per-example losses.

    Returns:
        The loss (scalar, or (N,) with ``reduction="none"``). Random embeddings give about :math:`\log N`.

    Raises:
        ValueError: mismatched shapes, N = 0, or a non-positive temperature.
    """
    _check_views(z1, z2, temperature)
    logits = _unit(z1, normalize) @ _unit(z2, normalize).T / temperature  # (N, N), row i: anchor z1[i]
    positive = logits.diagonal()  # (N,)
    loss = torch.logsumexp(logits, dim=1) - positive  # -log softmax over row i at j = i
    if symmetric:
        loss = 0.5 * (loss + torch.logsumexp(logits, dim=0) - positive)  # columns: anchor z2[j]
    return _reduce(loss, reduction)


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    *,
    normalize: bool = True,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> Tensor:
    r"""NT-Xent (SimCLR): each of the 2N views must pick out its partner among the other 2N−1 views.

    Views are stacked as :math:`[\mathbf{z}^{(1)}_1..\mathbf{z}^{(1)}_N, \mathbf{z}^{(2)}_1..\mathbf{z}^{(2)}_N]`;
    view a's positive is a ± N; a view is never compared with itself (module docstring).

    Args:
        z1: (N, D) embeddings of the first views.
        z2: (N, D) embeddings of the second views.
        temperature: :math:`\tau > 0`.
        normalize: use cosine similarity (the SimCLR choice); ``False`` uses plain dot products.
        reduction: ``"mean"`` | ``"sum"`` over the 2N views, or ``"none"`` for the (2N,) per-view losses.

    Returns:
        The loss. Random embeddings give about :math:`\log(2N-1)`.

    Raises:
        ValueError: mismatched shapes, N = 0, or a non-positive temperature.
    """
    _check_views(z1, z2, temperature)
    n = z1.shape[0]
    z = _unit(torch.cat([z1, z2]), normalize)  # (2N, D)
    logits = z @ z.T / temperature  # (2N, 2N)
    self_pair = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pair, float("-inf"))  # exclude b = a from the denominator
    partner = torch.arange(2 * n, device=z.device).roll(n)  # a -> a + N (mod 2N)
    loss = torch.logsumexp(logits, dim=1) - logits.gather(1, partner[:, None]).squeeze(1)
    return _reduce(loss, reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def random_span_mask(
    num: int,
    length: int,
    span: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """One contiguous masked block per example, at a uniformly random offset (for 1-D signal inpainting).

    Args:
        num: number of masks N.
        length: signal length L.
        span: masked positions per example, 1 <= span <= L.
        generator: source of the offsets (drawn on the CPU, so a CPU generator works for any ``device``).
        device: where to put the mask.

    Returns:
        Bool (N, L), True on positions ``start_n .. start_n + span - 1`` with ``start_n ~ U{0..L-span}``.
    """
    if num < 0 or length < 1 or not 1 <= span <= length:
        raise ValueError(
            f"need num >= 0 and 1 <= span <= length, got num={num}, length={length}, span={span}"
        )
    start = torch.randint(0, length - span + 1, (num, 1), generator=generator)  # (N, 1)
    position = torch.arange(length)  # (L,)
    mask = (position >= start) & (position < start + span)  # (N, L)
    return mask.to(device) if device is not None else mask


def masked_inpainting_loss(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    r"""Mean squared error on the masked positions only: :math:`\sum m\,(\hat x - x)^2 / \sum m`.

    The visible positions are given to the network, so scoring them would reward copying the input; only the
    hidden ones measure inpainting.

    Args:
        prediction: (..., L) reconstructed signals.
        target: (..., L) original signals.
        mask: bool (..., L), True where the input was hidden (at least one True).

    Returns:
        Scalar loss.
    """
    if prediction.shape != target.shape or mask.shape != target.shape:
        raise ValueError(
            f"prediction, target and mask must have one shape, got {tuple(prediction.shape)}, "
            f"{tuple(target.shape)} and {tuple(mask.shape)}"
        )
    m = mask.to(prediction.dtype)
    count = m.sum()
    if not bool(count > 0):
        raise ValueError("mask hides no position")
    return (m * (prediction - target) ** 2).sum() / count


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
