"""Loss functions of UDL ch. 5: negative log-likelihoods built by the maximum-likelihood recipe, and margin losses.

Every ``*_nll`` function returns exactly −log Pr(target | parameters), normalizing constants included; parameters
come first and the target last, and ``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``. The two margin
losses (``hinge_loss``, ``exponential_loss``) take targets in {−1, +1} and are not likelihoods.
"""

from udl.losses._common import REDUCTIONS, Reduction
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
from udl.losses._stacked import stacked_cross_entropy

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "bernoulli_nll",
    "categorical_nll",
    "exponential_loss",
    "gaussian_mixture_nll",
    "gaussian_nll",
    "hinge_loss",
    "laplace_nll",
    "plackett_luce_nll",
    "poisson_nll",
    "stacked_cross_entropy",
    "von_mises_nll",
]
