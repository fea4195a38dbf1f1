r"""Label smoothing (UDL section 9.3.4): the smoothed targets and the cross-entropy against them.

Instead of the one-hot target of the multiclass cross-entropy (UDL eq. 5.24), which drives the logits of the
true class to +∞, assume a proportion of the labels are wrong and minimise the cross-entropy against the smoothed
target distribution: :func:`label_smoothing_targets` and :func:`smoothed_cross_entropy`.

Conventions. The book spreads a mass ρ over the K − 1 *other* classes: the target is
:math:`q_y = 1-\rho`, :math:`q_k = \rho/(K-1)` for k ≠ y. torch (``F.cross_entropy(label_smoothing=ε)``) and
Szegedy et al. (2016) mix the one-hot target with the uniform distribution over *all* K classes:
:math:`q = (1-\varepsilon)\,\mathbf{e}_y + \varepsilon/K`. The two are the same family:
:math:`\rho = \varepsilon (K-1)/K`. The functions here take torch's ε (argument ``smoothing``), so that they can be
swapped for torch's; pass ``smoothing = ρ K / (K-1)`` for the book's ρ.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from udl.losses._common import Reduction, check_class_labels, reduce

__all__ = ["label_smoothing_targets", "smoothed_cross_entropy"]


def _check_smoothing(smoothing: float) -> None:
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")


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
    check_class_labels(y, num_classes)
    one_hot = nn.functional.one_hot(y.long(), num_classes).to(dtype)  # (..., K)
    return (1.0 - smoothing) * one_hot + smoothing / num_classes


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
    check_class_labels(y, logits.shape[-1])
    log_p = torch.log_softmax(logits, dim=-1)  # (..., K)
    nll = -log_p.gather(-1, y.long().unsqueeze(-1)).squeeze(-1)  # (...) −log p_y
    uniform = -log_p.mean(dim=-1)  # (...) −(1/K) Σ_k log p_k
    return reduce((1.0 - smoothing) * nll + smoothing * uniform, reduction)
