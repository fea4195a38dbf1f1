r"""Affine coupling flows, RealNVP (UDL section 16.3.4), and fixed permutations between them.

The variables are split by a binary mask m into a part h_a (m = 1) that passes unchanged and a part h_b that
is transformed elementwise by an invertible affine map whose parameters are any function (a network, the
*conditioner*) of h_a:

    z = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s[m ⊙ x]) + t[m ⊙ x]),    log|det ∂z/∂x| = Σ (1 − m) ⊙ s.

The Jacobian is triangular (after ordering h_a first) with diagonal 1 on h_a and exp(s) on h_b, and the inverse
needs the conditioner only once, since h_a is known: x_b = (z_b − t) ⊙ exp(−s). Stacking couplings with
alternating masks (or with a permutation or a :class:`LinearLU` between them) lets every variable interact.
The scale is soft-clamped, s = c·tanh(s̃/c), which keeps early training stable and changes nothing else.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from udl.generative.flows._base import Flow
from udl.nn import seeded_conv, seeded_linear

__all__ = [
    "AffineCoupling",
    "Permutation",
    "alternating_mask",
    "channel_mask",
    "conv_conditioner",
    "mlp_conditioner",
]


def alternating_mask(features: int, parity: int = 0) -> Tensor:
    """(D,) mask: 1 at the even (parity 0) or odd (parity 1) positions."""
    return ((torch.arange(features) + parity) % 2 == 0).float()


def channel_mask(channels: int, parity: int = 0) -> Tensor:
    """(C, 1, 1) mask: 1 on the first (parity 0) or the second (parity 1) half of the channels."""
    first = (torch.arange(channels) < channels // 2).float()
    return (first if parity == 0 else 1 - first).reshape(channels, 1, 1)


def _zero_last(layer: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()  # the coupling starts as the identity
    return layer


def mlp_conditioner(
    features: int, hidden: int = 64, layers: int = 2, *, generator: torch.Generator | None = None
) -> nn.Sequential:
    """An MLP D → hidden (SiLU) … → 2D whose output (s̃, t) starts at zero (the coupling starts as the identity)."""
    if min(features, hidden, layers) < 1:
        raise ValueError(f"features, hidden and layers must be >= 1, got {features}, {hidden}, {layers}")
    sizes = [features] + [hidden] * layers
    modules: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        modules += [seeded_linear(a, b, generator=generator), nn.SiLU()]
    modules.append(_zero_last(seeded_linear(hidden, 2 * features, generator=generator)))
    return nn.Sequential(*modules)


def conv_conditioner(
    channels: int, hidden: int = 64, *, generator: torch.Generator | None = None
) -> nn.Sequential:
    """Conv3×3 C → hidden, SiLU, Conv1×1 hidden → hidden, SiLU, Conv3×3 hidden → 2C (zero-initialized)."""
    if min(channels, hidden) < 1:
        raise ValueError(f"channels and hidden must be >= 1, got {channels}, {hidden}")
    return nn.Sequential(
        seeded_conv(2, channels, hidden, 3, generator=generator),
        nn.SiLU(),
        seeded_conv(2, hidden, hidden, 1, generator=generator),
        nn.SiLU(),
        _zero_last(seeded_conv(2, hidden, 2 * channels, 3, generator=generator)),
    )


class AffineCoupling(Flow):
    """The RealNVP affine coupling layer (UDL section 16.3.4).

    Args:
        mask: binary tensor of one event's shape ((D,) for vectors, (C, 1, 1) or (C, H, W) for images): 1 marks
            the variables that condition, 0 those transformed.
        conditioner: maps m ⊙ x (N, *event) to (N, 2·first-dim, …): s̃ and t stacked along dimension 1.
        scale_clamp: c of the soft clamp s = c·tanh(s̃/c).
    """

    mask: Tensor

    def __init__(self, mask: Tensor, conditioner: nn.Module, *, scale_clamp: float = 2.0) -> None:
        super().__init__()
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must hold only 0 and 1")
        if not scale_clamp > 0:
            raise ValueError(f"scale_clamp must be > 0, got {scale_clamp!r}")
        self.register_buffer("mask", mask.float())
        self.conditioner = conditioner
        self.scale_clamp = float(scale_clamp)

    def _scale_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.conditioner(kept).chunk(2, dim=1)
        free = 1 - self.mask
        return self.scale_clamp * torch.tanh(s / self.scale_clamp) * free, t * free

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        kept = x * self.mask
        s, t = self._scale_shift(kept)
        z = kept + (1 - self.mask) * (x * s.exp() + t)
        return z, s.flatten(1).sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        kept = z * self.mask
        s, t = self._scale_shift(kept)
        x = kept + (1 - self.mask) * ((z - t) * (-s).exp())
        return x, -s.flatten(1).sum(1)


class Permutation(Flow):
    """A fixed permutation of the features of (N, D) (default: reversal); |det| = 1."""

    perm: Tensor
    inverse_perm: Tensor

    def __init__(self, features: int, permutation: Tensor | None = None) -> None:
        super().__init__()
        perm = torch.arange(features - 1, -1, -1) if permutation is None else permutation.long()
        if sorted(perm.tolist()) != list(range(features)):
            raise ValueError(f"permutation must be a permutation of 0..{features - 1}")
        self.register_buffer("perm", perm)
        self.register_buffer("inverse_perm", torch.argsort(perm))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z[:, self.inverse_perm], z.new_zeros(z.shape[0])
