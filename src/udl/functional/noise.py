r"""Applying noise (UDL section 9.3.4): label smoothing, input noise, weight noise, and calibration.

Section 9.3.4 lists three places to add noise during training:

- **the inputs** — training on :math:`\mathbf{x} + \boldsymbol\epsilon`, :math:`\boldsymbol\epsilon \sim
  \mathcal{N}(\mathbf{0}, \sigma^2\mathbf{I})`, smooths the learned function (UDL fig. 9.10); see
  :func:`add_input_noise`;
- **the weights** — evaluating the loss at :math:`\boldsymbol\phi + \boldsymbol\epsilon` pushes training towards
  wide, flat minima where small weight changes do not matter; see :func:`forward_with_weight_noise`;
- **the labels** — *label smoothing*: instead of the one-hot target of the multiclass cross-entropy (UDL eq.
  5.24), which drives the logits of the true class to +∞, assume a proportion of the labels are wrong and
  minimise the cross-entropy against the smoothed target distribution; see :func:`label_smoothing_targets` and
  :func:`smoothed_cross_entropy`.

Label smoothing conventions. The book spreads a mass ρ over the K − 1 *other* classes: the target is
:math:`q_y = 1-\rho`, :math:`q_k = \rho/(K-1)` for k ≠ y. torch (``F.cross_entropy(label_smoothing=ε)``) and
Szegedy et al. (2016) mix the one-hot target with the uniform distribution over *all* K classes:
:math:`q = (1-\varepsilon)\,\mathbf{e}_y + \varepsilon/K`. The two are the same family:
:math:`\rho = \varepsilon (K-1)/K`. The functions here take torch's ε (argument ``smoothing``), so that they can be
swapped for torch's; pass ``smoothing = ρ K / (K-1)`` for the book's ρ.

Overconfidence is measured by the *expected calibration error* (Guo et al., 2017):
:func:`expected_calibration_error` and :func:`reliability_bins` (the data of a reliability diagram).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = [
    "ReliabilityBins",
    "add_input_noise",
    "expected_calibration_error",
    "forward_with_weight_noise",
    "label_smoothing_targets",
    "perturbed_parameters",
    "reliability_bins",
    "smoothed_cross_entropy",
]

Reduction = Literal["mean", "sum", "none"]


def _check_smoothing(smoothing: float) -> None:
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")


def _check_labels(y: Tensor, num_classes: int) -> None:
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"labels must be an integer tensor of class indices, got dtype {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}")


def label_smoothing_targets(
    y: Tensor, num_classes: int, smoothing: float, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""The smoothed target distribution :math:`q = (1-\varepsilon)\,\mathbf{e}_y + \varepsilon/K` (section 9.3.4).

    The true class gets :math:`1 - \varepsilon + \varepsilon/K`, every other class :math:`\varepsilon/K`; with the
    book's ρ (mass spread over the other classes only) use ``smoothing = ρ K/(K-1)``, which gives
    :math:`q_y = 1-\rho`, :math:`q_{k\ne y} = \rho/(K-1)`. ``smoothing=0`` is the one-hot target.

    Args:
        y: (...) integer class indices in 0..K−1.
        num_classes: K >= 1.
        smoothing: ε in [0, 1].
        dtype: floating dtype of the result.

    Returns:
        (..., K) rows that sum to 1.

    Raises:
        ValueError: ε outside [0, 1], K < 1, non-integer labels or labels outside 0..K−1.
    """
    _check_smoothing(smoothing)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    _check_labels(y, num_classes)
    one_hot = nn.functional.one_hot(y.long(), num_classes).to(dtype)  # (..., K)
    return (1.0 - smoothing) * one_hot + smoothing / num_classes


def _reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"unknown reduction {reduction!r}; valid: mean, sum, none")


def smoothed_cross_entropy(
    logits: Tensor, y: Tensor, smoothing: float = 0.0, reduction: Reduction = "mean"
) -> Tensor:
    r"""Cross-entropy against the label-smoothed targets (section 9.3.4), written out from the formula.

    With :math:`\log p_k = \log\mathrm{softmax}_k[\mathbf{f}]` and
    :math:`q = (1-\varepsilon)\mathbf{e}_y + \varepsilon/K` (:func:`label_smoothing_targets`),

    .. math::
        L = -\sum_{k=1}^{K} q_k \log p_k
          = (1-\varepsilon)\,\bigl(-\log p_y\bigr) + \varepsilon\,\frac{1}{K}\sum_{k=1}^{K}\bigl(-\log p_k\bigr),

    i.e. the multiclass cross-entropy (UDL eq. 5.24) mixed with the cross-entropy against the uniform
    distribution. The second form is what is computed (no K-dimensional target is built). For 2-D logits it
    equals ``torch.nn.functional.cross_entropy(logits, y, label_smoothing=smoothing, reduction=reduction)``.

    Args:
        logits: (..., K) unnormalised scores f (class dimension last; for (N, K) this is torch's layout).
        y: (...) integer class indices.
        smoothing: ε in [0, 1] (torch's convention; the book's ρ is ε (K−1)/K).
        reduction: ``"mean"`` over examples, ``"sum"`` or ``"none"`` (shape (...)).

    Raises:
        ValueError: ε outside [0, 1], mismatched shapes, bad labels or an unknown reduction.
    """
    _check_smoothing(smoothing)
    if logits.shape[:-1] != y.shape:
        raise ValueError(
            f"logits (..., K) and labels (...) disagree: {tuple(logits.shape)} vs {tuple(y.shape)}"
        )
    _check_labels(y, logits.shape[-1])
    log_p = torch.log_softmax(logits, dim=-1)  # (..., K)
    nll = -log_p.gather(-1, y.long().unsqueeze(-1)).squeeze(-1)  # (...) −log p_y
    uniform = -log_p.mean(dim=-1)  # (...) −(1/K) Σ_k log p_k
    return _reduce((1.0 - smoothing) * nll + smoothing * uniform, reduction)


def _gaussian_like(t: Tensor, std: float, generator: torch.Generator | None) -> Tensor:
    """std · N(0, 1) of t's shape and dtype, drawn on the generator's device and moved to t's."""
    device = generator.device if generator is not None else t.device
    return std * torch.randn(t.shape, generator=generator, dtype=t.dtype, device=device).to(t.device)


def add_input_noise(x: Tensor, std: float, *, generator: torch.Generator | None = None) -> Tensor:
    r""":math:`\mathbf{x} + \boldsymbol\epsilon`, :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0},
    \sigma^2\mathbf{I})` with σ = ``std`` (section 9.3.4, fig. 9.10: input noise smooths the learned function).

    A fresh draw per call (per mini-batch in training). ``std=0`` returns ``x`` unchanged (no draw is made).

    Args:
        x: any floating tensor.
        std: σ >= 0.
        generator: source of the noise (``None``: torch's global generator); the draw is made on the
            generator's device and moved to ``x``'s, so a CPU generator gives the same noise on any device.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if std == 0:
        return x
    return x + _gaussian_like(x, std, generator)


def _noisy_parameters(model: nn.Module, std: float, generator: torch.Generator | None) -> dict[str, Tensor]:
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return {
        name: p + _gaussian_like(p, std, generator) if std > 0 else p for name, p in model.named_parameters()
    }


def forward_with_weight_noise(
    model: nn.Module, x: Tensor, std: float, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""One forward pass of ``model`` with every parameter perturbed: :math:`\mathbf{f}[\mathbf{x},
    \boldsymbol\phi + \boldsymbol\epsilon]`, :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0},
    \sigma^2\mathbf{I})` (section 9.3.4: weight noise favours wide, flat minima).

    The model's parameters are not modified: the perturbed values are passed through
    ``torch.func.functional_call``. Since :math:`\partial(\boldsymbol\phi + \boldsymbol\epsilon)/\partial
    \boldsymbol\phi = \mathbf{I}`, back-propagating a loss of the output gives the gradient evaluated at the
    perturbed weights, accumulated into the clean parameters' ``.grad`` — one step of SGD on
    :math:`\mathbb{E}_{\boldsymbol\epsilon}[L(\boldsymbol\phi + \boldsymbol\epsilon)]`. Every parameter (weights
    and biases) gets an independent draw, in ``named_parameters()`` order; buffers are untouched.

    Args:
        model: any module.
        x: its input.
        std: σ >= 0 (0 is a plain forward pass).
        generator: source of the noise (``None``: torch's global generator), used on its own device.
    """
    return functional_call(model, _noisy_parameters(model, std, generator), (x,))


@contextlib.contextmanager
def perturbed_parameters(
    model: nn.Module, std: float, *, generator: torch.Generator | None = None
) -> Iterator[nn.Module]:
    r"""Within the block, ``model``'s parameters hold :math:`\boldsymbol\phi + \boldsymbol\epsilon`; on exit the
    exact original values are copied back (not re-computed by subtraction, so nothing drifts).

    Use it to evaluate a trained model at randomly perturbed weights (e.g. how flat its minimum is). For
    training with weight noise prefer :func:`forward_with_weight_noise`, whose gradients reach the clean
    parameters without an in-place update.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    params = list(model.parameters())
    saved = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for p in params:
                p.add_(_gaussian_like(p, std, generator))
        yield model
    finally:
        with torch.no_grad():
            for p, original in zip(params, saved, strict=True):
                p.copy_(original)


class ReliabilityBins(NamedTuple):
    """Per-bin statistics of a reliability diagram (equal-width confidence bins (b/B, (b+1)/B])."""

    edges: Tensor
    """(B + 1,) bin edges 0, 1/B, ..., 1"""
    counts: Tensor
    """(B,) number of examples whose confidence falls in the bin"""
    confidence: Tensor
    """(B,) mean confidence (max probability) of the bin's examples; 0 for empty bins"""
    accuracy: Tensor
    """(B,) fraction of the bin's examples predicted correctly; 0 for empty bins"""


def reliability_bins(probs: Tensor, y: Tensor, n_bins: int = 15) -> ReliabilityBins:
    r"""Bin examples by confidence :math:`\hat p_i = \max_k p_{ik}` into B equal-width bins
    :math:`(b/B, (b+1)/B]` and return each bin's count, mean confidence and accuracy (of
    :math:`\hat y_i = \arg\max_k p_{ik}`).

    Args:
        probs: (N, K) predicted class probabilities (rows are not re-normalised).
        y: (N,) integer labels.
        n_bins: B >= 1.

    Raises:
        ValueError: bad shapes, B < 1, or probabilities outside [0, 1].
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if probs.dim() != 2 or y.shape != probs.shape[:1]:
        raise ValueError(f"need probs (N, K) and labels (N,), got {tuple(probs.shape)} and {tuple(y.shape)}")
    if probs.numel() and (float(probs.min()) < 0 or float(probs.max()) > 1):
        raise ValueError("probabilities must lie in [0, 1]")
    _check_labels(y, probs.shape[1])
    confidence, predicted = probs.max(dim=1)  # (N,), (N,)
    correct = (predicted == y).to(probs.dtype)
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=probs.dtype, device=probs.device)
    # bucketize(right=False) returns b with edges[b-1] < v <= edges[b]: bin b-1 covers (edges[b-1], edges[b]].
    which = (torch.bucketize(confidence, edges[1:-1], right=False)).clamp_(0, n_bins - 1)  # (N,)
    counts = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(
        0, which, torch.ones_like(confidence)
    )
    conf_sum = torch.zeros_like(counts).index_add_(0, which, confidence)
    acc_sum = torch.zeros_like(counts).index_add_(0, which, correct)
    safe = counts.clamp(min=1)
    return ReliabilityBins(edges, counts, conf_sum / safe, acc_sum / safe)


def expected_calibration_error(probs: Tensor, y: Tensor, n_bins: int = 15) -> Tensor:
    r"""Expected calibration error (Guo et al., 2017) with B equal-width confidence bins:

    .. math:: \mathrm{ECE} = \sum_{b=1}^{B} \frac{|\mathcal{B}_b|}{N}\,
              \bigl|\mathrm{acc}(\mathcal{B}_b) - \mathrm{conf}(\mathcal{B}_b)\bigr|,

    where :math:`\mathcal{B}_b` holds the examples whose confidence :math:`\max_k p_{ik}` lies in
    :math:`((b-1)/B, b/B]`. 0 for a perfectly calibrated model; an overconfident model (confidence above
    accuracy) has a large ECE. Returns a 0-dim tensor in ``probs``' dtype (0 for N = 0).
    """
    bins = reliability_bins(probs, y, n_bins)
    n = max(len(y), 1)
    return (bins.counts * (bins.accuracy - bins.confidence).abs()).sum() / n
