"""Activation functions a[z] (UDL section 3.1, eq. 3.2 and fig. 3.13), written from their formulas.

Every function is elementwise, keeps the input's shape, dtype and device, and is written so that neither its value
nor its autograd gradient overflows for large |z| (the branch that is not selected by a ``torch.where`` is always
fed a finite argument, so no ``0 * inf = nan`` leaks into the backward pass).

The registry ``ACTIVATIONS`` maps the book's names to the functions; ``get_activation(name)`` looks one up.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

__all__ = [
    "ACTIVATIONS",
    "gelu",
    "get_activation",
    "heaviside",
    "leaky_relu",
    "linear",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
]


def relu(x: Tensor) -> Tensor:
    r"""Rectified linear unit, UDL eq. 3.2.

    .. math:: \mathrm{a}[z] = \mathrm{ReLU}[z] = \begin{cases} 0 & z < 0 \\ z & z \ge 0 \end{cases}

    Args:
        x: input of any shape.

    Returns:
        ``max(0, x)`` elementwise. The gradient at ``x == 0`` is 0, as in ``torch.relu``.
    """
    return torch.where(x > 0, x, torch.zeros_like(x))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    r"""Leaky ReLU (UDL fig. 3.13b).

    .. math:: \mathrm{a}[z] = \begin{cases} \alpha z & z < 0 \\ z & z \ge 0 \end{cases}

    Args:
        x: input of any shape.
        negative_slope: the slope :math:`\alpha` for negative inputs (torch's name and default).

    Returns:
        The activation elementwise. The gradient at ``x == 0`` is ``negative_slope``, as in
        ``torch.nn.functional.leaky_relu``.
    """
    return torch.where(x > 0, x, negative_slope * x)


def _abs_with_unit_slope_at_zero(x: Tensor) -> Tensor:
    # |x| whose autograd derivative at 0 is +1 (torch.abs gives 0 there, which would zero the gradient of the
    # odd/symmetric reconstructions below at exactly x == 0).
    return torch.where(x >= 0, x, -x)


def sigmoid(x: Tensor) -> Tensor:
    r"""Logistic sigmoid (UDL fig. 3.13a).

    .. math:: \mathrm{sig}[z] = \frac{1}{1 + \exp[-z]}

    Computed as :math:`1/(1+e^{-|z|})` for :math:`z \ge 0` and :math:`e^{-|z|}/(1+e^{-|z|})` for :math:`z < 0`,
    so the exponential never overflows.

    Args:
        x: input of any shape.

    Returns:
        Values in (0, 1) (exactly 0 or 1 only where the float format underflows).
    """
    e = torch.exp(-_abs_with_unit_slope_at_zero(x))  # in (0, 1]: never overflows
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: Tensor) -> Tensor:
    r"""Hyperbolic tangent (UDL fig. 3.13a).

    .. math:: \tanh[z] = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}
              = -\frac{\mathrm{expm1}[-2|z|]}{2 + \mathrm{expm1}[-2|z|]}\,\mathrm{sign}[z]

    The ``expm1`` form keeps full relative precision near 0 and never overflows.

    Args:
        x: input of any shape.

    Returns:
        Values in [-1, 1].
    """
    t = torch.expm1(-2.0 * _abs_with_unit_slope_at_zero(x))  # in (-1, 0]
    r = -t / (2.0 + t)  # tanh(|x|)
    return torch.where(x >= 0, r, -r)


class _HeavisideFn(torch.autograd.Function):
    """Step function whose backward pass returns zeros (the derivative almost everywhere)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return torch.zeros_like(grad_output)


def heaviside(x: Tensor) -> Tensor:
    r"""Heaviside step function (UDL ch. 3 problems, where it replaces the ReLU).

    .. math:: \mathrm{heaviside}[z] = \begin{cases} 0 & z \le 0 \\ 1 & z > 0 \end{cases}

    Convention at 0: ``heaviside(0) == 0`` (so a unit is "on" exactly when its pre-activation is positive, the
    same test used for ReLU activation patterns). ``torch.heaviside`` instead takes the value at 0 as an argument.

    The derivative is zero almost everywhere (and undefined at 0), so autograd returns a zero gradient
    everywhere; a network using it cannot be trained by gradient descent through this activation, which is the
    book's point.

    Args:
        x: floating-point input of any shape.

    Returns:
        0.0 / 1.0 in the dtype of ``x``.
    """
    out: Tensor = _HeavisideFn.apply(x)
    return out


def linear(x: Tensor) -> Tensor:
    r"""Identity (linear) activation, :math:`\mathrm{a}[z] = z` (UDL ch. 3 problems).

    A network with this activation collapses to a linear function of its input.

    Args:
        x: input of any shape.

    Returns:
        ``x`` itself (no copy).
    """
    return x


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""SoftPlus (UDL fig. 3.13c), with the semantics of ``torch.nn.functional.softplus``.

    .. math:: \mathrm{softplus}[z] = \frac{1}{\beta}\log\left[1 + \exp[\beta z]\right]

    For :math:`\beta z > \text{threshold}` the function reverts to the identity :math:`z` (its value there differs
    from the formula by less than :math:`e^{-\text{threshold}}/\beta`), exactly as torch does; the gradient is
    then 1.

    Args:
        x: input of any shape.
        beta: sharpness :math:`\beta` (must be non-zero; torch's default 1).
        threshold: above this value of :math:`\beta z` the identity is used (torch's default 20).

    Returns:
        The activation elementwise.
    """
    z = beta * x
    # Clamp before exp so the unselected branch stays finite (its gradient is masked to 0, and 0 * inf = nan).
    smooth = torch.log1p(torch.exp(torch.clamp(z, max=threshold))) / beta
    return torch.where(z > threshold, x, smooth)


_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x: Tensor, approximate: Literal["none", "tanh"] = "none") -> Tensor:
    r"""Gaussian error linear unit (UDL fig. 3.13c; Hendrycks & Gimpel, 2016).

    .. math:: \mathrm{GELU}[z] = z\,\Phi[z] = \frac{z}{2}\left(1 + \mathrm{erf}\left[\frac{z}{\sqrt 2}\right]\right)

    With ``approximate="tanh"``:

    .. math:: \mathrm{GELU}[z] \approx \frac{z}{2}\left(1 + \tanh\left[\sqrt{2/\pi}\,(z + 0.044715 z^3)\right]\right)

    Args:
        x: input of any shape.
        approximate: ``"none"`` (exact, via erf) or ``"tanh"``, as in ``torch.nn.functional.gelu``.

    Returns:
        The activation elementwise.

    Raises:
        ValueError: for any other ``approximate``.
    """
    if approximate == "none":
        return 0.5 * x * (1.0 + torch.erf(x / _SQRT_2))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    raise ValueError(f"unknown approximate {approximate!r}; valid: 'none', 'tanh'")


ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "heaviside": heaviside,
    "linear": linear,
    "softplus": softplus,
    "gelu": gelu,
}
"""The book's activation functions by name (UDL fig. 3.13)."""


def get_activation(name: str) -> Callable[..., Tensor]:
    """Look up an activation function by name.

    Args:
        name: one of the keys of ``ACTIVATIONS``.

    Returns:
        The function; extra keyword arguments (``negative_slope``, ``beta``, ...) are passed when calling it.

    Raises:
        ValueError: ``unknown activation 'x'; valid: ...`` for an unknown name.
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}") from None


def check_activation_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Raise ``ValueError`` if ``kwargs`` are not keyword arguments that activation ``name`` accepts.

    Args:
        name: an activation name (see ``ACTIVATIONS``).
        kwargs: keyword arguments that will be passed after the input tensor.

    Raises:
        ValueError: for an unknown name or an argument the function does not take.
    """
    fn = get_activation(name)
    params = list(inspect.signature(fn).parameters)[1:]  # drop the input tensor
    bad = sorted(set(kwargs) - set(params))
    if bad:
        valid = ", ".join(params) if params else "none"
        raise ValueError(f"activation {name!r} got unexpected argument(s) {', '.join(bad)}; valid: {valid}")
