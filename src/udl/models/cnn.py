r"""Convolutional classifiers of UDL chapter 10: the 1D network of fig. 10.7 and a small 2D image network.

A convolutional layer computes every output position with the same small kernel (UDL section 10.2): for a 1D
input with C_in channels, C_out kernels of size K and stride s,

.. math:: h_{c,i} = \mathrm{a}\Big[\beta_c + \sum_{c'=1}^{C_{in}} \sum_{k=1}^{K} \omega_{c,c',k}\,
          x_{c',\,s(i-1)+k}\Big],

the multi-channel, strided form of the book's 1D convolution (UDL section 10.2), "valid" (no padding);
``torch.nn.functional.conv1d`` computes the same cross-correlation. A layer has :math:`C_{out}(C_{in}K + 1)`
parameters however long the input is, which is why a convolutional network needs far fewer parameters than a
fully connected one (section 10.2).

:class:`MNIST1DCNN` is the network of UDL fig. 10.7 / notebook 10.2 for MNIST-1D: three valid convolutions
(15 channels, kernel 3, stride 2) with ReLUs, then a linear map of the flattened 15 x 4 = 60 features to the 10
classes. On a 40-sample input the lengths go 40 -> 19 -> 9 -> 4 (``floor((L - 3) / 2) + 1``) and the
parameters add up to

    conv 1:  15 x (1 x 3 + 1)  =    60
    conv 2:  15 x (15 x 3 + 1) =   690
    conv 3:  15 x (15 x 3 + 1) =   690
    linear:  10 x (60 + 1)     =   610
                                 -----
                                 2,050

Its hidden layers have 15 x 19 = 285, 15 x 9 = 135 and 15 x 4 = 60 units; a fully connected network with the
same hidden units, 40-285-135-60-10, has 11,685 + 38,610 + 8,160 + 610 = 59,065 parameters (the comparison of
UDL fig. 10.8).

:class:`DigitsCNN` is a small image classifier for scikit-learn's 8 x 8 digits (section 10.5's recipe in
miniature): two 3 x 3 "same" convolutions, each followed by a ReLU and 2 x 2 max pooling (8 -> 4 -> 2), then a
linear layer. With the default 16 and 32 channels it has 160 + 4,640 + 1,290 = 6,090 parameters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import torch
from torch import Tensor, nn

from udl.functional import conv_output_size
from udl.nn.init import he_uniform_

__all__ = [
    "MNIST1DCNN",
    "DigitsCNN",
    "DigitsCNNConfig",
    "MNIST1DCNNConfig",
]

Init = Literal["he", "notebook", "torch"]
_INITS = ("he", "notebook", "torch")


@torch.no_grad()
def _initialize(
    layer: nn.Conv1d | nn.Conv2d | nn.Linear, init: Init, generator: torch.Generator | None
) -> None:
    """He-uniform weights and zero biases (``"he"``), or torch's default, drawn from ``generator``.

    ``"notebook"`` is what UDL notebook 10.2 does: its ``weights_init`` applies ``kaiming_uniform_`` and a zero
    bias to ``nn.Linear`` layers only, so its convolutions keep torch's default initialization.
    """
    he = init == "he" or (init == "notebook" and isinstance(layer, nn.Linear))
    if he:
        he_uniform_(layer.weight, generator=generator)  # U(−a, a), a = √(6 / fan_in): variance 2 / fan_in
        assert layer.bias is not None
        layer.bias.zero_()
    else:
        # torch's default: kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in) for the weight and the bias.
        fan_in = math.prod(layer.weight.shape[1:])
        bound = 1.0 / math.sqrt(fan_in)
        layer.weight.uniform_(-bound, bound, generator=generator)
        assert layer.bias is not None
        layer.bias.uniform_(-bound, bound, generator=generator)


def _check_init(init: str) -> None:
    if init not in _INITS:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(_INITS)}")


_LayerT = TypeVar("_LayerT", nn.Conv1d, nn.Conv2d, nn.Linear)


def _layer(
    cls: type[_LayerT],
    *args: int,
    init: Init,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
    **kwargs: int,
) -> _LayerT:
    """``cls(*args, **kwargs)`` initialized by ``init`` from ``generator``.

    ``skip_init`` allocates it without torch's default initialization, which would consume the global RNG;
    ``device=None`` means torch's default device (``skip_init`` would otherwise leave the parameters on "meta").
    """
    if device is None:
        device = torch.get_default_device()
    layer = nn.utils.skip_init(cls, *args, device=device, dtype=dtype, **kwargs)
    _initialize(layer, init, generator)
    return layer


_Make = Callable[..., nn.Module]


_ConfigT = TypeVar("_ConfigT")


class _ConvClassifier(nn.Module, Generic[_ConfigT]):
    """Convolutions (``_convs`` of the config, each built by ``_layer`` with the network's ``init``, ``generator``,
    ``device`` and ``dtype``) then one linear layer to ``num_classes`` logits; the subclass's ``forward`` says how
    the convolutions are applied. Layers are built in order, so one seeded generator gives one network."""

    _default_config: Callable[[], _ConfigT]

    def __init__(
        self,
        config: _ConfigT | None = None,
        *,
        init: Init = "he",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_init(init)
        self.config: _ConfigT = config if config is not None else self._default_config()
        cfg: Any = self.config  # the subclass's config: its layers' sizes
        make = functools.partial(_layer, init=init, generator=generator, device=device, dtype=dtype)
        self.convs = nn.ModuleList(self._convs(cfg, make))
        self.linear = make(nn.Linear, cfg.flat_features, cfg.num_classes)

    @staticmethod
    def _convs(cfg: Any, make: _Make) -> list[nn.Module]:  # pragma: no cover - overridden
        raise NotImplementedError

    def num_parameters(self) -> int:
        """Number of scalar parameters (2,050 for the default MNIST1DCNN, 6,090 for the default DigitsCNN)."""
        return sum(p.numel() for p in self.parameters())


# ------------------------------------------------------------------------------------------------ MNIST-1D


@dataclass(frozen=True)
class MNIST1DCNNConfig:
    """The 1D convolutional network of UDL fig. 10.7 / notebook 10.2 (defaults: 2,050 parameters)."""

    in_length: int = 40
    """input length (MNIST-1D: 40 samples, one channel)"""
    channels: int = 15
    """channels of every convolutional layer"""
    num_layers: int = 3
    """number of convolutional layers"""
    kernel_size: int = 3
    """kernel size of every convolution (valid padding)"""
    stride: int = 2
    """stride of every convolution"""
    num_classes: int = 10
    """outputs of the final linear layer"""

    def __post_init__(self) -> None:
        if min(self.in_length, self.channels, self.num_layers, self.kernel_size, self.stride) < 1:
            raise ValueError("in_length, channels, num_layers, kernel_size and stride must be >= 1")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        _ = self.lengths  # raises ValueError when the input is too short for the layers

    @property
    def lengths(self) -> tuple[int, ...]:
        """Lengths of the input and of each layer's output: (40, 19, 9, 4) by default."""
        lengths = [self.in_length]
        for _ in range(self.num_layers):
            lengths.append(conv_output_size(lengths[-1], self.kernel_size, self.stride))
        return tuple(lengths)

    @property
    def hidden_units(self) -> tuple[int, ...]:
        """Hidden units per convolutional layer, channels x length: (285, 135, 60) by default."""
        return tuple(self.channels * n for n in self.lengths[1:])

    @property
    def flat_features(self) -> int:
        """Features entering the linear layer: channels x final length = 60 by default."""
        return self.hidden_units[-1]


class MNIST1DCNN(_ConvClassifier[MNIST1DCNNConfig]):
    r"""1D convolutional classifier for MNIST-1D (UDL fig. 10.7, notebook 10.2).

    ``num_layers`` times: valid Conv1d(C_in, ``channels``, ``kernel_size``, ``stride``) then ReLU; then
    Flatten and Linear(``flat_features``, ``num_classes``). The default configuration has exactly 2,050
    parameters (see the module docstring for the count).

    Args:
        config: the architecture.
        init: ``"he"``: He-uniform weights (variance 2 / fan_in, UDL eq. 7.32) and zero biases everywhere;
            ``"notebook"``: notebook 10.2's own initialization, He-uniform with zero bias for the linear layer
            only while the convolutions keep torch's default U(±1/√fan_in) for weights and biases (its
            ``weights_init`` matches ``nn.Linear`` only); ``"torch"``: torch's default everywhere.
        generator: source of randomness for the initialization; building never touches torch's global
            generator when one is given, and two networks built from generators seeded alike are identical.
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (N, in_length) or (N, 1, in_length) -> logits (N, num_classes).
    """

    _default_config = MNIST1DCNNConfig

    @staticmethod
    def _convs(cfg: MNIST1DCNNConfig, make: _Make) -> list[nn.Module]:
        return [
            make(nn.Conv1d, c_in, cfg.channels, cfg.kernel_size, stride=cfg.stride)
            for c_in in [1] + [cfg.channels] * (cfg.num_layers - 1)
        ]

    def forward(self, x: Tensor) -> Tensor:
        h = x.unsqueeze(1) if x.dim() == 2 else x  # (N, 1, 40)
        for conv in self.convs:
            h = torch.relu(conv(h))  # (N, 15, 19) -> (N, 15, 9) -> (N, 15, 4)
        return self.linear(h.flatten(1))  # (N, 60) -> (N, 10)


# ------------------------------------------------------------------------------------------------ 8x8 digits


@dataclass(frozen=True)
class DigitsCNNConfig:
    """A small 2D convolutional network for 8 x 8 grey images (defaults: 6,090 parameters)."""

    image_size: int = 8
    """height = width of the input images"""
    in_channels: int = 1
    """input channels (1 for grey images)"""
    channels: tuple[int, ...] = (16, 32)
    """output channels of each conv -> ReLU -> 2x2 max-pool block"""
    kernel_size: int = 3
    """kernel size of every convolution ("same" padding, odd sizes only)"""
    num_classes: int = 10
    """outputs of the final linear layer"""

    def __post_init__(self) -> None:
        if min(self.image_size, self.in_channels, self.kernel_size) < 1 or not self.channels:
            raise ValueError("image_size, in_channels, kernel_size must be >= 1 and channels non-empty")
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be >= 1, got {self.channels}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {self.kernel_size}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.final_size < 1:
            raise ValueError(
                f"{len(self.channels)} pooling blocks shrink a {self.image_size}x{self.image_size} image to nothing"
            )

    @property
    def final_size(self) -> int:
        """Height = width after all blocks (each 2 x 2 max-pool halves it, rounding down): 2 by default."""
        return self.image_size // 2 ** len(self.channels)

    @property
    def flat_features(self) -> int:
        """Features entering the linear layer: 32 x 2 x 2 = 128 by default."""
        return self.channels[-1] * self.final_size**2


class DigitsCNN(_ConvClassifier[DigitsCNNConfig]):
    r"""Small image classifier: (conv 3x3 "same" -> ReLU -> max-pool 2x2) per entry of ``channels``, then a
    linear layer (UDL section 10.5: convolutions interleaved with downsampling, then fully connected layers).

    Args:
        config: the architecture.
        init: ``"he"`` (He-uniform weights, zero biases), ``"notebook"`` (He for the linear layer only, torch's
            default for the convolutions, as UDL notebooks 10.2 and 10.5 do) or ``"torch"``.
        generator: source of randomness for the initialization (the global generator is never touched when one
            is given).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (N, in_channels, image_size, image_size) -> logits (N, num_classes).
    """

    _default_config = DigitsCNNConfig

    @staticmethod
    def _convs(cfg: DigitsCNNConfig, make: _Make) -> list[nn.Module]:
        return [
            make(nn.Conv2d, c_in, c_out, cfg.kernel_size, padding=cfg.kernel_size // 2)
            for c_in, c_out in zip((cfg.in_channels, *cfg.channels[:-1]), cfg.channels, strict=True)
        ]

    def forward(self, x: Tensor) -> Tensor:
        h = x  # (N, 1, 8, 8)
        for conv in self.convs:
            h = nn.functional.max_pool2d(torch.relu(conv(h)), 2)  # (N, 16, 4, 4) -> (N, 32, 2, 2)
        return self.linear(h.flatten(1))  # (N, 128) -> (N, 10)
