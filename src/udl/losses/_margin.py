r"""Margin losses for binary classification with targets :math:`y \in \{-1, +1\}` (UDL ch. 5 notes).

These are not negative log-likelihoods: no distribution over :math:`y` is normalized by them, so ``exp(-loss)``
is not a probability. They are functions of the margin :math:`y\,f` alone, like the binary cross-entropy
:math:`\log(1 + e^{-y f})` of UDL section 5.4 written for :math:`\pm1` labels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from udl.losses._common import Reduction, check_reduction, check_values_in, reduce

__all__ = ["exponential_loss", "hinge_loss"]

_SIGN_HINT = " (labels y in {0, 1} become ±1 as 2*y - 1)"


def hinge_loss(score: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Hinge loss of support vector machines (UDL ch. 5 notes). Not a likelihood.

    .. math:: L[f, y] = \max\bigl(0,\, 1 - y\,f\bigr), \qquad y \in \{-1, +1\}

    It is zero once the example is on the right side of the decision boundary with margin :math:`y f \ge 1`, and
    grows linearly otherwise. It corresponds to no probability model: there is no density for which it is the
    negative log-likelihood, and the score :math:`f` has no probabilistic meaning. At the kink :math:`y f = 1`
    the gradient is that of ``torch.clamp``.

    Args:
        score: real-valued classifier output :math:`f`, any shape broadcastable with ``target``.
        target: labels :math:`y \in \{-1, +1\}` (float or integer).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the elementwise losses with the broadcast shape.

    Raises:
        ValueError: if a target is not -1 or +1, or ``reduction`` is unknown.
    """
    return _margin_loss(lambda margin: torch.clamp(1.0 - margin, min=0.0), score, target, reduction)


def exponential_loss(score: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Exponential loss of AdaBoost (UDL ch. 5 notes). Not a likelihood.

    .. math:: L[f, y] = \exp\bigl[-y\,f\bigr], \qquad y \in \{-1, +1\}

    Its population minimizer is half the log-odds, :math:`f = \frac{1}{2}\log\frac{Pr(y=1)}{Pr(y=-1)}`, yet
    ``exp(-loss)`` is not a probability of anything; it punishes confidently wrong scores exponentially (it
    overflows to ``inf`` for :math:`y f \lesssim -709` in float64), where the binary cross-entropy grows only
    linearly.

    Args, Returns and Raises: as :func:`hinge_loss`.
    """
    return _margin_loss(lambda margin: torch.exp(-margin), score, target, reduction)


def _margin_loss(
    loss: Callable[[Tensor], Tensor], score: Tensor, target: Tensor, reduction: Reduction
) -> Tensor:
    """``loss`` of the margin :math:`y f` per element, reduced, after checking ``target`` and ``reduction``."""
    check_reduction(reduction)
    check_values_in(target, (-1.0, 1.0), "target", hint=_SIGN_HINT)
    return reduce(loss(target * score), reduction)
