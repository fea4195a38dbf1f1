r"""Bayesian inference for a model that is linear in its parameters (UDL section 9.3.5, notebook 9.4, fig. 9.11).

The book's Bayesian approach keeps a distribution over the parameters instead of one estimate,

.. math:: Pr(\boldsymbol\phi\,|\,\{\mathbf x_i, y_i\}) = \frac{\prod_i Pr(y_i|\mathbf x_i,\boldsymbol\phi)\,
          Pr(\boldsymbol\phi)}{\int \prod_i Pr(y_i|\mathbf x_i,\boldsymbol\phi)\,Pr(\boldsymbol\phi)\,d\boldsymbol\phi},
          \qquad
          Pr(y^*|\mathbf x^*) = \int Pr(y^*|\mathbf x^*,\boldsymbol\phi)\,
          Pr(\boldsymbol\phi\,|\,\{\mathbf x_i, y_i\})\,d\boldsymbol\phi,

which is intractable for a whole network but exact when only the output layer is uncertain: with fixed hidden
units h(x) (notebook 9.4 fixes the first layer of a shallow network) the model y = φᵀ[h(x); 1] + ε is linear in
φ. With features H (one column [h(x_i); 1] per example), prior φ ~ Norm[0, σ_p² I] and noise ε ~ Norm[0, σ²]:

.. math:: \boldsymbol\Sigma = \Big(\tfrac{1}{\sigma^2}\mathbf H\mathbf H^T + \tfrac{1}{\sigma_p^2}\mathbf I\Big)^{-1},
          \qquad \boldsymbol\mu = \tfrac{1}{\sigma^2}\boldsymbol\Sigma\mathbf H\mathbf y,

and the predictive distribution at h* is Norm[h*ᵀμ, h*ᵀΣh* + σ²]. μ is the ridge-regression (L2-regularized
least squares, UDL section 9.1) solution with λ = σ²/σ_p², the MAP estimate; Σ shrinks where there are data.

Here, as in torch, the features are rows: ``features`` is (N, D) = Hᵀ, one example per row, the constant
feature included by the caller if wanted.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "GaussianPosterior",
    "GaussianPredictive",
    "bayesian_linear_posterior",
    "bayesian_linear_predictive",
    "sample_posterior",
]


class GaussianPosterior(NamedTuple):
    """Norm[mean, covariance] over the parameters φ."""

    mean: Tensor
    """μ, (D,) for one output or (D, O) for O outputs sharing the covariance"""
    covariance: Tensor
    """Σ, (D, D)"""


class GaussianPredictive(NamedTuple):
    """The predictive distribution at new inputs: Gaussian, per input."""

    mean: Tensor
    """h*ᵀμ, (M,) or (M, O)"""
    function_variance: Tensor
    """h*ᵀΣh*, the variance of the function value f(x*) = φᵀh* (what the parameters' uncertainty adds), (M,)"""
    variance: Tensor
    """h*ᵀΣh* + σ², the variance of a new observation y*, (M,)"""


def _check_variances(noise_var: float, prior_var: float | None = None) -> None:
    if not noise_var > 0:
        raise ValueError(f"noise_var must be > 0, got {noise_var}")
    if prior_var is not None and not prior_var > 0:
        raise ValueError(f"prior_var must be > 0, got {prior_var}")


def bayesian_linear_posterior(
    features: Tensor, y: Tensor, noise_var: float, prior_var: float
) -> GaussianPosterior:
    r"""The exact posterior over φ for y = φᵀh + ε, ε ~ Norm[0, σ²], prior φ ~ Norm[0, σ_p² I].

    .. math:: \boldsymbol\Sigma = (\mathbf H\mathbf H^T/\sigma^2 + \mathbf I/\sigma_p^2)^{-1},\qquad
              \boldsymbol\mu = \boldsymbol\Sigma\mathbf H\mathbf y/\sigma^2

    Computed with a Cholesky factorization of the (D, D) precision matrix, not an explicit inverse.

    Args:
        features: (N, D), row i is h(x_i) (= column i of the book's H).
        y: (N,) targets, or (N, O) for O outputs with the same features and noise.
        noise_var: σ² > 0.
        prior_var: σ_p² > 0.

    Returns:
        ``GaussianPosterior(mean, covariance)``.
    """
    _check_variances(noise_var, prior_var)
    if features.dim() != 2 or y.shape[:1] != features.shape[:1] or y.dim() not in (1, 2):
        raise ValueError(
            f"features must be (N, D) and y (N,) or (N, O), got {tuple(features.shape)} and {tuple(y.shape)}"
        )
    d = features.shape[1]
    eye = torch.eye(d, dtype=features.dtype, device=features.device)
    precision = features.T @ features / noise_var + eye / prior_var  # Σ⁻¹ = HHᵀ/σ² + I/σ_p²
    chol = torch.linalg.cholesky(precision)
    covariance = torch.cholesky_inverse(chol)
    rhs = features.T @ (y if y.dim() == 2 else y.unsqueeze(1)) / noise_var  # Hy/σ², (D, O)
    mean = torch.cholesky_solve(rhs, chol)
    return GaussianPosterior(mean if y.dim() == 2 else mean.squeeze(1), covariance)


def bayesian_linear_predictive(
    features: Tensor, posterior: GaussianPosterior, noise_var: float
) -> GaussianPredictive:
    r"""The predictive distribution Norm[h*ᵀμ, h*ᵀΣh* + σ²] at new inputs (notebook 9.4's inference).

    Args:
        features: (M, D), row j is h(x*_j).
        posterior: from :func:`bayesian_linear_posterior`.
        noise_var: σ² > 0, added for the variance of a new observation.

    Returns:
        ``GaussianPredictive(mean, function_variance, variance)``.
    """
    _check_variances(noise_var)
    mean = features @ posterior.mean
    function_variance = ((features @ posterior.covariance) * features).sum(dim=-1)  # diag(H*ᵀ Σ H*)
    return GaussianPredictive(mean, function_variance, function_variance + noise_var)


def sample_posterior(
    posterior: GaussianPosterior, samples: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Draws φ = μ + Lz, z ~ Norm[0, I], LLᵀ = Σ (Cholesky): each draw is a whole function φᵀh(x).

    Args:
        posterior: a ``GaussianPosterior`` with a (D,) mean.
        samples: number of draws S (>= 1).
        generator: source of randomness (``None``: torch's global generator); drawn on its device.

    Returns:
        (S, D).
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    mean, cov = posterior
    if mean.dim() != 1:
        raise ValueError(f"sample_posterior needs a (D,) mean, got {tuple(mean.shape)}")
    chol = torch.linalg.cholesky(cov)
    device = generator.device if generator is not None else mean.device
    z = torch.randn(samples, mean.shape[0], generator=generator, dtype=mean.dtype, device=device).to(
        mean.device
    )
    return mean + z @ chol.T
