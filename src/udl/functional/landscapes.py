r"""Two loss landscapes of UDL chapter 6: the Gabor model's least-squares fit and a saddle with two minima.

The Gabor model (UDL section 6.1.2, figs 6.4-6.6; notebook 6.2) is

.. math:: f[x, \boldsymbol\phi] = \sin(\phi_0 + 0.06\,\phi_1 x)\,
          \exp\!\Bigl(-\frac{(\phi_0 + 0.06\,\phi_1 x)^2}{32}\Bigr)

whose least-squares loss has several local minima. The saddle

.. math:: L[\boldsymbol\phi] = \phi_0^2 - \phi_1^2 + \tfrac12\phi_1^4 + c\,\phi_1

has (for c = 0) a saddle point at the origin, stable along φ0 and unstable along φ1, and two minima
φ = (0, ±1) with L = −½; a linear term c·φ1 (a data set's mean c̄ = mean_i c_i of per-example losses
L_i = … + c_i φ1) tilts it.

Example:
    >>> import torch
    >>> float(saddle_loss(torch.tensor([0.0, 1.0])))
    -0.5
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gabor_model", "saddle_loss"]


def gabor_model(x: Tensor, phi: Tensor) -> Tensor:
    """The Gabor model f[x, φ] = sin(z) exp(−z²/32), z = φ0 + 0.06 φ1 x.

    Args:
        x: inputs, any shape that broadcasts against ``phi[..., :1]`` (e.g. (N, 1), or (1, N) against a grid).
        phi: parameters (..., 2) = [φ0, φ1].

    Returns:
        f broadcast over x and the leading dimensions of ``phi``.
    """
    if phi.shape[-1] != 2:
        raise ValueError(f"phi must have shape (..., 2) = [φ0, φ1], got {tuple(phi.shape)}")
    z = phi[..., :1] + 0.06 * phi[..., 1:2] * x
    return torch.sin(z) * torch.exp(-(z**2) / 32.0)


def saddle_loss(phi: Tensor, c: Tensor | float = 0.0) -> Tensor:
    """L = φ0² − φ1² + φ1⁴/2 + c·φ1 for ``phi`` (2, ...); ``c`` broadcasts against ``phi[1]``."""
    if phi.shape[0] != 2:
        raise ValueError(f"saddle_loss takes phi of shape (2, ...), got {tuple(phi.shape)}")
    return phi[0] ** 2 - phi[1] ** 2 + 0.5 * phi[1] ** 4 + c * phi[1]
