r"""Linear flows with the LU parameterization (UDL section 16.3.2).

f[h] = β + Ωh is invertible when Ω is, but a general D × D matrix costs O(D³) to invert and to take the
determinant of. Parameterizing Ω = P L (U + D) — P a fixed permutation, L lower triangular with ones on the
diagonal, U strictly upper triangular, D diagonal — makes both cheap: det Ω = ±Π_d D_dd, so
log|det Ω| = Σ_d log|D_dd|, and Ωh = y is solved by two triangular solves. Applied along the channel dimension
of an image (every pixel the same Ω) it is Glow's invertible 1 × 1 convolution, with log|det| multiplied by
the number of pixels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from udl.generative.flows._base import Flow

__all__ = ["LinearLU"]


class LinearLU(Flow):
    """z = Ω x + β with Ω = P L (U + diag(s ⊙ exp(log|d|))) along dimension ``dim`` (UDL section 16.3.2).

    Args:
        features: D, the size of dimension ``dim``.
        dim: the dimension mixed (1: the features of (N, D), the channels of (N, C, H, W)).
        generator: Ω starts as a random orthogonal matrix (QR of a Gaussian draw from ``generator``), factorized
            by ``torch.linalg.lu``; β starts at 0.
    """

    permutation: Tensor
    sign: Tensor
    _tril: Tensor
    _eye: Tensor

    def __init__(self, features: int, dim: int = 1, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if features < 1 or dim < 1:
            raise ValueError(f"features and dim must be >= 1, got features={features}, dim={dim}")
        self.dim = dim
        q, _ = torch.linalg.qr(torch.randn(features, features, generator=generator, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        d = torch.diagonal(upper)
        self.register_buffer("permutation", p.float())
        self.register_buffer("sign", torch.sign(d).float())
        self.lower = nn.Parameter(torch.tril(lower, -1).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_abs_diag = nn.Parameter(d.abs().log().float())
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("_tril", torch.tril(torch.ones(features, features), -1))
        self.register_buffer("_eye", torch.eye(features))

    def _factors(self) -> tuple[Tensor, Tensor]:
        lower = self.lower * self._tril + self._eye  # unit diagonal
        upper = self.upper * self._tril.T + torch.diag(self.sign * self.log_abs_diag.exp())
        return lower, upper

    def weight(self) -> Tensor:
        """Ω = P L (U + D), (D, D)."""
        lower, upper = self._factors()
        return self.permutation @ lower @ upper

    def _log_det(self, x: Tensor) -> Tensor:
        positions = x[0].numel() // x.shape[self.dim]  # pixels sharing Ω (1 for vectors)
        return (positions * self.log_abs_diag.sum()).expand(x.shape[0])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.movedim(self.dim, -1)  # (..., D)
        z = h @ self.weight().T + self.bias
        return z.movedim(-1, self.dim), self._log_det(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        h = z.movedim(self.dim, -1)
        shape = h.shape
        rhs = (h.reshape(-1, shape[-1]) - self.bias) @ self.permutation  # rows of P^T (z − β)
        lower, upper = self._factors()
        y = torch.linalg.solve_triangular(lower, rhs.T, upper=False, unitriangular=True)  # L^{-1}
        x = torch.linalg.solve_triangular(upper, y, upper=True).T  # (U + D)^{-1}
        return x.reshape(shape).movedim(-1, self.dim), -self._log_det(z)
