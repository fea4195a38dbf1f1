r"""U-Net (UDL section 11.5.3) and the same encoder-decoder without skip connections (section 10.5.3).

Semantic segmentation assigns a label to every pixel (UDL section 10.5.3). An encoder-decoder ("hourglass")
network does it by repeatedly halving the resolution while adding channels, so that each unit sees a large
part of the image, then repeatedly doubling it back to the input's size and predicting per-pixel class logits.
The catch: everything the decoder knows about *where* things are must squeeze through the lowest-resolution
representation, so boundaries come out blurred. The U-Net (Ronneberger et al., 2015; UDL section 11.5.3) adds
skip connections: the encoder's representation at each scale is concatenated to the decoder's
representation at the same scale, handing the fine spatial detail straight across.

Layout with widths (D_1, ..., D_L), input H x W (divisible by 2^(L-1)):

```
encoder  level l:  [max-pool 2x2 if l > 1]  conv3x3-BN-ReLU (D_l)  conv3x3-BN-ReLU (D_l)    -> e_l
decoder  level l:  up-convolution: nearest 2x upsampling, conv3x3-BN-ReLU (D_{l+1} -> D_l)   -> u_l
                   [concat(e_l, u_l) if skip]  conv3x3-BN-ReLU (D_l)  conv3x3-BN-ReLU (D_l)  -> d_l
head:              1x1 conv (D_1 -> num_classes): per-pixel class logits
```

``skip=False`` gives the identical network minus the concatenations (the first decoder conv of each level then
takes D_l input channels rather than 2 D_l, so it has fewer weights; every other layer is the same). The
original U-Net uses no batch normalization and unpadded convolutions; here the convolutions are padded so the
output has the input's size, and ``batch_norm`` (on by default) helps a small net train quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from udl.nn.init import he_normal_

__all__ = ["UNet", "UNetConfig"]


@dataclass(frozen=True)
class UNetConfig:
    """Hyperparameters of :class:`UNet`."""

    in_channels: int = 1
    """input image channels"""
    num_classes: int = 4
    """output channels: per-pixel class logits (background included)"""
    widths: tuple[int, ...] = (16, 32, 64)
    """channels at each resolution level, finest first; L = len(widths) levels, L - 1 halvings"""
    skip: bool = True
    """concatenate encoder features into the decoder (U-Net); False: the plain encoder-decoder"""
    batch_norm: bool = True
    """batch normalization after every 3x3 convolution"""

    def __post_init__(self) -> None:
        _check_channels(self.in_channels, self.num_classes, self.widths)


def _check_channels(in_channels: int, num_classes: int, widths: tuple[int, ...]) -> None:
    """The checks a dense-prediction network's config shares: channel and class counts, per-level widths."""
    if in_channels < 1 or num_classes < 1:
        raise ValueError(f"in_channels and num_classes must be >= 1, got {in_channels}, {num_classes}")
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty tuple of positive channel counts, got {widths}")


def _conv2d(
    in_channels: int, out_channels: int, kernel_size: int, *, bias: bool, generator: torch.Generator | None
) -> nn.Conv2d:
    """A padded ("same") ``nn.Conv2d`` with He-normal weights (UDL eq. 7.32) drawn from ``generator`` and zero
    bias; building it never touches torch's global RNG when a generator is given."""
    conv = nn.utils.skip_init(
        nn.Conv2d,
        in_channels,
        out_channels,
        kernel_size,
        padding=kernel_size // 2,
        bias=bias,
        device=torch.get_default_device(),
    )
    he_normal_(conv.weight, generator=generator)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def _conv_bn_relu(
    in_channels: int, out_channels: int, *, batch_norm: bool, generator: torch.Generator | None
) -> nn.Sequential:
    """3x3 convolution, optional batch normalization, ReLU."""
    layers: list[nn.Module] = [
        _conv2d(in_channels, out_channels, 3, bias=not batch_norm, generator=generator)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _double_conv(
    in_channels: int, out_channels: int, *, batch_norm: bool, generator: torch.Generator | None
) -> nn.Sequential:
    return nn.Sequential(
        _conv_bn_relu(in_channels, out_channels, batch_norm=batch_norm, generator=generator),
        _conv_bn_relu(out_channels, out_channels, batch_norm=batch_norm, generator=generator),
    )


class UNet(nn.Module):
    """U-Net (``cfg.skip=True``) or plain encoder-decoder (``cfg.skip=False``) for per-pixel classification.

    Args:
        cfg: the hyperparameters.
        generator: source of the initial weights (He normal); two nets built from equally seeded generators are
            identical, and with a generator building never touches torch's global RNG.

    Shapes:
        input (N, in_channels, H, W) with H and W divisible by 2^(L-1) -> logits (N, num_classes, H, W).
    """

    def __init__(self, cfg: UNetConfig | None = None, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        cfg = cfg if cfg is not None else UNetConfig()
        self.cfg = cfg
        bn, widths = cfg.batch_norm, cfg.widths
        self.down = nn.ModuleList()
        previous = cfg.in_channels
        for width in widths:
            self.down.append(_double_conv(previous, width, batch_norm=bn, generator=generator))
            previous = width
        # decoder level l (0-based, l = L-2 ... 0) lifts level l+1's output to level l
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                _conv_bn_relu(widths[level + 1], widths[level], batch_norm=bn, generator=generator),
            )
            for level in range(len(widths) - 1)
        )
        factor = 2 if cfg.skip else 1
        self.decode = nn.ModuleList(
            _double_conv(factor * widths[level], widths[level], batch_norm=bn, generator=generator)
            for level in range(len(widths) - 1)
        )
        self.head = _conv2d(widths[0], cfg.num_classes, 1, bias=True, generator=generator)

    @property
    def levels(self) -> int:
        return len(self.cfg.widths)

    def forward(self, x: Tensor) -> Tensor:
        factor = 2 ** (self.levels - 1)
        if x.dim() != 4 or x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(
                f"UNet with {self.levels} levels needs input (N, C, H, W) with H and W divisible by {factor}, "
                f"got {tuple(x.shape)}"
            )
        encoded = []
        h = x
        for level, block in enumerate(self.down):
            if level:
                h = nn.functional.max_pool2d(h, 2)  # (N, D_{l-1}, H / 2^l, W / 2^l)
            h = block(h)
            encoded.append(h)
        for level in reversed(range(self.levels - 1)):
            h = self.up[level](h)  # (N, D_l, H / 2^l, W / 2^l)
            if self.cfg.skip:
                h = torch.cat([encoded[level], h], dim=1)  # (N, 2 D_l, H / 2^l, W / 2^l)
            h = self.decode[level](h)
        return self.head(h)  # (N, num_classes, H, W)
