r"""Deep fully connected network (multi-layer perceptron), UDL ch. 4.

With K hidden layers of widths D_1, ..., D_K (UDL eq. 4.15):

.. math::
    \mathbf{h}_1 = \mathrm{a}[\boldsymbol\beta_0 + \boldsymbol\Omega_0 \mathbf{x}], \quad
    \mathbf{h}_k = \mathrm{a}[\boldsymbol\beta_{k-1} + \boldsymbol\Omega_{k-1} \mathbf{h}_{k-1}], \quad
    \mathbf{y} = \boldsymbol\beta_K + \boldsymbol\Omega_K \mathbf{h}_K

``MLP.layers[k]`` is the ``nn.Linear`` holding β_k (``bias``) and Ω_k (``weight``), k = 0, ..., K.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, cast

import torch
from torch import Tensor, nn

from udl.nn._activations import activation_module
from udl.nn.init import he_normal_, xavier_normal_

__all__ = ["MLP", "count_parameters", "sawtooth_mlp"]

Init = Literal["he", "xavier", "torch"]
_INITS = ("he", "xavier", "torch")


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters in ``model`` (each shared parameter counted once).

    Args:
        model: any module.

    Returns:
        ``sum(p.numel() for p in model.parameters())``.
    """
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def _initialize(layer: nn.Linear, init: Init, bias_init: float, generator: torch.Generator | None) -> None:
    if init == "he":
        he_normal_(layer.weight, generator=generator)  # UDL eq. 7.32: σ² = 2 / D_in
        layer.bias.fill_(bias_init)
    elif init == "xavier":
        xavier_normal_(layer.weight, generator=generator)  # Glorot & Bengio (2010): σ² = 2 / (D_in + D_out)
        layer.bias.fill_(bias_init)
    else:
        # torch's nn.Linear default, U(−1/√D_in, 1/√D_in) for weights and biases, drawn from `generator`.
        bound = 1.0 / math.sqrt(layer.in_features)
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)


class MLP(nn.Module):
    r"""Deep network with K = ``len(hidden_widths)`` hidden layers (UDL eq. 4.15-4.17).

    ``hidden_widths=()`` (K = 0) is a single linear layer :math:`\mathbf{y} = \boldsymbol\beta_0 +
    \boldsymbol\Omega_0\mathbf{x}`; it has no hidden units, so ``pre_activations`` returns ``[]`` and
    ``activation_pattern`` an (N, 0) tensor.

    Args:
        in_features: D_i.
        hidden_widths: D_1, ..., D_K (each >= 1).
        out_features: D_o.
        activation: activation name (see ``udl.functional.ACTIVATIONS``), applied after every hidden layer and
            never after the output layer.
        init: ``"he"``: Ω_k ~ N(0, 2/D_in) (UDL eq. 7.32, section 7.5); ``"xavier"``: Ω_k ~ N(0, 2/(D_in+D_out))
            (Glorot normal; the book's own compromise in section 7.5 is 4/(D_in+D_out), the mean of the forward
            and backward He variances); ``"torch"``: torch's ``nn.Linear`` default U(−1/√D_in, 1/√D_in) for
            weights and biases. D_in / D_out are the fan-in / fan-out of each layer.
        bias_init: constant value of every β_k under ``"he"`` and ``"xavier"`` (the book uses 0); ignored by
            ``"torch"``, whose biases are drawn as torch draws them.
        generator: source of randomness for the initialization; two MLPs built with generators seeded alike are
            identical. ``None`` uses torch's global generator. Building never touches the global generator when a
            generator is given.
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (..., D_i) -> output (..., D_o).

    Raises:
        ValueError: non-positive sizes or an unknown ``init``/``activation``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_widths: Sequence[int],
        out_features: int,
        activation: str = "relu",
        init: Init = "he",
        bias_init: float = 0.0,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if init not in _INITS:
            raise ValueError(f"unknown init {init!r}; valid: {', '.join(_INITS)}")
        widths = (in_features, *tuple(hidden_widths), out_features)
        if any(int(w) != w or w < 1 for w in widths):
            raise ValueError(
                f"in_features, hidden_widths and out_features must be positive integers, got "
                f"in_features={in_features}, hidden_widths={tuple(hidden_widths)}, out_features={out_features}"
            )
        self.widths: tuple[int, ...] = tuple(int(w) for w in widths)
        self.activation_name = activation
        self.init = init
        self.activation = activation_module(activation)
        if device is None:
            device = torch.get_default_device()  # skip_init would otherwise leave the parameters on "meta"
        layers = []
        for d_in, d_out in zip(self.widths[:-1], self.widths[1:], strict=False):
            # skip_init: allocate without torch's default init, which would consume the global RNG.
            layer = nn.utils.skip_init(nn.Linear, d_in, d_out, device=device, dtype=dtype)
            _initialize(layer, init, bias_init, generator)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)

    @property
    def in_features(self) -> int:
        return self.widths[0]

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self.widths[1:-1]

    @property
    def depth(self) -> int:
        """K, the number of hidden layers."""
        return len(self.widths) - 2

    @property
    def linears(self) -> list[nn.Linear]:
        """The K + 1 ``nn.Linear`` layers, ``linears[k]`` holding β_k and Ω_k."""
        return [cast(nn.Linear, layer) for layer in self.layers]

    @property
    def betas(self) -> list[Tensor]:
        """The biases β_0, ..., β_K (UDL eq. 4.15)."""
        return [layer.bias for layer in self.linears]

    @property
    def omegas(self) -> list[Tensor]:
        """The weight matrices Ω_0, ..., Ω_K (UDL eq. 4.15), Ω_k of shape (D_{k+1}, D_k)."""
        return [layer.weight for layer in self.linears]

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))  # h_k = a[β_{k-1} + Ω_{k-1} h_{k-1}]
        return self.layers[-1](h)  # y = β_K + Ω_K h_K

    def pre_activations(self, x: Tensor) -> list[Tensor]:
        r"""The pre-activations :math:`\boldsymbol\beta_{k-1} + \boldsymbol\Omega_{k-1}\mathbf{h}_{k-1}` of every
        hidden layer.

        Args:
            x: (..., D_i).

        Returns:
            K tensors, the k-th of shape (..., D_k); empty for ``hidden_widths=()``.
        """
        out = []
        h = x
        for layer in self.layers[:-1]:
            f = layer(h)
            out.append(f)
            h = self.activation(f)
        return out

    def activation_pattern(self, x: Tensor) -> Tensor:
        """Which hidden units are active (pre-activation > 0), all layers side by side.

        For a ReLU network the pattern fixes which linear function is computed, so inputs with equal patterns in
        a connected set lie in one linear region (UDL section 4.5).

        Args:
            x: (N, D_i).

        Returns:
            Bool (N, D_1 + ... + D_K).
        """
        pre = self.pre_activations(x)
        if not pre:
            return torch.zeros(*x.shape[:-1], 0, dtype=torch.bool, device=x.device)
        return torch.cat([f > 0 for f in pre], dim=-1)

    def num_parameters(self) -> int:
        r""":math:`\sum_{k=0}^{K} (D_k + 1) D_{k+1}` with D_0 = D_i and D_{K+1} = D_o."""
        return count_parameters(self)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden_widths={self.hidden_widths}, "
            f"out_features={self.out_features}, activation={self.activation_name!r}, init={self.init!r}"
        )


def sawtooth_mlp(
    width: int,
    depth: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> MLP:
    r"""A ReLU MLP with hand-set weights whose output on [0, 1] has ``width ** depth`` linear pieces
    (UDL fig. 4.1-4.3: composing networks folds the input space).

    Construction, with D = ``width``: the zigzag

    .. math:: g(x) = \sum_{j=0}^{D-1} c_j\,\mathrm{ReLU}[x - j/D], \qquad c_0 = D,\; c_j = (-1)^j\, 2D \;(j\ge 1)

    has slope +D on [0, 1/D], −D on [1/D, 2/D], +D on [2/D, 3/D], ..., so it maps each interval [j/D, (j+1)/D]
    onto [0, 1]: D pieces, each covering [0, 1] once. The network computes :math:`g^K = g\circ\dots\circ g`
    (K = ``depth`` times), which has D^K pieces on [0, 1], each again covering [0, 1]:

    - layer 0 (hidden layer 1): Ω_0 = 1, β_0[j] = −j/D, so h_1[j] = ReLU[x − j/D];
    - layer k = 1..K−1: Ω_k[i, j] = c_j, β_k[i] = −i/D, so h_{k+1}[i] = ReLU[g(g^{k−1}(x)) − i/D];
    - output layer K: Ω_K[0, j] = c_j, β_K = 0, so y = g^K(x).

    In hidden layer k the unit i is active where g^{k−1}(x) > i/D, so the activation pattern changes exactly at
    the D^K − 1 interior breakpoints m/D^K of g^K (unit i = 0 of layers ≥ 2 also touches 0, without changing
    sign, at some breakpoints). Sample strictly inside (0, 1) when counting regions, since exactly at x = 0 (and
    x = 1 for even D) a pre-activation is 0 and the pattern differs from its neighbours'; and keep samples off
    the breakpoints m/D^K (symmetric endpoints with an odd sample count put one exactly at 1/2).

    Args:
        width: D >= 1 (D = 1 is the identity, one piece).
        depth: K >= 1.
        device: where to allocate the parameters.
        dtype: parameter dtype (float64 keeps the breakpoints exact to ~1e-16 even for large D^K).

    Returns:
        ``MLP(1, (width,) * depth, 1)`` with these weights.
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
    net = MLP(1, (width,) * depth, 1, activation="relu", device=device, dtype=dtype)
    D = width
    c = torch.tensor([float(D)] + [(-1.0) ** j * 2.0 * D for j in range(1, D)])  # (D,)
    offsets = -torch.arange(D, dtype=torch.float64) / D  # (D,) −j/D
    with torch.no_grad():
        first, *middle, last = net.linears
        first.weight.fill_(1.0)
        first.bias.copy_(offsets)
        for layer in middle:
            layer.weight.copy_(c.expand(D, D))
            layer.bias.copy_(offsets)
        last.weight.copy_(c.unsqueeze(0))
        last.bias.zero_()
    return net
