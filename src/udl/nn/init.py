r"""Weight initialization (UDL section 7.5): He and Xavier/Glorot, normal and uniform.

The book's argument. Consider a layer :math:`\mathbf{f}' = \boldsymbol\beta + \boldsymbol\Omega\,\mathbf{h}`,
:math:`\mathbf{h} = \mathrm{ReLU}[\mathbf{f}]`, with i.i.d. weights of mean 0 and variance
:math:`\sigma^2_\Omega`, zero biases and D_h inputs. The pre-activations' variance obeys (UDL eq. 7.31)

.. math:: \sigma^2_{f'} = D_h\,\sigma^2_\Omega\,\mathbb{E}[h^2] = \tfrac{1}{2} D_h\,\sigma^2_\Omega\,\sigma^2_f,

because a ReLU of a symmetric variable keeps half of its second moment. The variance stays constant from layer to
layer (neither vanishing nor exploding through many layers) exactly when

.. math:: \sigma^2_\Omega = \frac{2}{D_h}        \qquad \text{(He initialization, UDL eq. 7.32)}.

The same argument on the backward pass, where gradients flow through :math:`\boldsymbol\Omega^T`, gives
:math:`\sigma^2_\Omega = 2/D_{h'}` with D_h' the number of outputs; the book's compromise (section 7.5.1) is the
mean of the two, :math:`\sigma^2_\Omega = 4/(D_h + D_{h'})`. Without the ReLU's factor 1/2 (linear or tanh units
near 0) the compromise is Glorot & Bengio's (2010) :math:`\sigma^2_\Omega = 2/(D_h + D_{h'})`, "Xavier".

A uniform distribution U(−a, a) has variance a²/3, so the uniform variants use :math:`a = \sqrt{3}\,\sigma`.

Every function fills a weight tensor of shape (D_out, D_in) (``nn.Linear``'s layout; for convolution weights
(D_out, D_in, k...) the fans are multiplied by the kernel size) in place, from ``generator`` when given, and
returns it. With the same generator state each equals the corresponding ``torch.nn.init`` call bit for bit.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

__all__ = ["fans", "he_normal_", "he_uniform_", "init_std", "xavier_normal_", "xavier_uniform_"]

Mode = Literal["fan_in", "fan_out"]


def fans(weight: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) = (D_in · receptive field, D_out · receptive field) of a weight of shape (D_out, D_in, ...).

    Raises:
        ValueError: for a tensor with fewer than 2 dimensions.
    """
    if weight.dim() < 2:
        raise ValueError(
            f"fans need a weight with at least 2 dimensions (D_out, D_in, ...), got {tuple(weight.shape)}"
        )
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def init_std(
    weight: Tensor, scheme: Literal["he", "xavier"], mode: Mode = "fan_in", gain: float = 1.0
) -> float:
    r"""The standard deviation σ_Ω each scheme gives this weight.

    - ``"he"``: :math:`\sqrt{2/\text{fan}}` with fan = fan_in (forward pass, UDL eq. 7.32) or fan_out (backward).
    - ``"xavier"``: :math:`\sqrt{2/(\text{fan\_in} + \text{fan\_out})}` (``mode`` is ignored).

    ``gain`` multiplies the result (e.g. :math:`\sqrt{2}` turns Xavier into the book's ReLU compromise
    :math:`\sqrt{4/(D_h + D_{h'})}`).
    """
    fan_in, fan_out = fans(weight)
    if scheme == "he":
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"unknown mode {mode!r}; valid: 'fan_in', 'fan_out'")
        fan = fan_in if mode == "fan_in" else fan_out
        return gain * math.sqrt(2.0 / fan)
    if scheme == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    raise ValueError(f"unknown scheme {scheme!r}; valid: 'he', 'xavier'")


@torch.no_grad()
def he_normal_(weight: Tensor, mode: Mode = "fan_in", generator: torch.Generator | None = None) -> Tensor:
    r"""Fill ``weight`` from :math:`\mathcal{N}(0, 2/\text{fan})` (He et al., 2015; UDL eq. 7.32).

    Equal to ``torch.nn.init.kaiming_normal_(weight, mode=mode, nonlinearity="relu", generator=generator)``.
    """
    return weight.normal_(0.0, init_std(weight, "he", mode), generator=generator)


@torch.no_grad()
def he_uniform_(weight: Tensor, mode: Mode = "fan_in", generator: torch.Generator | None = None) -> Tensor:
    r"""Fill ``weight`` from U(−a, a) with :math:`a = \sqrt{3}\sqrt{2/\text{fan}} = \sqrt{6/\text{fan}}`: the
    variance of He's normal, 2/fan.

    Equal to ``torch.nn.init.kaiming_uniform_(weight, mode=mode, nonlinearity="relu", generator=generator)``.
    """
    bound = math.sqrt(3.0) * init_std(weight, "he", mode)
    return weight.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def xavier_normal_(weight: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    r"""Fill ``weight`` from :math:`\mathcal{N}(0, \text{gain}^2 \cdot 2/(\text{fan\_in} + \text{fan\_out}))`
    (Glorot & Bengio, 2010; UDL section 7.5.1's compromise between the forward and backward conditions).

    Equal to ``torch.nn.init.xavier_normal_(weight, gain=gain, generator=generator)``.
    """
    return weight.normal_(0.0, init_std(weight, "xavier", gain=gain), generator=generator)


@torch.no_grad()
def xavier_uniform_(weight: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    r"""Fill ``weight`` from U(−a, a) with :math:`a = \text{gain}\sqrt{6/(\text{fan\_in} + \text{fan\_out})}`.

    Equal to ``torch.nn.init.xavier_uniform_(weight, gain=gain, generator=generator)``.
    """
    bound = math.sqrt(3.0) * init_std(weight, "xavier", gain=gain)
    return weight.uniform_(-bound, bound, generator=generator)
