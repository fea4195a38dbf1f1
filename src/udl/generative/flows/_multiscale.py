r"""Multi-scale flows (UDL section 16.4): squeeze, transform, factor out half the variables, repeat.

:class:`Squeeze` turns each 2 × 2 block of pixels into 4 channels, (C, H, W) → (4C, H/2, W/2): a permutation
of the variables, |det| = 1, that lets channel-wise couplings mix neighbouring pixels. :class:`MultiScaleFlow`
runs a list of blocks; after every block but the last it *factors out* half of the channels: they are already
latent variables (compared with the base density directly) and the remaining half goes on to the next, coarser
scale. The latent is the concatenation of every factored part and the last block's output, flattened: (N, D).
Later blocks thus cost less, and the factored variables model fine detail while the deep ones model the
coarse structure (the architecture of RealNVP and Glow).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from udl.generative.flows._base import Flow, SequentialFlow
from udl.generative.flows._coupling import AffineCoupling, channel_mask, conv_conditioner
from udl.generative.flows._linear import LinearLU

__all__ = ["MultiScaleFlow", "Squeeze", "multiscale_realnvp"]


class Squeeze(Flow):
    """(N, C, H, W) → (N, 4C, H/2, W/2): channel c·4 + 2i + j holds pixel (2y + i, 2x + j) of channel c."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs even height and width, got {h} x {w}")
        z = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)  # (N, C, 2, 2, H/2, W/2)
        return z.reshape(n, 4 * c, h // 2, w // 2), x.new_zeros(n)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        n, c4, h, w = z.shape
        x = z.reshape(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)  # (N, C, H/2, 2, W/2, 2)
        return x.reshape(n, c4 // 4, 2 * h, 2 * w), z.new_zeros(n)


class MultiScaleFlow(Flow):
    """Blocks at successive scales, half of the channels factored out after each block but the last.

    Args:
        blocks: flows on (N, C_i, H_i, W_i) tensors (each usually starts with a :class:`Squeeze`).
        shape: the event shape (C, H, W) of x; the latent is (N, C·H·W).
    """

    def __init__(self, blocks: Sequence[Flow], shape: Sequence[int]) -> None:
        super().__init__()
        if not blocks:
            raise ValueError("MultiScaleFlow needs at least one block")
        self.blocks = nn.ModuleList(blocks)
        self.shape = tuple(shape)
        # trace the shapes once: what each block factors out and what the last one outputs
        self.kept: list[tuple[int, ...]] = []
        with torch.no_grad():
            h = torch.zeros(1, *self.shape)
            for i, block in enumerate(self.blocks):
                h, _ = block(h)
                if i < len(self.blocks) - 1:
                    if h.shape[1] < 2:
                        raise ValueError(f"block {i} outputs {h.shape[1]} channel(s): nothing to factor out")
                    self.kept.append(tuple(h.shape[1:]))
                    h = h[:, h.shape[1] // 2 :]
            self.kept.append(tuple(h.shape[1:]))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        parts = []
        h = x
        for i, block in enumerate(self.blocks):
            h, log_det = block(h)
            total = total + log_det
            if i < len(self.blocks) - 1:
                half = h.shape[1] // 2
                parts.append(h[:, :half].flatten(1))  # factored out: latent from here on
                h = h[:, half:]
        parts.append(h.flatten(1))
        return torch.cat(parts, dim=1), total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        sizes = []
        for i, shape in enumerate(self.kept):
            c, *rest = shape
            sizes.append((c // 2 if i < len(self.kept) - 1 else c) * math.prod(rest))
        parts = torch.split(z, sizes, dim=1)
        total = z.new_zeros(z.shape[0])
        last = self.kept[-1]
        h = parts[-1].reshape(z.shape[0], *last)
        for i in range(len(self.blocks) - 1, -1, -1):
            if i < len(self.blocks) - 1:
                c, *rest = self.kept[i]
                h = torch.cat([parts[i].reshape(z.shape[0], c // 2, *rest), h], dim=1)
            block = self.blocks[i]
            assert isinstance(block, Flow)
            h, log_det = block.inverse(h)
            total = total + log_det
        return h, total


def multiscale_realnvp(
    shape: Sequence[int],
    scales: int = 2,
    steps: int = 4,
    hidden: int = 64,
    *,
    generator: torch.Generator | None = None,
) -> MultiScaleFlow:
    """A RealNVP/Glow-style multi-scale flow for (C, H, W) images: each scale is a :class:`Squeeze` then
    ``steps`` × [channel-mixing :class:`LinearLU` (an invertible 1 × 1 convolution), affine coupling on
    alternating channel halves with a convolutional conditioner]; half the channels are factored out between
    scales. H and W must be divisible by 2^scales."""
    c, h, w = shape
    if scales < 1 or steps < 1:
        raise ValueError(f"scales and steps must be >= 1, got scales={scales}, steps={steps}")
    if h % 2**scales or w % 2**scales:
        raise ValueError(f"height and width must be divisible by 2^scales = {2**scales}, got {h} x {w}")
    blocks: list[Flow] = []
    channels = c
    for s in range(scales):
        channels *= 4
        layers: list[Flow] = [Squeeze()]
        for k in range(steps):
            layers.append(LinearLU(channels, dim=1, generator=generator))
            mask = channel_mask(channels, parity=k % 2)
            layers.append(AffineCoupling(mask, conv_conditioner(channels, hidden, generator=generator)))
        blocks.append(SequentialFlow(*layers))
        if s < scales - 1:
            channels //= 2
    return MultiScaleFlow(blocks, shape)
