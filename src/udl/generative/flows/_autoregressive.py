r"""Autoregressive flows with MADE masks (UDL sections 16.3.5-16.3.6).

An autoregressive flow transforms variable d by an invertible map whose parameters depend on the variables
before it, so the Jacobian is triangular and log|det| is the sum of the diagonal. :class:`MADE` (Germain et al.,
2015) computes all D conditioners in one pass of a masked MLP: inputs get degrees 1..D, hidden units degrees in
1..D−1, and a weight from a unit of degree k to one of degree k' is kept if k' ≥ k (hidden) or k' > k (output),
so output d depends only on inputs 1..d−1.

- :class:`MaskedAutoregressiveFlow` (MAF, section 16.3.5): z_d = (x_d − μ_d[x_{<d}]) exp(−α_d[x_{<d}]). The
  normalizing direction (likelihood, training) is one MADE pass; sampling is sequential, D passes.
- :class:`InverseAutoregressiveFlow` (IAF, section 16.3.6): x_d = z_d exp(α_d[z_{<d}]) + μ_d[z_{<d}]: the
  parameters depend on the latent, so sampling is one pass and the likelihood of a given x is sequential.

Both sequential directions run D passes of the whole batch (each pass fixes one more variable), never a loop
over samples.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from udl.generative.flows._base import Flow
from udl.nn import seeded_linear

__all__ = ["MADE", "InverseAutoregressiveFlow", "MaskedAutoregressiveFlow", "MaskedLinear"]


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed binary ``mask`` (out_features, in_features)."""

    mask: Tensor

    def __init__(self, mask: Tensor, *, generator: torch.Generator | None = None) -> None:
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features, device="meta")
        layer = seeded_linear(in_features, out_features, generator=generator)
        self.weight, self.bias = layer.weight, layer.bias
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation: (N, D) → (N, outputs, D), output [:, :, d] a function of
    x_{<d} only (the first variable's outputs are constants).

    Args:
        features: D.
        hidden: units per hidden layer.
        layers: hidden layers.
        outputs: numbers per variable (2 for a shift and a log-scale).
        generator: initialization; the output layer starts at zero (the flow starts as the identity).
    """

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        layers: int = 2,
        outputs: int = 2,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if min(features, hidden, layers, outputs) < 1:
            raise ValueError(
                f"features, hidden, layers and outputs must be >= 1, got {features}, {hidden}, {layers}, {outputs}"
            )
        self.features, self.outputs = features, outputs
        degree_in = torch.arange(1, features + 1)
        degree_hidden = (
            torch.arange(hidden) % (features - 1) + 1
            if features > 1
            else torch.zeros(hidden, dtype=torch.long)
        )
        degree_out = degree_in.repeat(outputs)  # output o·D + d belongs to variable d
        modules: list[nn.Module] = []
        previous = degree_in
        for _ in range(layers):
            modules += [
                MaskedLinear(degree_hidden[:, None] >= previous[None, :], generator=generator),
                nn.SiLU(),
            ]
            previous = degree_hidden
        last = MaskedLinear(degree_out[:, None] > previous[None, :], generator=generator)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        modules.append(last)
        self.net = nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).reshape(x.shape[0], self.outputs, self.features)


def _shift_log_scale(made: MADE, h: Tensor, clamp: float) -> tuple[Tensor, Tensor]:
    out = made(h)
    return out[:, 0], clamp * torch.tanh(out[:, 1] / clamp)


class _AffineAutoregressive(Flow):
    """An affine autoregressive layer: a :class:`MADE` giving a shift μ and a log-scale α = c·tanh(α̃/c) per
    variable (features, hidden, layers and generator are the MADE's; ``scale_clamp`` is c)."""

    def __init__(
        self,
        features: int,
        hidden: int = 64,
        layers: int = 2,
        *,
        scale_clamp: float = 3.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.made = MADE(features, hidden, layers, 2, generator=generator)
        self.scale_clamp = float(scale_clamp)


class MaskedAutoregressiveFlow(_AffineAutoregressive):
    """MAF (UDL section 16.3.5): forward z = (x − μ[x]) ⊙ exp(−α[x]), one MADE pass; inverse D passes."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = _shift_log_scale(self.made, x, self.scale_clamp)
        return (x - mu) * (-alpha).exp(), -alpha.sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.zeros_like(z)
        for _ in range(z.shape[1]):  # pass d makes variables 1..d exact
            mu, alpha = _shift_log_scale(self.made, x, self.scale_clamp)
            x = z * alpha.exp() + mu
        return x, alpha.sum(1)


class InverseAutoregressiveFlow(_AffineAutoregressive):
    """IAF (UDL section 16.3.6): inverse (sampling) x = z ⊙ exp(α[z]) + μ[z], one pass; forward D passes."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = torch.zeros_like(x)
        for _ in range(x.shape[1]):  # pass d makes latents 1..d exact
            mu, alpha = _shift_log_scale(self.made, z, self.scale_clamp)
            z = (x - mu) * (-alpha).exp()
        return z, -alpha.sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = _shift_log_scale(self.made, z, self.scale_clamp)
        return z * alpha.exp() + mu, alpha.sum(1)
