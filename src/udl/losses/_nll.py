r"""Negative log-likelihoods of the maximum-likelihood recipe (UDL ch. 5, section 5.2).

The recipe: choose a distribution :math:`Pr(\mathbf{y}\,|\,\boldsymbol\theta)` over the target, let the network
predict its parameters :math:`\boldsymbol\theta = \mathrm{f}[\mathbf{x}, \boldsymbol\phi]`, and minimize the
negative log-likelihood of the training targets (UDL section 5.1),

.. math:: L[\boldsymbol\phi] = -\sum_{i=1}^{I} \log\Bigl[Pr\bigl(\mathbf{y}_i \,\big|\,
          \mathrm{f}[\mathbf{x}_i, \boldsymbol\phi]\bigr)\Bigr].

Every function here returns exactly :math:`-\log Pr(y\,|\,\boldsymbol\theta)`, normalizing constants included, so
``exp(-loss)`` with ``reduction="none"`` is the density or probability mass itself (``torch.nn.GaussianNLLLoss``
and ``PoissonNLLLoss`` drop the constants by default). Parameters come first and the target last, as in
``torch.nn.functional``. Continuous parameters and targets broadcast against each other. ``reduction`` is
``"mean"`` (default; the average over all elements), ``"sum"`` (the book's L[φ]) or ``"none"``.

Several independent outputs (UDL section 5.6) have the sum of the per-output losses as their loss: call with
``reduction="none"`` and sum over the output dimension.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from udl.losses._common import (
    Reduction,
    as_float_tensor,
    check_positive,
    check_reduction,
    check_values_in,
    reduce,
)

__all__ = [
    "bernoulli_nll",
    "categorical_nll",
    "gaussian_mixture_nll",
    "gaussian_nll",
    "laplace_nll",
    "poisson_nll",
    "von_mises_nll",
]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def _scale_tensor(
    value: Tensor | float, like: Tensor, name: str, reduction: Reduction, *, allow_zero: bool = False
) -> Tensor:
    """A scale parameter (σ, b, κ) as a float tensor like ``like``, after checking ``reduction`` and that it is
    positive (or, with ``allow_zero``, non-negative) everywhere; a ValueError naming ``name`` otherwise."""
    check_reduction(reduction)
    scale = as_float_tensor(value, like)
    check_positive(scale, name, allow_zero=allow_zero)
    return scale


def gaussian_nll(
    mean: Tensor, std: Tensor | float, target: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    r"""Negative log-likelihood of a univariate normal distribution (UDL section 5.3, eqs. 5.10-5.12).

    .. math:: Pr(y\,|\,\mu, \sigma^2) = \frac{1}{\sqrt{2\pi\sigma^2}}
              \exp\left[-\frac{(y - \mu)^2}{2\sigma^2}\right]

    .. math:: -\log Pr(y\,|\,\mu, \sigma^2) = \frac{(y - \mu)^2}{2\sigma^2} + \log\sigma + \frac{1}{2}\log 2\pi

    With a fixed :math:`\sigma` this is least squares up to a scale and a constant (UDL section 5.3.1); predicting
    :math:`\sigma` as well gives heteroscedastic regression (section 5.3.4). Note the parameter is the standard
    deviation, not the variance that ``torch.nn.functional.gaussian_nll_loss`` takes.

    Args:
        mean: :math:`\mu`, any shape broadcastable with ``std`` and ``target``.
        std: standard deviation :math:`\sigma > 0` (a tensor, or a number for a fixed :math:`\sigma`).
        target: observed :math:`y`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the elementwise losses with the broadcast shape of the inputs.

    Raises:
        ValueError: if ``std <= 0`` anywhere or ``reduction`` is unknown.
    """
    std = _scale_tensor(std, mean, "std", reduction)
    z = (target - mean) / std
    return reduce(0.5 * z * z + torch.log(std) + 0.5 * _LOG_2PI, reduction)


def laplace_nll(
    loc: Tensor, scale: Tensor | float, target: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    r"""Negative log-likelihood of the Laplace distribution: the recipe of UDL section 5.2 for robust regression.

    .. math:: Pr(y\,|\,\mu, b) = \frac{1}{2b} \exp\left[-\frac{|y - \mu|}{b}\right],
              \qquad -\log Pr(y\,|\,\mu, b) = \frac{|y - \mu|}{b} + \log 2b

    With a fixed scale :math:`b` minimizing it is least absolute deviations: the fitted location is a median
    rather than a mean. The gradient with respect to :math:`\mu` or :math:`y` at :math:`y = \mu` is 0 (the
    subgradient ``torch.abs`` uses).

    Args:
        loc: location :math:`\mu`, any shape broadcastable with ``scale`` and ``target``.
        scale: scale :math:`b > 0` (a tensor or a number).
        target: observed :math:`y`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns and Raises: as :func:`gaussian_nll`, with ``scale`` for ``std``.
    """
    scale = _scale_tensor(scale, loc, "scale", reduction)
    return reduce(torch.abs(target - loc) / scale + torch.log(scale) + _LOG_2, reduction)


class _LogI0e(torch.autograd.Function):
    """``log(i0e(κ)) = log I0(κ) − κ`` for κ ≥ 0, with the exact derivative ``i1e(κ)/i0e(κ) − 1``.

    Autograd through ``torch.special.i0e`` gives a wrong derivative at κ = 0 (it returns +1 for
    ``d/dκ log I0``, whose true value there is 0), so the backward pass is written out.
    """

    @staticmethod
    def forward(ctx: Any, kappa: Tensor) -> Tensor:
        ctx.save_for_backward(kappa)
        return torch.log(torch.special.i0e(kappa))

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        (kappa,) = ctx.saved_tensors
        # d/dκ log I0(κ) = I1(κ)/I0(κ) = i1e(κ)/i0e(κ), and log i0e(κ) = log I0(κ) − κ.
        return grad_output * (torch.special.i1e(kappa) / torch.special.i0e(kappa) - 1.0)


def von_mises_nll(
    loc: Tensor, concentration: Tensor | float, target: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    r"""Negative log-likelihood of the von Mises distribution, for angles (UDL problem 5.3, wind direction).

    .. math:: Pr(y\,|\,\mu, \kappa) = \frac{\exp[\kappa\cos(y - \mu)]}{2\pi\,I_0[\kappa]}

    .. math:: -\log Pr(y\,|\,\mu, \kappa) = -\kappa\cos(y - \mu) + \log\bigl(2\pi I_0[\kappa]\bigr)
              = 2\kappa\sin^2\!\tfrac{y - \mu}{2} + \log 2\pi + \log\mathrm{i0e}[\kappa]

    where :math:`I_0` is the modified Bessel function of the first kind of order 0 and
    :math:`\mathrm{i0e}[\kappa] = e^{-\kappa} I_0[\kappa]` its exponentially scaled version
    (``torch.special.i0e``). The right-hand form uses :math:`\kappa(1 - \cos d) = 2\kappa\sin^2(d/2)`, so neither
    :math:`I_0[\kappa]` (which overflows float64 near :math:`\kappa = 710`) nor the cancellation of two numbers of
    size :math:`\kappa` appears: the loss stays accurate for :math:`\kappa` up to ``1e300``. The gradient with
    respect to :math:`\kappa` is :math:`2\sin^2\frac{y-\mu}{2} + \mathrm{i1e}[\kappa]/\mathrm{i0e}[\kappa] - 1`,
    i.e. :math:`-\cos(y - \mu) + I_1[\kappa]/I_0[\kappa]`.

    The density has period :math:`2\pi` in :math:`y` and :math:`\mu`, so angles need not be wrapped.
    :math:`\kappa = 0` is allowed (the uniform distribution on the circle, loss :math:`\log 2\pi`).

    Args:
        loc: mean direction :math:`\mu` in radians, any shape broadcastable with ``concentration`` and ``target``.
        concentration: :math:`\kappa \ge 0` (a tensor or a number); the larger, the more peaked.
        target: observed angle :math:`y` in radians.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the elementwise losses with the broadcast shape of the inputs.

    Raises:
        ValueError: if ``concentration < 0`` anywhere or ``reduction`` is unknown.
    """
    kappa = _scale_tensor(concentration, loc, "concentration", reduction, allow_zero=True)
    half_sin = torch.sin(0.5 * (target - loc))
    log_i0e: Tensor = _LogI0e.apply(kappa)
    return reduce(2.0 * kappa * half_sin * half_sin + _LOG_2PI + log_i0e, reduction)


def bernoulli_nll(logits: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Negative log-likelihood of a Bernoulli distribution: binary cross-entropy (UDL section 5.4, eqs. 5.17-5.20).

    The network outputs a logit :math:`f` and :math:`\lambda = \mathrm{sig}[f]` is the probability that
    :math:`y = 1`:

    .. math:: Pr(y\,|\,\lambda) = \lambda^{y}(1 - \lambda)^{1 - y}, \qquad y \in \{0, 1\}

    .. math:: -\log Pr(y\,|\,f) = -(1 - y)\log\bigl(1 - \mathrm{sig}[f]\bigr) - y\log\mathrm{sig}[f]
              = \mathrm{softplus}\bigl[(1 - 2y) f\bigr]

    The softplus form, :math:`\mathrm{softplus}[z] = \log(1 + e^{z})`, is finite and accurate for any finite
    logit (``±1e3`` included), and so is its gradient :math:`\mathrm{sig}[f] - y`.

    Args:
        logits: :math:`f`, any shape broadcastable with ``target``.
        target: observed :math:`y \in \{0, 1\}` (float, integer or bool).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the elementwise losses with the broadcast shape.

    Raises:
        ValueError: if a target is not 0 or 1 (soft labels are not a likelihood), or ``reduction`` is unknown.
    """
    check_reduction(reduction)
    check_values_in(target, (0.0, 1.0), "target", hint=" (the Bernoulli distribution has support {0, 1})")
    sign = 1.0 - 2.0 * target.to(logits.dtype)  # +1 for y = 0, -1 for y = 1
    return reduce(F.softplus(sign * logits), reduction)


def categorical_nll(logits: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Negative log-likelihood of a categorical distribution: multiclass cross-entropy (UDL section 5.5).

    The network outputs K logits :math:`\mathbf{f}` and the class probabilities are their softmax (UDL eq. 5.22):

    .. math:: Pr(y = k\,|\,\mathbf{f}) = \mathrm{softmax}_k[\mathbf{f}] = \frac{\exp[f_k]}{\sum_{k'=1}^{K}\exp[f_{k'}]}

    .. math:: -\log Pr(y\,|\,\mathbf{f}) = -f_{y} + \log\sum_{k'=1}^{K}\exp[f_{k'}] \qquad\text{(UDL eq. 5.24)}

    computed with ``log_softmax``, so logits of ``±1e3`` give finite, correct losses. Classes are numbered from
    0, unlike the book's 1..K.

    Args:
        logits: shape (..., K), the class dimension last (``torch.nn.functional.cross_entropy`` puts it at dim 1).
        target: class indices, an integer tensor of shape (...) with values in 0..K-1. The leading dimensions of
            ``logits`` broadcast against it.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the per-example losses, shape ``broadcast(logits.shape[:-1],
        target.shape)``.

    Raises:
        ValueError: if ``target`` is not an integer tensor or holds an index outside 0..K-1, if ``logits`` has no
            class dimension, or ``reduction`` is unknown.
    """
    check_reduction(reduction)
    if logits.dim() == 0:
        raise ValueError("logits must have a class dimension (last); got a scalar")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f"target must hold class indices (an integer tensor); got dtype {target.dtype}")
    num_classes = logits.shape[-1]
    if target.numel() > 0 and bool(((target < 0) | (target >= num_classes)).any()):
        raise ValueError(
            f"target class indices must be in 0..{num_classes - 1} (logits has K = {num_classes} classes in its "
            f"last dimension); got values from {int(target.min())} to {int(target.max())}"
        )
    batch = torch.broadcast_shapes(logits.shape[:-1], target.shape)
    log_probs = F.log_softmax(logits, dim=-1).expand(*batch, num_classes)
    index = target.long().expand(batch).unsqueeze(-1)
    return reduce(-torch.gather(log_probs, -1, index).squeeze(-1), reduction)


def poisson_nll(log_rate: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    r"""Negative log-likelihood of a Poisson distribution, for counts (UDL problem 5.6).

    The network outputs the log-rate :math:`\eta`, so the rate :math:`\lambda = e^{\eta}` is positive:

    .. math:: Pr(y = k\,|\,\lambda) = \frac{\lambda^{k} e^{-\lambda}}{k!}, \qquad k \in \{0, 1, 2, \dots\}

    .. math:: -\log Pr(y\,|\,\eta) = e^{\eta} - y\,\eta + \log(y!), \qquad \log(y!) = \log\Gamma(y + 1)

    The :math:`\log(y!)` term does not depend on the parameters (``torch.nn.functional.poisson_nll_loss`` leaves
    it out by default, or approximates it with Stirling's formula) but it is included here, so ``exp(-loss)`` is
    the probability itself.

    Args:
        log_rate: :math:`\eta = \log\lambda`, any shape broadcastable with ``target``.
        target: observed counts :math:`y`, non-negative integers (in an integer or floating-point tensor).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the elementwise losses with the broadcast shape.

    Raises:
        ValueError: if a target is negative or not a whole number, or ``reduction`` is unknown.
    """
    check_reduction(reduction)
    y = target.to(log_rate.dtype) if log_rate.is_floating_point() else target.to(torch.get_default_dtype())
    bad = (y < 0) | (y != torch.floor(y))
    if bool(bad.any()):
        shown = ", ".join(f"{v:g}" for v in y.detach()[bad][:5].tolist())
        raise ValueError(f"target must hold counts (non-negative whole numbers) for a Poisson; got {shown}")
    return reduce(torch.exp(log_rate) - y * log_rate + torch.lgamma(y + 1.0), reduction)


def gaussian_mixture_nll(
    logits: Tensor, means: Tensor, stds: Tensor, target: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    r"""Negative log-likelihood of a mixture of K univariate normals, for multimodal targets (UDL problem 5.4).

    The mixture weights are the softmax of K logits, :math:`\lambda_k = \mathrm{softmax}_k[\mathbf{f}]`, so they
    are positive and sum to one:

    .. math:: Pr(y\,|\,\boldsymbol\lambda, \boldsymbol\mu, \boldsymbol\sigma) = \sum_{k=1}^{K}
              \frac{\lambda_k}{\sqrt{2\pi\sigma_k^2}} \exp\left[-\frac{(y - \mu_k)^2}{2\sigma_k^2}\right]

    .. math:: -\log Pr(y\,|\,\cdot) = -\operatorname{logsumexp}_{k}\Bigl[\log\lambda_k
              - \frac{(y - \mu_k)^2}{2\sigma_k^2} - \log\sigma_k - \frac{1}{2}\log 2\pi\Bigr]

    Working with log-weights (``log_softmax``) and ``logsumexp`` keeps it finite even when every component gives
    the target a density that underflows. The book's two-component case has :math:`\lambda_1 = \lambda`,
    :math:`\lambda_2 = 1 - \lambda`, i.e. logits :math:`(\mathrm{logit}[\lambda], 0)`.

    Args:
        logits: unnormalized log mixture weights, shape (..., K).
        means: component means :math:`\mu_k`, shape (..., K).
        stds: component standard deviations :math:`\sigma_k > 0`, shape (..., K).
        target: observed :math:`y`, shape (...) (no component dimension). All four broadcast, ``target`` after
            a trailing dimension of size 1 is added to it.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or with ``reduction="none"`` the per-example losses, the broadcast shape without K.

    Raises:
        ValueError: if ``stds <= 0`` anywhere, a parameter has no component dimension, or ``reduction`` is
            unknown.
    """
    check_reduction(reduction)
    for name, value in (("logits", logits), ("means", means), ("stds", stds)):
        if value.dim() == 0:
            raise ValueError(f"{name} must have a component dimension K (last); got a scalar")
    check_positive(stds, "stds")
    z = (target.unsqueeze(-1) - means) / stds
    log_component = -0.5 * z * z - torch.log(stds) - 0.5 * _LOG_2PI  # log N(y; μ_k, σ_k²), (..., K)
    log_joint = F.log_softmax(logits, dim=-1) + log_component  # log λ_k N(y; μ_k, σ_k²)
    return reduce(-torch.logsumexp(log_joint, dim=-1), reduction)
