r"""The Plackett-Luce likelihood of a ranking (the maximum-likelihood recipe of UDL ch. 5 applied to orderings).

The network gives each of n items a score :math:`s_i`; a ranking is drawn by repeatedly picking the next-best
item from those not yet ranked with probability proportional to :math:`e^{s_i}` (a softmax over the remaining
items, UDL eq. 5.22, at every step).
"""

from __future__ import annotations

import torch
from torch import Tensor

from udl.losses._common import Reduction, check_reduction, reduce

__all__ = ["plackett_luce_nll"]


def _reverse_logcumsumexp(x: Tensor) -> Tensor:
    """``out[..., j] = logsumexp(x[..., j:])``: log of the suffix sums, computed stably."""
    return torch.logcumsumexp(x.flip(-1), dim=-1).flip(-1)


def plackett_luce_nll(scores: Tensor, ranking: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Negative log-likelihood of a (full or top-k) ranking under the Plackett-Luce model.

    For items with scores :math:`s_1, \dots, s_n` and a ranking :math:`r_1, r_2, \dots, r_n` (item indices, best
    first),

    .. math:: Pr(r\,|\,\mathbf{s}) = \prod_{j=1}^{n} \frac{\exp[s_{r_j}]}{\sum_{k=j}^{n} \exp[s_{r_k}]}

    .. math:: -\log Pr(r\,|\,\mathbf{s}) = \sum_{j=1}^{n} \Bigl(\log\sum_{k=j}^{n}\exp[s_{r_k}] - s_{r_j}\Bigr)

    The inner log-sums are a reversed ``logcumsumexp`` of the scores in ranked order, so the loss is finite for
    any finite scores. The last factor is always 1. With n = 2 this is the Bernoulli / logistic model of a
    pairwise preference (UDL section 5.4) with logit :math:`s_{r_1} - s_{r_2}`; adding the same constant to every
    score changes nothing.

    A top-k ranking (``ranking`` of length k < n: the best k items in order, the rest unordered) has the
    probability of the first k factors, where each denominator still sums over *all* items not yet ranked,
    including the n - k unranked ones. Summed over all n!/(n-k)! possible top-k rankings these probabilities are 1.

    Args:
        scores: item scores, shape (..., n).
        ranking: integer tensor of shape (..., k), 1 <= k <= n: distinct item indices in 0..n-1, best first
            (k = n for a full ranking). Its leading dimensions broadcast against those of ``scores``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the loss of each ranking, shape
        ``broadcast(scores.shape[:-1], ranking.shape[:-1])``.

    Raises:
        ValueError: if ``ranking`` is not an integer tensor, is longer than the number of items, holds an index
            outside 0..n-1 or an item twice, or ``reduction`` is unknown.
    """
    check_reduction(reduction)
    if scores.dim() == 0 or ranking.dim() == 0:
        raise ValueError(
            "scores and ranking must have an item dimension (last); "
            f"got shapes {tuple(scores.shape)} and {tuple(ranking.shape)}"
        )
    if ranking.is_floating_point() or ranking.is_complex() or ranking.dtype == torch.bool:
        raise ValueError(f"ranking must hold item indices (an integer tensor); got dtype {ranking.dtype}")
    n, k = scores.shape[-1], ranking.shape[-1]
    if not 1 <= k <= n:
        raise ValueError(f"ranking must list between 1 and n = {n} items (scores.shape[-1]); got {k}")
    if bool(((ranking < 0) | (ranking >= n)).any()):
        raise ValueError(
            f"ranking indices must be in 0..{n - 1} (scores has n = {n} items in its last dimension); "
            f"got values from {int(ranking.min())} to {int(ranking.max())}"
        )
    batch = torch.broadcast_shapes(scores.shape[:-1], ranking.shape[:-1])
    ranking = ranking.long().expand(*batch, k)
    ranked = torch.zeros(*batch, n, dtype=torch.bool, device=ranking.device).scatter(-1, ranking, True)
    if bool((ranked.sum(-1) != k).any()):
        raise ValueError("ranking must not list an item twice (each row must hold distinct item indices)")
    if k < n:
        # Append the unranked items (in any order: the first k denominators only need them to be present).
        unranked = torch.argsort(ranked.to(torch.int8), dim=-1, stable=True)[..., : n - k]
        ranking = torch.cat([ranking, unranked], dim=-1)
    ordered = torch.gather(scores.expand(*batch, n), -1, ranking)  # s_{r_1}, ..., s_{r_n}
    terms = _reverse_logcumsumexp(ordered) - ordered  # -log of each factor, j = 1..n
    return reduce(terms[..., :k].sum(-1), reduction)
