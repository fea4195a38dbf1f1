r"""Sample autocorrelation of a sequence (used for shattered gradients, UDL section 11.1, fig. 11.3).

.. math:: \rho(\ell) = \frac{\sum_{i=0}^{n-1-\ell} (g_i - \bar g)(g_{i+\ell} - \bar g)}
                          {\sum_{i=0}^{n-1} (g_i - \bar g)^2}

the usual (biased) estimator, normalized so that ρ(0) = 1: notebook 11.1 computes the same with ``np.correlate``
of the mean-removed sequence with itself, divided by its value at lag 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["autocorrelation"]


def autocorrelation(g: Tensor, max_lag: int) -> Tensor:
    """ρ(ℓ) for ℓ = 0 .. max_lag − 1 over the last dimension of ``g`` (any leading batch dimensions).

    Args:
        g: (..., n) sequences.
        max_lag: number of lags, 1 <= max_lag <= n.

    Returns:
        (..., max_lag) in g's dtype; ρ(0) = 1. A constant sequence has no variance: its ρ is nan.

    Example:
        >>> autocorrelation(torch.tensor([1.0, -1.0, 1.0, -1.0]), 2)
        tensor([ 1.0000, -0.7500])
    """
    n = g.shape[-1]
    if not isinstance(max_lag, int) or not 1 <= max_lag <= n:
        raise ValueError(f"max_lag must be an integer in [1, {n}], got {max_lag!r}")
    c = g - g.mean(-1, keepdim=True)
    denominator = (c * c).sum(-1)
    return torch.stack(
        [(c[..., : n - lag] * c[..., lag:]).sum(-1) / denominator for lag in range(max_lag)], -1
    )
