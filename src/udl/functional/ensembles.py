r"""Ensembling (UDL section 9.3.2): train several models and combine their predictions.

Members are made different by their random initializations and, in *bagging* (bootstrap aggregating), by
training each on a bootstrap sample of the data: N examples drawn from the N with replacement
(:func:`bootstrap_indices`). The book combines the members' outputs by

- the mean of the outputs (regression) or of the pre-softmax activations (classification): :func:`ensemble_mean`;
- for robustness, the median of the outputs (regression, :func:`ensemble_median`) or the most frequent predicted
  class (classification, :func:`majority_vote`).

:func:`mean_probabilities` averages the members' softmax outputs instead, the usual choice for deep ensembles.
All functions take the members along ``dim`` (default 0).
"""

from __future__ import annotations

from typing import TypeVar, cast

import torch
from torch import Tensor

_Tensors = TypeVar("_Tensors", bound=tuple[Tensor, ...])

CLASSIFIER_COMBINATIONS = ("mean_logits", "mean_probabilities", "majority_vote")
"""the ways :func:`combined_labels` combines classifiers (UDL 9.3.2, and the deep-ensemble mean of probabilities)"""

__all__ = [
    "CLASSIFIER_COMBINATIONS",
    "bootstrap_indices",
    "bootstrap_samples",
    "combined_labels",
    "ensemble_mean",
    "ensemble_median",
    "majority_vote",
    "mean_probabilities",
]


def bootstrap_indices(
    n: int,
    members: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Bootstrap samples of a data set of size n: ``members`` rows of n indices drawn uniformly with replacement.

    Each index of a row is an independent uniform draw from {0, ..., n−1}, so an example appears k times with
    probability Binomial(n, 1/n) and about (1 − 1/n)^n ≈ 37% of the examples are missing from each sample.
    The same generator state gives the same samples.

    Args:
        n: data set size (>= 1).
        members: number of samples (>= 1).
        generator: source of randomness (a CPU generator; ``None`` uses torch's global one).
        device: where to put the result (the draw happens on the CPU).

    Returns:
        (members, n) int64; ``x[idx]`` is then (members, n, ...) per-member data.

    Example:
        >>> idx = bootstrap_indices(5, 2, generator=torch.Generator().manual_seed(0))
        >>> idx.shape
        torch.Size([2, 5])
    """
    if n < 1 or members < 1:
        raise ValueError(f"n and members must be >= 1, got n={n}, members={members}")
    return torch.randint(0, n, (members, n), generator=generator).to(device)


def bootstrap_samples(
    tensors: _Tensors,
    members: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> _Tensors:
    """``members`` bootstrap samples of a data set given as equally long ``tensors`` (e.g. ``(x, y)``): each
    tensor indexed by one :func:`bootstrap_indices` draw, (members, n, ...), the rows the same for every tensor."""
    if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
        raise ValueError("need at least one tensor, all of the same length")
    idx = bootstrap_indices(len(tensors[0]), members, generator=generator, device=device)
    return cast(_Tensors, tuple(t[idx] for t in tensors))


def ensemble_mean(outputs: Tensor, dim: int = 0) -> Tensor:
    """The mean of the members' outputs (regression) or pre-softmax activations (classification), UDL 9.3.2."""
    return outputs.mean(dim=dim)


def ensemble_median(outputs: Tensor, dim: int = 0) -> Tensor:
    """The median of the members' outputs, elementwise (UDL 9.3.2: a robust alternative to the mean).

    For an even number of members this is the mean of the two middle values, as ``numpy.median`` (unlike
    ``torch.median``, which returns the lower one).
    """
    m = outputs.shape[dim]
    if m < 1:
        raise ValueError("need at least one member")
    ordered = outputs.sort(dim=dim).values
    upper = ordered.select(dim, m // 2)
    if m % 2:
        return upper
    return (ordered.select(dim, m // 2 - 1) + upper) / 2


def mean_probabilities(logits: Tensor, dim: int = 0) -> Tensor:
    """The average of the members' class probabilities softmax(logits) (classes on the last axis)."""
    return torch.softmax(logits, dim=-1).mean(dim=dim)


def majority_vote(labels: Tensor, num_classes: int | None = None, dim: int = 0) -> Tensor:
    """The most frequent predicted class among the members (UDL 9.3.2); ties go to the smallest class index.

    Args:
        labels: integer class predictions, members along ``dim`` (e.g. ``logits.argmax(-1)``).
        num_classes: number of classes (default: ``labels.max() + 1``).
        dim: the members' axis.

    Returns:
        ``labels`` with ``dim`` removed.
    """
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    c = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise ValueError(f"labels must lie in [0, {c}), got [{int(labels.min())}, {int(labels.max())}]")
    counts = torch.nn.functional.one_hot(labels.movedim(dim, 0), c).sum(dim=0)  # (..., C)
    return counts.argmax(dim=-1)  # the first of equal maxima: the smallest class


def combined_labels(logits: Tensor, how: str, dim: int = 0) -> Tensor:
    """The ensemble's predicted classes from the members' logits (members along ``dim``, classes last).

    ``how`` is one of :data:`CLASSIFIER_COMBINATIONS`: ``"mean_logits"`` (the argmax of :func:`ensemble_mean`),
    ``"mean_probabilities"`` (of :func:`mean_probabilities`) or ``"majority_vote"`` (:func:`majority_vote` of
    the members' argmax). Returns ``logits`` without ``dim`` and the class axis.
    """
    members = dim % logits.dim()
    if members == logits.dim() - 1:
        raise ValueError("the members' axis cannot be the class axis (the last)")
    if how == "mean_logits":
        return ensemble_mean(logits, dim=dim).argmax(-1)
    if how == "mean_probabilities":
        return mean_probabilities(logits, dim=dim).argmax(-1)
    if how == "majority_vote":
        return majority_vote(logits.argmax(-1), logits.shape[-1], dim=dim if dim >= 0 else dim + 1)
    raise ValueError(f"how must be one of {CLASSIFIER_COMBINATIONS}, got {how!r}")
