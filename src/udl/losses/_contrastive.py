r"""Self-supervised learning losses (UDL section 9.3.8): masked inpainting, InfoNCE and NT-Xent.

Section 9.3.8 describes two families of self-supervised pretext tasks on unlabelled data:

- *generative*: part of each example is masked and the network predicts the missing part (inpainting);
  :func:`udl.data.random_span_mask` draws the masks and :func:`masked_inpainting_loss` scores the prediction on the
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
linear classifier on labelled data (:func:`udl.train.linear_probe`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from udl.losses._common import Reduction, reduce

__all__ = [
    "info_nce",
    "masked_inpainting_loss",
    "nt_xent",
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
    reduction: Reduction = "mean",
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
    return reduce(loss, reduction)


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    *,
    normalize: bool = True,
    reduction: Reduction = "mean",
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
    return reduce(loss, reduction)


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
