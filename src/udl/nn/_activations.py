"""Activation modules: thin ``nn.Module`` wrappers around ``udl.functional.activations`` (UDL fig. 3.13)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from udl.functional.activations import check_activation_kwargs, get_activation, heaviside

__all__ = ["Activation", "Heaviside", "activation_module"]


class Activation(nn.Module):
    """An activation function a[·] by name, as a module (no parameters).

    Example:
        >>> import torch
        >>> act = Activation("leaky_relu", negative_slope=0.1)
        >>> act(torch.tensor([-1.0, 2.0]))
        tensor([-0.1000,  2.0000])

    Args:
        name: a key of ``udl.functional.ACTIVATIONS`` (``"relu"``, ``"sigmoid"``, ``"gelu"``, ...).
        **kwargs: keyword arguments of that function (``negative_slope``, ``beta``, ``threshold``,
            ``approximate``), checked here rather than at the first forward pass.

    Raises:
        ValueError: unknown name or an argument the function does not take.
    """

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__()
        check_activation_kwargs(name, kwargs)
        self.name = name
        self.kwargs = dict(kwargs)
        self.fn = get_activation(name)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x, **self.kwargs)

    def extra_repr(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.name!r}{args}"


class Heaviside(Activation):
    """Heaviside step a[z] = 1 if z > 0 else 0, as a module; autograd gives a zero gradient (see
    ``udl.functional.heaviside``)."""

    def __init__(self) -> None:
        super().__init__("heaviside")

    def forward(self, x: Tensor) -> Tensor:
        return heaviside(x)


def activation_module(name: str, **kwargs: Any) -> nn.Module:
    """Build the activation module for ``name`` (``Heaviside`` for ``"heaviside"``, else ``Activation``).

    Args:
        name: a key of ``udl.functional.ACTIVATIONS``.
        **kwargs: keyword arguments of that function.

    Returns:
        A parameter-free module applying the activation elementwise.

    Raises:
        ValueError: unknown name or an argument the function does not take.
    """
    if name == "heaviside":
        check_activation_kwargs(name, kwargs)
        return Heaviside()
    return Activation(name, **kwargs)
