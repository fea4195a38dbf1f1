"""Every loss of the book: the negative log-likelihoods and margin losses of ch. 5, label smoothing, the penalized
and modified losses of ch. 9 (L2, eqs. 9.8-9.9) and the self-supervised losses (InfoNCE, NT-Xent, inpainting).
Those with a ``reduction`` argument share one helper (``"mean"`` default, ``"sum"``, ``"none"``), as in torch.

Every ``*_nll`` function returns exactly −log Pr(target | parameters), normalizing constants included; parameters
come first and the target last, and ``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``. The two margin
losses (``hinge_loss``, ``exponential_loss``) take targets in {−1, +1} and are not likelihoods.
"""

from udl.losses._common import REDUCTIONS, Reduction, check_class_labels
from udl.losses._contrastive import info_nce, masked_inpainting_loss, nt_xent
from udl.losses._elbo import elbo, elbo_from_joint, elbo_from_posterior, gaussian_kl, iwae_bound
from udl.losses._margin import exponential_loss, hinge_loss
from udl.losses._nll import (
    bernoulli_nll,
    categorical_nll,
    gaussian_mixture_nll,
    gaussian_nll,
    laplace_nll,
    poisson_nll,
    von_mises_nll,
)
from udl.losses._ranking import plackett_luce_nll
from udl.losses._regularized import l2_penalty, modified_loss, modified_loss_gradient, sgd_modified_loss
from udl.losses._smoothing import label_smoothing_targets, smoothed_cross_entropy
from udl.losses._stacked import stacked_cross_entropy, stacked_l2_penalty

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "bernoulli_nll",
    "categorical_nll",
    "check_class_labels",
    "elbo",
    "elbo_from_joint",
    "elbo_from_posterior",
    "exponential_loss",
    "gaussian_kl",
    "gaussian_mixture_nll",
    "gaussian_nll",
    "hinge_loss",
    "info_nce",
    "iwae_bound",
    "l2_penalty",
    "label_smoothing_targets",
    "laplace_nll",
    "masked_inpainting_loss",
    "modified_loss",
    "modified_loss_gradient",
    "nt_xent",
    "plackett_luce_nll",
    "poisson_nll",
    "sgd_modified_loss",
    "smoothed_cross_entropy",
    "stacked_cross_entropy",
    "stacked_l2_penalty",
    "von_mises_nll",
]
