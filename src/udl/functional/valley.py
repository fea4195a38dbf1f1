r"""The curved-valley loss of notebook 9.2 (UDL figure 9.3), where implicit regularization is visible.

.. math:: L[\phi_0, \phi_1] = 1 - \exp\!\Bigl(-\frac{\phi_1^2}{2\sigma(\phi_0)^2}\Bigr),
          \qquad \sigma(\phi_0) = \exp(-2\phi_0^2)

The minimum (φ1 = 0, any φ0) is a valley floor whose steepness across it, 1/σ² = e^{4φ0²}, grows away from
φ0 = 0: a finite gradient-descent step, which follows the flow of L + (α/4)‖∇L‖² (UDL eq. 9.8), drifts towards
the flatter part.

Example:
    >>> import torch
    >>> float(valley_loss(torch.zeros(2, dtype=torch.float64)))
    0.0
    >>> round(valley_curvature(torch.tensor([0.5, 0.0], dtype=torch.float64)), 4)   # e^{4 · 0.25}
    2.7183
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["valley_curvature", "valley_loss"]


def valley_loss(phi: Tensor) -> Tensor:
    """Notebook 9.2's loss 1 − exp(−φ1² / (2σ²)), σ = exp(−2φ0²); ``phi`` is (2, ...) and the result (...)."""
    if phi.shape[0] != 2:
        raise ValueError(f"valley_loss takes phi of shape (2, ...), got {tuple(phi.shape)}")
    sigma = torch.exp(-2.0 * phi[0] ** 2)
    return 1.0 - torch.exp(-0.5 * phi[1] ** 2 / sigma**2)


def valley_curvature(phi: Tensor) -> float:
    """∂²L/∂φ1² at one point ``phi`` (2,): the steepness across the valley (1/σ² = e^{4φ0²} on its floor)."""
    if phi.shape != (2,):
        raise ValueError(f"valley_curvature takes one point of shape (2,), got {tuple(phi.shape)}")
    hessian = torch.autograd.functional.hessian(valley_loss, phi)
    return float(hessian[1, 1])
