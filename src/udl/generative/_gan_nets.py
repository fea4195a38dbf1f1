r"""Networks of UDL chapter 15: a fully connected discriminator with mini-batch discrimination (section 15.3.1),
DCGAN-style convolutional generator and discriminator for 8 x 8 images (section 15.3, Radford et al., 2016),
with the conditional inputs and auxiliary heads of cGAN, ACGAN and InfoGAN (section 15.4), and the two-stage
networks of progressive growing, 4 x 4 then 8 x 8 with a fade-in α (section 15.3.2, Karras et al., 2018).

Every network is initialized from an explicit ``torch.Generator``: weights ~ Norm[0, 0.02²] (DCGAN's
initialization), batch-norm scales ~ Norm[1, 0.02²], biases 0; torch's global RNG is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DiscriminatorOutput",
    "MLPDiscriminator",
    "MinibatchDiscrimination",
    "ProgressiveDiscriminator",
    "ProgressiveGenerator",
    "dcgan_init_",
]


@torch.no_grad()
def dcgan_init_(module: nn.Module, generator: torch.Generator | None = None, std: float = 0.02) -> nn.Module:
    """DCGAN's initialization in place: conv / linear weights ~ Norm[0, std²], batch-norm γ ~ Norm[1, std²],
    biases and β 0; draws come from ``generator`` in module order (CPU draws, copied to each parameter's device)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            m.weight.copy_(1 + torch.randn(m.weight.shape, generator=generator) * std)
            m.bias.zero_()
        elif isinstance(m, MinibatchDiscrimination):
            m.T.copy_(torch.randn(m.T.shape, generator=generator) * 0.1)
    return module


def _built(make: Callable[[], None], module: nn.Module, generator: torch.Generator | None) -> None:
    """Build layers without touching torch's global RNG (torch's default init draws from it), then re-draw."""
    with torch.random.fork_rng(devices=[]):
        make()
    dcgan_init_(module, generator)


class MinibatchDiscrimination(nn.Module):
    r"""Mini-batch discrimination (Salimans et al., 2016; UDL section 15.3.1): features that compare each sample
    with the rest of its batch, so the discriminator can see a collapsed (too uniform) batch.

    With M_i = x_i T reshaped to (B, C): c_b(x_i, x_j) = exp(−‖M_{i,b} − M_{j,b}‖₁) and
    o(x_i)_b = Σ_{j≠i} c_b(x_i, x_j) (the paper's sum over all j less its constant self term 1). The output is
    [x_i, o(x_i)] of size A + B.

    Args:
        in_features: A.
        out_features: B, the number of comparison kernels.
        kernel_dim: C, the dimension each kernel compares in.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_dim: int,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if min(in_features, out_features, kernel_dim) < 1:
            raise ValueError("in_features, out_features and kernel_dim must be >= 1")
        self.out_features, self.kernel_dim = out_features, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, out_features * kernel_dim, generator=generator) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        m = (x @ self.T).view(-1, self.out_features, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        l1 = torch.cdist(m, m, p=1)  # (B, N, N): ‖M_{i,b} − M_{j,b}‖₁, exactly 0 on the diagonal
        o = torch.exp(-l1).sum(2).T - 1  # (N, B): the self term exp(0) = 1 removed
        return torch.cat([x, o], dim=1)  # (N, A + B)


class MLPDiscriminator(nn.Module):
    """A fully connected discriminator (LeakyReLU 0.2) for low-dimensional data, optionally with mini-batch
    discrimination before the output layer: x (N, D) -> logits (N,)."""

    def __init__(
        self,
        in_features: int,
        hidden_widths: tuple[int, ...] = (128, 128),
        *,
        minibatch_features: int = 0,
        kernel_dim: int = 4,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not hidden_widths or min(hidden_widths) < 1 or minibatch_features < 0:
            raise ValueError("hidden_widths must be non-empty positive widths and minibatch_features >= 0")

        def make() -> None:
            layers: list[nn.Module] = []
            for d_in, d_out in zip((in_features, *hidden_widths[:-1]), hidden_widths, strict=True):
                layers += [nn.Linear(d_in, d_out), nn.LeakyReLU(0.2)]
            self.trunk = nn.Sequential(*layers)
            width = hidden_widths[-1]
            self.minibatch = (
                MinibatchDiscrimination(width, minibatch_features, kernel_dim) if minibatch_features else None
            )
            self.head = nn.Linear(width + minibatch_features, 1)

        _built(make, self, generator)

    def forward(self, x: Tensor) -> Tensor:
        h = self.trunk(x)  # (N, width)
        if self.minibatch is not None:
            h = self.minibatch(h)  # (N, width + B)
        return self.head(h).squeeze(-1)  # (N,)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) [+ label y (N,)] -> image (N, 1, 8, 8) in [-1, 1].

    Linear -> (C₀, 2, 2) -> BN-ReLU -> ConvTranspose(4, stride 2) 2 -> 4 -> BN-ReLU -> ConvTranspose 4 -> 8 ->
    tanh. With ``num_classes`` > 0 (cGAN, ACGAN) the one-hot label is concatenated to z (Mirza & Osindero, 2014).
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: tuple[int, int] = (64, 32),
        *,
        num_classes: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if latent_dim < 1 or len(channels) != 2 or min(channels) < 1 or num_classes < 0:
            raise ValueError("need latent_dim >= 1, two positive channel counts and num_classes >= 0")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        c0, c1 = channels

        def make() -> None:
            self.project = nn.Sequential(
                nn.Linear(latent_dim + num_classes, c0 * 4), nn.BatchNorm1d(c0 * 4), nn.ReLU()
            )
            self.net = nn.Sequential(
                nn.ConvTranspose2d(c0, c1, 4, stride=2, padding=1),  # 2 -> 4
                nn.BatchNorm2d(c1),
                nn.ReLU(),
                nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),  # 4 -> 8
                nn.Tanh(),
            )

        _built(make, self, generator)
        self.c0 = c0

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError("this generator is conditional: pass the labels y")
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        h = self.project(z).view(-1, self.c0, 2, 2)  # (N, C0, 2, 2)
        return self.net(h)  # (N, 1, 8, 8)


class DiscriminatorOutput(NamedTuple):
    """A DCGAN discriminator's outputs: the real/fake logit and the optional auxiliary heads."""

    logit: Tensor
    """(N,) real-vs-generated logit (or the critic's score)"""
    class_logits: Tensor | None
    """(N, classes) ACGAN's auxiliary classifier"""
    code_logits: Tensor | None
    """(N, K) InfoGAN's Q for the categorical code"""
    code_mean: Tensor | None
    """(N, C) InfoGAN's Q mean for the continuous codes"""


class DCGANDiscriminator(nn.Module):
    """x (N, 1, 8, 8) [+ label y] -> logit (N,): Conv(4, stride 2) 8 -> 4 -> LeakyReLU -> Conv 4 -> 2 -> LeakyReLU
    -> Linear. No batch norm (the WGAN-GP penalty is per sample).

    Args:
        channels: (C₀, C₁).
        num_classes: > 0 makes it conditional (cGAN): one-hot label planes are stacked onto the image.
        aux_classes: > 0 adds ACGAN's auxiliary classifier head on the shared features.
        code_categories, code_continuous: > 0 add InfoGAN's Q heads (categorical logits, continuous means).
        minibatch_features: > 0 puts mini-batch discrimination before the output layer.
    """

    def __init__(
        self,
        channels: tuple[int, int] = (32, 64),
        *,
        num_classes: int = 0,
        aux_classes: int = 0,
        code_categories: int = 0,
        code_continuous: int = 0,
        minibatch_features: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(channels) != 2 or min(channels) < 1:
            raise ValueError(f"channels must be two positive counts, got {channels}")
        if min(num_classes, aux_classes, code_categories, code_continuous, minibatch_features) < 0:
            raise ValueError("class, code and mini-batch counts must be >= 0")
        self.num_classes = num_classes
        c0, c1 = channels
        width = c1 * 4

        def make() -> None:
            self.net = nn.Sequential(
                nn.Conv2d(1 + num_classes, c0, 4, stride=2, padding=1),  # 8 -> 4
                nn.LeakyReLU(0.2),
                nn.Conv2d(c0, c1, 4, stride=2, padding=1),  # 4 -> 2
                nn.LeakyReLU(0.2),
                nn.Flatten(),  # (N, C1 * 4)
            )
            self.minibatch = (
                MinibatchDiscrimination(width, minibatch_features, 4) if minibatch_features else None
            )
            self.head = nn.Linear(width + minibatch_features, 1)
            self.classifier = nn.Linear(width, aux_classes) if aux_classes else None
            self.code_logits = nn.Linear(width, code_categories) if code_categories else None
            self.code_mean = nn.Linear(width, code_continuous) if code_continuous else None

        _built(make, self, generator)

    def outputs(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        if self.num_classes:
            if y is None:
                raise ValueError("this discriminator is conditional: pass the labels y")
            planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, planes], dim=1)  # (N, 1 + classes, 8, 8)
        h = self.net(x)  # (N, C1 * 4)
        g = self.minibatch(h) if self.minibatch is not None else h

        def head(layer: nn.Module | None) -> Tensor | None:
            return layer(h) if layer is not None else None

        return DiscriminatorOutput(
            self.head(g).squeeze(-1), head(self.classifier), head(self.code_logits), head(self.code_mean)
        )

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.outputs(x, y).logit


def _check_stage(resolution: int, alpha: float) -> None:
    if resolution not in (4, 8):
        raise ValueError(f"resolution must be 4 or 8, got {resolution!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")


class ProgressiveGenerator(nn.Module):
    r"""Progressive growing's generator (Karras et al., 2018; UDL section 15.3.2): z -> 4 x 4 features -> a 4 x 4
    image, then a grown block (nearest ×2 upsampling, 3 x 3 conv) -> an 8 x 8 image.

    At ``resolution=8`` the new block fades in: out = α · to_image₈(block(h₄)) + (1 − α) · up(to_image₄(h₄)),
    both images tanh-squashed, so α = 0 is the 4 x 4 generator's output upsampled and α = 1 the full network.
    """

    def __init__(
        self, latent_dim: int = 16, channels: int = 32, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        if min(latent_dim, channels) < 1:
            raise ValueError("latent_dim and channels must be >= 1")
        self.latent_dim, self.channels = latent_dim, channels

        def make() -> None:
            self.base = nn.Sequential(
                nn.Linear(latent_dim, channels * 16), nn.BatchNorm1d(channels * 16), nn.ReLU()
            )
            self.base_conv = nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()
            )
            self.to_image4 = nn.Conv2d(channels, 1, 1)
            self.grow = nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()
            )
            self.to_image8 = nn.Conv2d(channels, 1, 1)

        _built(make, self, generator)

    def forward(self, z: Tensor, resolution: int = 8, alpha: float = 1.0) -> Tensor:
        _check_stage(resolution, alpha)
        h4 = self.base_conv(self.base(z).view(-1, self.channels, 4, 4))  # (N, C, 4, 4)
        small = torch.tanh(self.to_image4(h4))  # (N, 1, 4, 4)
        if resolution == 4:
            return small
        up = F.interpolate(small, scale_factor=2, mode="nearest")  # (N, 1, 8, 8)
        if alpha == 0.0:
            return up
        new = torch.tanh(self.to_image8(self.grow(F.interpolate(h4, scale_factor=2, mode="nearest"))))
        return alpha * new + (1 - alpha) * up


class ProgressiveDiscriminator(nn.Module):
    r"""Progressive growing's discriminator: at 8 x 8, from_image₈ -> 3 x 3 conv -> 2 x 2 average pool to 4 x 4
    features, faded in against from_image₄(avgpool(x)) with the same α; then a shared 4 x 4 head -> logit (N,)."""

    def __init__(self, channels: int = 32, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError("channels must be >= 1")

        def make() -> None:
            self.from_image8 = nn.Sequential(nn.Conv2d(1, channels, 1), nn.LeakyReLU(0.2))
            self.block8 = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.2))
            self.from_image4 = nn.Sequential(nn.Conv2d(1, channels, 1), nn.LeakyReLU(0.2))
            self.head = nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.LeakyReLU(0.2),
                nn.Flatten(),
                nn.Linear(channels * 16, 1),
            )

        _built(make, self, generator)

    def forward(self, x: Tensor, resolution: int = 8, alpha: float = 1.0) -> Tensor:
        _check_stage(resolution, alpha)
        if x.shape[-1] != resolution:
            raise ValueError(f"expected {resolution} x {resolution} images, got {tuple(x.shape)}")
        if resolution == 4:
            h4 = self.from_image4(x)
        else:
            old = self.from_image4(F.avg_pool2d(x, 2))  # (N, C, 4, 4)
            new = F.avg_pool2d(self.block8(self.from_image8(x)), 2) if alpha > 0 else old
            h4 = alpha * new + (1 - alpha) * old
        return self.head(h4).squeeze(-1)  # (N,)
