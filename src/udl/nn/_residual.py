r"""Residual blocks (UDL chapter 11): the output of each block is its input plus a learned correction.

A residual network (UDL section 11.2) adds each block's output back to its input,

.. math:: \mathbf{h}_{k} = \mathbf{h}_{k-1} + \mathbf{f}_k[\mathbf{h}_{k-1}, \boldsymbol\phi_k],

so the block's Jacobian is :math:`\mathbf{I} + \partial\mathbf{f}_k/\partial\mathbf{h}_{k-1}` and the identity
path carries signal and gradient past every block.

Order of operations (UDL section 11.2, fig. 11.5): a block that ended in a ReLU could only add non-negative
values, so the branch starts with the activation and ends with the linear map, ReLU → Linear (fig. 11.5b); with
batch normalization it comes first, BN → ReLU → Linear (section 11.4, fig. 11.6; the "pre-activation" block of
He et al., 2016b). Several such layers may form one branch (fig. 11.5). A network built from these blocks
therefore needs a linear layer before the first block (the input may be all negative), which
``udl.models.ResidualMLP`` provides.

Variance (UDL section 11.4, fig. 11.6): with He initialization the branch's output has the variance of its input,
so h + f[h] doubles the variance at every block. Rescaling the sum by 1/√2 (``output_scale``) keeps it constant; batch
norm at the start of the branch makes the branch's output variance 1 whatever its
input, so the variance grows by about 1 per block (linearly) and later blocks are close to the identity.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from udl.nn._activations import activation_module
from udl.nn._batchnorm import BatchNorm
from udl.nn._mlp import _initialize
from udl.nn.init import he_normal_

__all__ = ["ResidualConvBlock", "ResidualMLPBlock", "seeded_conv", "seeded_linear"]

Init = Literal["he", "xavier", "torch"]


def seeded_linear(
    d_in: int,
    d_out: int,
    init: Init = "he",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Linear:
    """An ``nn.Linear`` initialized like ``udl.nn.MLP``'s layers (He: Ω ~ N(0, 2/D_in), β = 0; or ``"xavier"``,
    ``"torch"``), drawn from ``generator``, never from torch's global RNG (skip_init: no wasted default draw)."""
    if device is None:
        device = torch.get_default_device()  # skip_init would otherwise leave the parameters on "meta"
    layer = nn.utils.skip_init(nn.Linear, d_in, d_out, device=device, dtype=dtype)
    _initialize(layer, init, 0.0, generator)
    return layer


class ResidualMLPBlock(nn.Module):
    r"""A fully connected residual block :math:`\mathbf{h} \leftarrow s\,(\mathbf{h} + \mathbf{f}[\mathbf{h}])`
    (UDL section 11.2).

    The branch is ``layers`` repetitions of [BN] → activation → Linear(width, width) (UDL fig. 11.5b; with
    ``batchnorm=True`` the batch-normalized block of section 11.4); ``branch`` holds it as an ``nn.Sequential``.
    With ``residual=False`` the block computes :math:`s\,\mathbf{f}[\mathbf{h}]`, the same layers without the
    skip connection (a plain network), so the two differ by one flag and have identical parameters.

    Args:
        width: D, the number of hidden units (input and output size).
        layers: number of [BN]-activation-Linear layers in the branch (the book's figures use 1 or 2).
        batchnorm: start every layer of the branch with ``BatchNorm(width)`` (γ = 1, δ = 0 at initialization).
        residual: add the input back (True) or not (a plain block).
        output_scale: s, multiplies the block's output; ``2 ** -0.5`` is the variance-preserving rescaling of
            section 11.4 (fig. 11.6), 1 (default) leaves it alone.
        activation: activation name (``udl.functional.ACTIVATIONS``).
        init: ``"he"`` (default; Ω ~ N(0, 2/D), β = 0), ``"xavier"`` or ``"torch"``, as in ``udl.nn.MLP``.
        generator: source of the initialization's randomness (the global RNG is never touched when given).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        (N, D) -> (N, D).

    Raises:
        ValueError: width or layers < 1, output_scale <= 0, or an unknown activation/init.
    """

    def __init__(
        self,
        width: int,
        layers: int = 1,
        *,
        batchnorm: bool = False,
        residual: bool = True,
        output_scale: float = 1.0,
        activation: str = "relu",
        init: Init = "he",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if int(width) != width or width < 1 or int(layers) != layers or layers < 1:
            raise ValueError(
                f"width and layers must be positive integers, got width={width}, layers={layers}"
            )
        if output_scale <= 0:
            raise ValueError(f"output_scale must be > 0, got {output_scale}")
        if init not in ("he", "xavier", "torch"):
            raise ValueError(f"unknown init {init!r}; valid: he, xavier, torch")
        self.width, self.layers = int(width), int(layers)
        self.batchnorm, self.residual, self.output_scale = batchnorm, residual, float(output_scale)
        modules: list[nn.Module] = []
        for _ in range(self.layers):
            if batchnorm:
                modules.append(BatchNorm(self.width, device=device, dtype=dtype))
            modules.append(activation_module(activation))
            modules.append(seeded_linear(self.width, self.width, init, generator, device, dtype))
        self.branch = nn.Sequential(*modules)  # f[h]

    def forward(self, h: Tensor) -> Tensor:
        out = self.branch(h)  # f[h]
        if self.residual:
            out = h + out  # h + f[h]
        if self.output_scale != 1.0:
            out = out * self.output_scale
        return out

    def extra_repr(self) -> str:
        return (
            f"width={self.width}, layers={self.layers}, batchnorm={self.batchnorm}, residual={self.residual}, "
            f"output_scale={self.output_scale:g}"
        )


def seeded_conv(
    dims: int,
    c_in: int,
    c_out: int,
    kernel_size: int,
    stride: int = 1,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Conv1d/Conv2d with 'same' padding for stride 1, weights ~ N(0, 2/(C_in·k^dims)) (He, UDL eq. 7.32 with
    fan-in C_in times the kernel size), bias 0, drawn from ``generator``."""
    if device is None:
        device = torch.get_default_device()
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    conv = nn.utils.skip_init(
        cls, c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, device=device, dtype=dtype
    )
    with torch.no_grad():
        he_normal_(conv.weight, generator=generator)
        assert conv.bias is not None
        conv.bias.zero_()
    return conv


class ResidualConvBlock(nn.Module):
    r"""A convolutional residual block :math:`\mathbf{h} \leftarrow \mathbf{p}[\mathbf{h}] + \mathbf{f}[\mathbf{h}]`
    (UDL section 11.5; pre-activation order as in fig. 11.5b).

    Branch f: [BN] → ReLU → Conv(k, stride) → [BN] → ReLU → Conv(k), ``branch``. Shortcut p: the identity when
    the block keeps the channels and the resolution; otherwise a 1×1 convolution with the same stride
    (a "projection", He et al., 2016a), ``shortcut``. With ``residual=False`` the block computes f[h] alone.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        stride: stride of the first convolution (2 halves the resolution; the shortcut strides alike).
        kernel_size: odd kernel size k (padding k // 2 keeps the size at stride 1).
        dims: 1 for (N, C, L) signals, 2 for (N, C, H, W) images.
        batchnorm: put ``BatchNorm(C)`` before each activation.
        residual: add the shortcut (True) or not (a plain block, which then has no projection either).
        activation: activation name.
        generator: source of the initialization's randomness (He normal weights, zero biases).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        (N, C_in, L) -> (N, C_out, ⌈L/stride⌉) for dims=1; (N, C_in, H, W) -> (N, C_out, ⌈H/s⌉, ⌈W/s⌉) for dims=2.

    Raises:
        ValueError: non-positive sizes, an even kernel size or dims not in (1, 2).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        kernel_size: int = 3,
        dims: int = 1,
        batchnorm: bool = True,
        residual: bool = True,
        activation: str = "relu",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, stride, kernel_size) < 1:
            raise ValueError(
                f"channels, stride and kernel_size must be >= 1, got in_channels={in_channels}, "
                f"out_channels={out_channels}, stride={stride}, kernel_size={kernel_size}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (so padding keeps the size), got {kernel_size}")
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 (signals) or 2 (images), got {dims}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.dims, self.batchnorm, self.residual = dims, batchnorm, residual
        modules: list[nn.Module] = []
        for c_in, c_out, s in ((in_channels, out_channels, stride), (out_channels, out_channels, 1)):
            if batchnorm:
                modules.append(BatchNorm(c_in, device=device, dtype=dtype))
            modules.append(activation_module(activation))
            modules.append(seeded_conv(dims, c_in, c_out, kernel_size, s, generator, device, dtype))
        self.branch = nn.Sequential(*modules)  # f[h]
        needs_projection = residual and (in_channels != out_channels or stride != 1)
        self.shortcut: nn.Module = (
            seeded_conv(dims, in_channels, out_channels, 1, stride, generator, device, dtype)
            if needs_projection
            else nn.Identity()
        )

    def forward(self, h: Tensor) -> Tensor:
        out = self.branch(h)  # f[h]
        if self.residual:
            out = self.shortcut(h) + out  # p[h] + f[h]
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, stride={self.stride}, dims={self.dims}, "
            f"batchnorm={self.batchnorm}, residual={self.residual}"
        )
