r"""Many shallow networks of different widths trained as one batched module (vectorized model sweeps).

Sweeps over model size (universal approximation in ch. 3, double descent in ch. 8) train dozens of small
networks. Looping over them in Python spends most of the time in per-call overhead; here member b of a batch
of B networks is stored in slices of batched weight tensors, padded to the largest width and masked, so one
``torch.bmm`` evaluates all of them:

.. math:: \mathbf{h}^{(b)} = \mathrm{a}\big[\boldsymbol\theta^{(b)}_0 + \boldsymbol\Theta^{(b)}\mathbf{x}\big]
          \odot \mathbf{m}^{(b)}, \qquad
          \mathbf{y}^{(b)} = \boldsymbol\phi^{(b)}_0 + \boldsymbol\Phi^{(b)}\mathbf{h}^{(b)}

with :math:`\mathbf{m}^{(b)}_d = 1` for the member's D_b real units and 0 for padding. Padded units get zero
gradient, so they stay at zero under any optimizer whose update is zero for a zero gradient from a zero state
(SGD, momentum, Adam, AdamW without weight decay on them: they are initialized at 0). Summing the members'
losses couples nothing: every parameter belongs to one member, so each member's gradient (and its Adam update,
which is elementwise) is exactly what training it alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from udl.nn._activations import activation_module
from udl.nn._mlp import Init
from udl.nn._shallow import ShallowNetwork

__all__ = ["BatchedShallowNetwork"]


class BatchedShallowNetwork(nn.Module):
    r"""B shallow networks (UDL eq. 3.12) with hidden widths ``widths[b]``, evaluated together.

    Parameters (D = max width, padding entries are 0 and receive no gradient):

    - ``theta0`` (B, 1, D), ``theta`` (B, D_i, D): hidden offsets θ_d0 and slopes θ_di, transposed for ``x @ theta``;
    - ``phi0`` (B, 1, D_o), ``phi`` (B, D, D_o): output offsets φ_j0 and weights φ_jd.

    Each member is initialized exactly as ``ShallowNetwork(D_i, D_b, D_o, activation, init=init)`` would be from
    the same generator state, member after member, so ``member(b)`` reproduces a network built on its own.

    Args:
        in_features: D_i.
        widths: D_b for each of the B members (each >= 1).
        out_features: D_o.
        activation: activation name (see ``udl.functional.ACTIVATIONS``).
        init: ``"torch"``, ``"he"`` or ``"xavier"`` (see ``udl.nn.MLP``).
        generator: source of randomness for the initialization (``None``: torch's global generator).
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (N, D_i) shared by all members, or (B, N, D_i) one batch per member -> output (B, N, D_o).
    """

    mask: Tensor  # (B, 1, D): 1 for the member's real units, 0 for padding

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        out_features: int = 1,
        activation: str = "relu",
        *,
        init: Init = "torch",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be a non-empty sequence of integers >= 1, got {widths}")
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"in_features and out_features must be >= 1, got {in_features} and {out_features}"
            )
        self.in_features, self.out_features, self.widths = in_features, out_features, widths
        self.activation_name = activation
        self.activation = activation_module(activation)
        b, d = len(widths), max(widths)
        theta0 = torch.zeros(b, 1, d, device=device, dtype=dtype)
        theta = torch.zeros(b, in_features, d, device=device, dtype=dtype)
        phi0 = torch.zeros(b, 1, out_features, device=device, dtype=dtype)
        phi = torch.zeros(b, d, out_features, device=device, dtype=dtype)
        for i, w in enumerate(widths):  # draw on the CPU like ShallowNetwork, then copy into the padded slots
            net = ShallowNetwork(
                in_features, w, out_features, activation, init=init, generator=generator, dtype=dtype
            )
            theta0[i, 0, :w] = net.hidden.bias.detach()
            theta[i, :, :w] = net.hidden.weight.detach().T
            phi0[i, 0] = net.output.bias.detach()
            phi[i, :w] = net.output.weight.detach().T
        mask = torch.arange(d, device=theta.device) < torch.tensor(widths, device=theta.device).unsqueeze(
            1
        )  # (B, D)
        self.theta0, self.theta = nn.Parameter(theta0), nn.Parameter(theta)
        self.phi0, self.phi = nn.Parameter(phi0), nn.Parameter(phi)
        self.register_buffer("mask", mask.unsqueeze(1).to(theta.dtype))  # (B, 1, D)

    def __len__(self) -> int:
        return len(self.widths)

    def _batched_input(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return x.unsqueeze(0).expand(len(self), -1, -1)
        if x.dim() == 3 and x.shape[0] == len(self):
            return x
        raise ValueError(
            f"x must be (N, {self.in_features}) or ({len(self)}, N, {self.in_features}), got {tuple(x.shape)}"
        )

    def pre_activations(self, x: Tensor) -> Tensor:
        """θ_0 + Θx for every member: (B, N, D), padding columns 0."""
        return (torch.baddbmm(self.theta0, self._batched_input(x), self.theta)) * self.mask

    def forward(self, x: Tensor) -> Tensor:
        h = self.activation(self.pre_activations(x)) * self.mask  # masked again: a[0] need not be 0 (sigmoid)
        return torch.baddbmm(self.phi0, h, self.phi)

    @torch.no_grad()
    def uniform_joints(
        self, low: float = 0.0, high: float = 1.0, *, generator: torch.Generator | None = None
    ) -> BatchedShallowNetwork:
        """Move every hidden unit's joint −θ_0/θ_1 (1-D input) to an independent uniform draw on [low, high],
        keeping the slopes θ_1, e.g. where the data are; in place, returns ``self``. The draw is one
        ``torch.rand(theta0.shape, generator=generator)`` on the CPU."""
        if self.in_features != 1 or not low <= high:
            raise ValueError(f"need a 1-D input and low <= high, got {self.in_features} and [{low}, {high}]")
        u = torch.rand(self.theta0.shape, generator=generator).to(self.theta0.device)
        self.theta0.copy_(-self.theta * (low + (high - low) * u))
        return self

    @torch.no_grad()
    def member(self, index: int) -> ShallowNetwork:
        """Member ``index`` as a stand-alone ``ShallowNetwork`` (a copy of its parameters)."""
        w = self.widths[index]
        theta = torch.cat([self.theta0[index, 0, :w].unsqueeze(1), self.theta[index, :, :w].T], dim=1)
        phi = torch.cat([self.phi0[index, 0].unsqueeze(1), self.phi[index, :w].T], dim=1)
        return ShallowNetwork.from_parameters(theta.clone(), phi.clone(), self.activation_name)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, widths={self.widths}, out_features={self.out_features}, "
            f"activation={self.activation_name!r}"
        )
