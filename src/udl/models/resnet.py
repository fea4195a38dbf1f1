r"""Small residual networks (UDL chapter 11): a residual MLP and a small convolutional ResNet.

``ResidualMLP`` is the network of UDL fig. 11.5b and notebooks 11.2-11.3: a linear layer, ``depth`` residual
blocks ``h ← h + f[h]`` with f = [BN] → ReLU → Linear (``udl.nn.ResidualMLPBlock``), then [BN] → ReLU → Linear to
the outputs. The flags ``residual`` and ``batchnorm`` switch the skip connections and batch normalization off and
on without changing anything else, so the plain network of the same depth is one flag away: with
``residual=False, batchnorm=False`` and one layer per block it *is* ``udl.nn.MLP`` with ``depth + 1`` hidden layers
(same parameters, drawn in the same order from the same generator).

``ResNet`` is a small pre-activation ResNet (He et al., 2016; UDL section 11.5) for 1-D signals (MNIST-1D,
(N, C, L)) or images ((N, C, H, W)): a stem convolution, stages of ``udl.nn.ResidualConvBlock`` whose first block
halves the resolution and changes the channels (1×1 projection shortcut), then BN → ReLU → global average
pooling → Linear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from udl.functional import ACTIVATIONS
from udl.nn import (
    BatchNorm,
    ResidualConvBlock,
    ResidualMLPBlock,
    activation_module,
    seeded_conv,
    seeded_linear,
)

__all__ = ["ResNet", "ResNetConfig", "ResidualMLP", "ResidualMLPConfig"]


@dataclass(frozen=True)
class ResidualMLPConfig:
    """Shape and switches of a ``ResidualMLP``."""

    in_features: int
    """D_i, the input size"""
    out_features: int
    """D_o, the output size"""
    width: int = 100
    """D, hidden units in every layer"""
    depth: int = 4
    """number of residual blocks (0 gives a shallow network)"""
    layers_per_block: int = 1
    """[BN]-ReLU-Linear layers in each block's branch (fig. 11.5b: 1)"""
    residual: bool = True
    """skip connections h + f[h]; False gives the plain network of the same depth"""
    batchnorm: bool = False
    """batch norm at the start of every branch layer and before the output layer (section 11.4)"""
    rescale: bool = False
    """multiply every block's output by 1/√2 (the variance-preserving alternative to batch norm, fig. 11.6)"""
    activation: str = "relu"
    """activation name"""
    init: Literal["he", "xavier", "torch"] = "he"
    """weight initialization, as in udl.nn.MLP (He: Ω ~ N(0, 2/D_in), β = 0)"""

    def __post_init__(self) -> None:
        if min(self.in_features, self.out_features, self.width, self.layers_per_block) < 1 or self.depth < 0:
            raise ValueError(
                f"need in_features, out_features, width, layers_per_block >= 1 and depth >= 0, got {self}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
            )
        if self.init not in ("he", "xavier", "torch"):
            raise ValueError(f"unknown init {self.init!r}; valid: he, xavier, torch")

    @property
    def hidden_layers(self) -> int:
        """Number of hidden layers (activations on the path input → output): 1 + depth · layers_per_block."""
        return 1 + self.depth * self.layers_per_block


class ResidualMLP(nn.Module):
    r"""A fully connected residual network (UDL section 11.2, fig. 11.5b):

    .. math::
        \mathbf{h}_0 = \boldsymbol\beta_0 + \boldsymbol\Omega_0\mathbf{x}, \qquad
        \mathbf{h}_k = s\,(\mathbf{h}_{k-1} + \mathbf{f}_k[\mathbf{h}_{k-1}]) \;(k = 1..K), \qquad
        \mathbf{y} = \boldsymbol\beta_\text{out} + \boldsymbol\Omega_\text{out}\,
            \mathrm{ReLU}[\mathrm{BN}[\mathbf{h}_K]]

    with f_k = ([BN] → ReLU → Linear) × ``layers_per_block``, s = 1/√2 when ``rescale`` else 1, and the BNs only
    with ``batchnorm``. Without ``residual`` the blocks compute s·f_k[h_{k−1}] (a plain deep network).

    Args:
        config: the shape and switches.
        generator: source of the initialization's randomness; the global RNG is never touched when given.
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        (N, D_i) -> (N, D_o).
    """

    def __init__(
        self,
        config: ResidualMLPConfig,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.config = c = config
        # Drawn in path order (input, blocks, output), as udl.nn.MLP draws its layers.
        self.input_layer = seeded_linear(c.in_features, c.width, c.init, generator, device, dtype)
        self.blocks = nn.ModuleList(
            ResidualMLPBlock(
                c.width,
                c.layers_per_block,
                batchnorm=c.batchnorm,
                residual=c.residual,
                output_scale=1 / math.sqrt(2) if c.rescale else 1.0,
                activation=c.activation,
                init=c.init,
                generator=generator,
                device=device,
                dtype=dtype,
            )
            for _ in range(c.depth)
        )
        head: list[nn.Module] = [BatchNorm(c.width, device=device, dtype=dtype)] if c.batchnorm else []
        head.append(activation_module(c.activation))
        head.append(seeded_linear(c.width, c.out_features, c.init, generator, device, dtype))
        self.head = nn.Sequential(*head)

    def hidden_states(self, x: Tensor) -> list[Tensor]:
        """h_0 (after the input layer) and the output h_k of every block, k = 1..depth: depth + 1 tensors (N, D)."""
        h = self.input_layer(x)
        states = [h]
        for block in self.blocks:
            h = block(h)
            states.append(h)
        return states

    def forward(self, x: Tensor) -> Tensor:
        h = self.input_layer(x)  # (N, D)
        for block in self.blocks:
            h = block(h)  # (N, D)
        return self.head(h)  # (N, D_o)


@dataclass(frozen=True)
class ResNetConfig:
    """Shape and switches of a small ``ResNet``."""

    in_channels: int = 1
    """input channels (1 for MNIST-1D)"""
    num_classes: int = 10
    """outputs of the final linear layer"""
    channels: tuple[int, ...] = (16, 32, 64)
    """channels of each stage; every stage after the first halves the resolution"""
    blocks: tuple[int, ...] = (2, 2, 2)
    """residual blocks per stage"""
    dims: int = 1
    """1 for signals (N, C, L), 2 for images (N, C, H, W)"""
    kernel_size: int = 3
    """odd kernel size of every 3×3-style convolution"""
    batchnorm: bool = True
    """batch norm before every activation"""
    residual: bool = True
    """skip connections; False gives the plain convolutional network of the same depth"""
    activation: str = "relu"
    """activation name"""

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.blocks) or not self.channels:
            raise ValueError(
                f"channels and blocks need one entry per stage, got channels={self.channels}, blocks={self.blocks}"
            )
        if min(self.in_channels, self.num_classes, *self.channels, *self.blocks) < 1:
            raise ValueError(f"channels, blocks, in_channels and num_classes must be >= 1, got {self}")
        if self.dims not in (1, 2):
            raise ValueError(f"dims must be 1 (signals) or 2 (images), got {self.dims}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
            )


class ResNet(nn.Module):
    """A small pre-activation ResNet for 1-D signals or images (UDL section 11.5).

    stem Conv(C_in → channels[0], k) → stage s = 0..S−1 of ``blocks[s]`` ``ResidualConvBlock``\\ s (the first
    block of every stage after the first has stride 2 and a 1×1 projection shortcut) → [BN] → ReLU → global
    average pooling → Linear(channels[−1] → num_classes).

    For ``dims=1`` and ``in_channels=1`` a 2-D input (N, L), e.g. MNIST-1D's (N, 40), is read as (N, 1, L).

    Args:
        config: the shape and switches (default ``ResNetConfig()``: 3 stages of 2 blocks, 16-32-64 channels, 1-D).
        generator: source of the initialization's randomness (He normal weights, zero biases).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        (N, C_in, L) or (N, C_in, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        config: ResNetConfig | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.config = c = config if config is not None else ResNetConfig()
        self.stem = seeded_conv(
            c.dims, c.in_channels, c.channels[0], c.kernel_size, 1, generator, device, dtype
        )
        stages = []
        c_in = c.channels[0]
        for s, (c_out, n_blocks) in enumerate(zip(c.channels, c.blocks, strict=True)):
            blocks = []
            for b in range(n_blocks):
                blocks.append(
                    ResidualConvBlock(
                        c_in,
                        c_out,
                        stride=2 if (s > 0 and b == 0) else 1,
                        kernel_size=c.kernel_size,
                        dims=c.dims,
                        batchnorm=c.batchnorm,
                        residual=c.residual,
                        activation=c.activation,
                        generator=generator,
                        device=device,
                        dtype=dtype,
                    )
                )
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        head: list[nn.Module] = [BatchNorm(c_in, device=device, dtype=dtype)] if c.batchnorm else []
        head.append(activation_module(c.activation))
        self.head_norm = nn.Sequential(*head)
        self.fc = seeded_linear(c_in, c.num_classes, "he", generator, device, dtype)

    def features(self, x: Tensor) -> Tensor:
        """The last stage's activations after [BN] → ReLU, (N, channels[−1], L') or (N, channels[−1], H', W')."""
        if self.config.dims == 1 and self.config.in_channels == 1 and x.dim() == 2:
            x = x.unsqueeze(1)  # (N, L) -> (N, 1, L)
        expected = self.config.dims + 2
        if x.dim() != expected or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"ResNet(dims={self.config.dims}, in_channels={self.config.in_channels}) expects "
                f"{expected}-D input (N, {self.config.in_channels}, ...), got {tuple(x.shape)}"
            )
        return self.head_norm(self.stages(self.stem(x)))

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (N, C, L') or (N, C, H', W')
        pooled = h.flatten(2).mean(-1)  # global average pooling, (N, C)
        return self.fc(pooled)  # (N, num_classes)
