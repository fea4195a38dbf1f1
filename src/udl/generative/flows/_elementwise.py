r"""Elementwise flows (UDL section 16.3.1): the same invertible 1-D function applied to every variable,
f[h] = [f[h_1, φ_1], …, f[h_D, φ_D]], so the Jacobian is diagonal and log|det J| = Σ_d log|f'[h_d]|.

- :func:`piecewise_linear` / :class:`PiecewiseLinearFlow`: the book's monotone piecewise-linear function. On
  [−B, B] the input is cut into K bins of widths w_k and each is mapped linearly onto an output bin of height
  h_k (both positive and summing to 2B: softmaxes of free parameters, so the map is monotone and continuous);
  outside [−B, B] it is the identity, so the flow is a bijection of the real line. The book's version (fixed,
  equal input bins on [0, 1], heights φ_k) is the special case of equal widths.
- :class:`LogitTransform`: x ∈ (0, 1) ↦ logit(α + (1 − 2α)x), the usual first layer for data on a bounded
  interval (dequantized pixels), with its exact log-derivative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.generative.flows._base import Flow

__all__ = ["LogitTransform", "PiecewiseLinearFlow", "piecewise_linear"]

MIN_BIN = 1e-3
"""the smallest share of [−B, B] a bin may take (keeps every slope finite and positive)"""


def _knots(logits: Tensor, bound: float) -> tuple[Tensor, Tensor]:
    """Bin sizes (D, K) and knot positions (D, K + 1) from −B to B."""
    k = logits.shape[-1]
    size = 2 * bound * (MIN_BIN + (1 - k * MIN_BIN) * torch.softmax(logits, dim=-1))
    knots = F.pad(torch.cumsum(size, dim=-1), (1, 0)) - bound
    knots = torch.cat([knots[..., :-1], knots.new_full((*knots.shape[:-1], 1), bound)], dim=-1)
    return size, knots


def piecewise_linear(
    x: Tensor, width_logits: Tensor, height_logits: Tensor, bound: float, *, inverse: bool = False
) -> tuple[Tensor, Tensor]:
    """The monotone piecewise-linear map of each column of x, and its log-derivative.

    Args:
        x: (N, D) inputs.
        width_logits, height_logits: (D, K) free parameters of the input-bin widths and output-bin heights.
        bound: B; the map is the identity outside [−B, B].
        inverse: apply the inverse map instead (output bins → input bins).

    Returns:
        y (N, D) and log|∂y_d/∂x_d| (N, D): log(h_k / w_k) in bin k, 0 outside [−B, B].
    """
    if x.ndim != 2 or width_logits.shape != height_logits.shape or width_logits.shape[0] != x.shape[1]:
        raise ValueError(
            f"x must be (N, D) and both logits (D, K), got {tuple(x.shape)}, {tuple(width_logits.shape)}, "
            f"{tuple(height_logits.shape)}"
        )
    widths, x_knots = _knots(width_logits, bound)
    heights, y_knots = _knots(height_logits, bound)
    if inverse:
        widths, heights, x_knots, y_knots = heights, widths, y_knots, x_knots
    xt = x.T.contiguous()  # (D, N)
    index = torch.searchsorted(x_knots[:, 1:-1].contiguous(), xt, right=True)  # (D, N) bin of each point
    slope = (heights / widths).gather(1, index)
    y = y_knots.gather(1, index) + (xt - x_knots.gather(1, index)) * slope
    inside = xt.abs() < bound
    y = torch.where(inside, y, xt)
    log_deriv = torch.where(inside, slope.log(), torch.zeros_like(xt))
    return y.T, log_deriv.T


class PiecewiseLinearFlow(Flow):
    """An elementwise flow: a learnable monotone piecewise-linear function per variable (UDL section 16.3.1).

    Args:
        features: D, the variables (input shape (N, D)).
        bins: K, the linear pieces on [−B, B].
        bound: B, the half-width of the interval where the map is not the identity.

    All parameters start at 0: equal bins in and out, the identity map.
    """

    def __init__(self, features: int, bins: int = 8, bound: float = 4.0) -> None:
        super().__init__()
        if features < 1 or bins < 1:
            raise ValueError(f"features and bins must be >= 1, got features={features}, bins={bins}")
        if not (math.isfinite(bound) and bound > 0):
            raise ValueError(f"bound must be a finite number > 0, got {bound!r}")
        self.bound = float(bound)
        self.width_logits = nn.Parameter(torch.zeros(features, bins))
        self.height_logits = nn.Parameter(torch.zeros(features, bins))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, log_deriv = piecewise_linear(x, self.width_logits, self.height_logits, self.bound)
        return z, log_deriv.sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x, log_deriv = piecewise_linear(z, self.width_logits, self.height_logits, self.bound, inverse=True)
        return x, log_deriv.sum(1)


class LogitTransform(Flow):
    """x ∈ (0, 1)^D ↦ z = logit(α + (1 − 2α)x), elementwise on any shape, with
    log|det| = Σ [log(1 − 2α) − log p − log(1 − p)], p = α + (1 − 2α)x.

    α > 0 keeps dequantized pixels at 0 and 1 away from ±∞ (RealNVP's preprocessing).
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must be in [0, 0.5), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.alpha + (1 - 2 * self.alpha) * x
        log_det = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return torch.log(p) - torch.log1p(-p), log_det.flatten(1).sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        p = torch.sigmoid(z)
        log_det = F.logsigmoid(z) + F.logsigmoid(-z) - math.log(1 - 2 * self.alpha)
        return (p - self.alpha) / (1 - 2 * self.alpha), log_det.flatten(1).sum(1)
