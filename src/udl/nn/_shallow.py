r"""Shallow neural network: one hidden layer (UDL ch. 3).

For D_i inputs, D hidden units and D_o outputs (UDL eq. 3.11-3.12):

.. math:: h_d = \mathrm{a}\Big[\theta_{d0} + \sum_{i=1}^{D_i} \theta_{di} x_i\Big], \qquad
          y_j = \phi_{j0} + \sum_{d=1}^{D} \phi_{jd} h_d

which for one input and one output is UDL eq. 3.1,
:math:`y = \phi_0 + \sum_d \phi_d\, \mathrm{a}[\theta_{d0} + \theta_{d1} x]`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from udl.nn._activations import activation_module
from udl.nn._mlp import Init, _initialize

__all__ = ["ShallowNetwork"]

_PIECEWISE_LINEAR = ("relu", "leaky_relu", "heaviside")


class ShallowNetwork(nn.Module):
    r"""Shallow network :math:`\mathbf{y} = \boldsymbol\phi_0 + \boldsymbol\Phi\,\mathrm{a}[\boldsymbol\theta_0
    + \boldsymbol\Theta \mathbf{x}]` (UDL eq. 3.1, 3.12).

    The book's parameters live in two ``nn.Linear`` layers:

    - ``hidden = nn.Linear(D_i, D)``: ``hidden.bias[d]`` is θ_d0, ``hidden.weight[d, i-1]`` is θ_di.
    - ``output = nn.Linear(D, D_o)``: ``output.bias[j]`` is φ_j0, ``output.weight[j, d-1]`` is φ_jd.

    The properties ``theta`` (D, D_i+1) and ``phi`` (D_o, D+1) show them in the book's layout (offset in column 0).

    Args:
        in_features: D_i, input dimension.
        hidden_features: D, number of hidden units.
        out_features: D_o, output dimension.
        activation: name of the activation a[·] (see ``udl.functional.ACTIVATIONS``).
        init: ``"torch"`` (default: U(−1/√D_in, 1/√D_in) for weights and biases, as ``nn.Linear``), ``"he"`` or
            ``"xavier"`` (zero biases), as in ``udl.nn.MLP``.
        generator: source of randomness for the initialization (``None``: torch's global generator).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (..., D_i) -> output (..., D_o). A 1-D input therefore needs a trailing axis: ``x[:, None]``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int = 1,
        activation: str = "relu",
        *,
        init: Init = "torch",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for label, value in (
            ("in_features", in_features),
            ("hidden_features", hidden_features),
            ("out_features", out_features),
        ):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, got {value}")
        self.in_features = in_features
        self.hidden_features = hidden_features
        self.out_features = out_features
        self.activation_name = activation
        self.activation = activation_module(activation)
        if device is None:
            device = torch.get_default_device()
        # skip_init + our own draw: the initialization comes from `generator` and never touches the global RNG.
        self.hidden = nn.utils.skip_init(nn.Linear, in_features, hidden_features, device=device, dtype=dtype)
        self.output = nn.utils.skip_init(nn.Linear, hidden_features, out_features, device=device, dtype=dtype)
        _initialize(self.hidden, init, 0.0, generator)
        _initialize(self.output, init, 0.0, generator)

    @classmethod
    def from_parameters(cls, theta: Tensor, phi: Tensor, activation: str = "relu") -> ShallowNetwork:
        r"""Build a network with given parameters in the book's layout.

        Args:
            theta: (D, D_i+1), row d is :math:`[\theta_{d0}, \theta_{d1}, \dots, \theta_{dD_i}]`.
            phi: (D_o, D+1), row j is :math:`[\phi_{j0}, \phi_{j1}, \dots, \phi_{jD}]`; a 1-D (D+1,) is one output.
            activation: activation name.

        Returns:
            A ``ShallowNetwork`` in the dtype and device of ``theta``.
        """
        if phi.dim() == 1:
            phi = phi.unsqueeze(0)
        if theta.dim() != 2 or phi.dim() != 2 or phi.shape[1] != theta.shape[0] + 1:
            raise ValueError(
                f"theta must be (D, D_i+1) and phi (D_o, D+1); got {tuple(theta.shape)} and {tuple(phi.shape)}"
            )
        net = cls(
            theta.shape[1] - 1,
            theta.shape[0],
            phi.shape[0],
            activation,
            generator=torch.Generator(
                device=theta.device
            ),  # overwritten below; keeps the global RNG untouched
            device=theta.device,
            dtype=theta.dtype,
        )
        with torch.no_grad():
            net.hidden.bias.copy_(theta[:, 0])
            net.hidden.weight.copy_(theta[:, 1:])
            net.output.bias.copy_(phi[:, 0])
            net.output.weight.copy_(phi[:, 1:])
        return net

    @property
    def theta(self) -> Tensor:
        r"""Hidden-layer parameters :math:`\theta_{di}` as a (D, D_i+1) tensor, offsets θ_d0 in column 0."""
        return torch.cat([self.hidden.bias.unsqueeze(1), self.hidden.weight], dim=1)

    @property
    def phi(self) -> Tensor:
        r"""Output-layer parameters :math:`\phi_{jd}` as a (D_o, D+1) tensor, offsets φ_j0 in column 0."""
        return torch.cat([self.output.bias.unsqueeze(1), self.output.weight], dim=1)

    def pre_activations(self, x: Tensor) -> Tensor:
        r"""The hidden units' pre-activations :math:`\theta_{d0} + \sum_i \theta_{di} x_i`.

        Args:
            x: (..., D_i).

        Returns:
            (..., D).
        """
        return self.hidden(x)

    def hidden_units(self, x: Tensor) -> Tensor:
        r"""The hidden units :math:`h_d = \mathrm{a}[\theta_{d0} + \sum_i \theta_{di} x_i]` (UDL eq. 3.3, 3.11).

        Args:
            x: (..., D_i).

        Returns:
            (..., D).
        """
        return self.activation(self.pre_activations(x))

    def activation_pattern(self, x: Tensor) -> Tensor:
        """Which hidden units are active (pre-activation > 0) at each input (UDL fig. 3.3: the pattern of
        active units fixes the linear region).

        Args:
            x: (N, D_i).

        Returns:
            Bool (N, D).
        """
        return self.pre_activations(x) > 0

    def forward(self, x: Tensor) -> Tensor:
        """UDL eq. 3.12: the output layer applied to the hidden units.

        Args:
            x: (..., D_i).

        Returns:
            (..., D_o).
        """
        return self.output(self.hidden_units(x))

    def joints(self) -> Tensor:
        r"""Positions of the hidden units' joints for a 1-D input (UDL fig. 3.3).

        Unit d switches on or off where its pre-activation crosses zero, :math:`x = -\theta_{d0}/\theta_{d1}`;
        for ReLU-like activations the output's slope can only change at these points (it does change there
        unless the unit's outgoing weights are zero).

        Returns:
            Shape (D,), one entry per unit in unit order (not sorted). A unit with :math:`\theta_{d1} = 0` is
            constant and has no joint: its entry is ``nan``.

        Raises:
            ValueError: if ``in_features != 1`` or the activation is not piecewise linear with its kink at 0
                (relu, leaky_relu, heaviside).
        """
        if self.in_features != 1:
            raise ValueError(
                f"joints() needs a 1-D input network, this one has in_features={self.in_features}"
            )
        if self.activation_name not in _PIECEWISE_LINEAR:
            raise ValueError(
                f"joints() needs a piecewise-linear activation ({', '.join(_PIECEWISE_LINEAR)}), "
                f"got {self.activation_name!r}"
            )
        theta0 = self.hidden.bias
        theta1 = self.hidden.weight[:, 0]
        joints = -theta0 / theta1
        return torch.where(theta1 != 0, joints, torch.full_like(joints, float("nan")))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden_features={self.hidden_features}, "
            f"out_features={self.out_features}, activation={self.activation_name!r}"
        )
