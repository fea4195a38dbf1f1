"""A stack of M MLPs of one depth as one module (the sweep engine's model, see ``udl.train.sweep``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from udl.nn import MLP, Init, activation_module

__all__ = ["StackedMLP"]


def parameter_count(sizes: Sequence[int]) -> int:
    """Parameters of an MLP with layer sizes D_0, ..., D_{K+1}: Σ_k (D_k + 1) D_{k+1}."""
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


class StackedMLP(nn.Module):
    r"""M MLPs with the same depth K and input/output sizes, possibly different hidden widths, stacked.

    Args:
        in_features: D_i, shared.
        hidden: one tuple of K hidden widths per member.
        out_features: D_o, shared.
        activation: activation name (see ``udl.functional.ACTIVATIONS``).
        init: ``"he"``, ``"xavier"`` or ``"torch"``, as in ``udl.nn.MLP``.
        seeds: one seed per member; member m is initialized as ``udl.nn.MLP(..., generator=
            torch.Generator().manual_seed(seeds[m]))`` would be.
        device: where to allocate the parameters.
        dtype: parameter dtype.

    Shapes:
        input (N, D_i) shared by every member or (M, N, D_i) per member -> output (M, N, D_o).
    """

    masks: list[Tensor]

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[Sequence[int]],
        out_features: int,
        activation: str = "relu",
        init: Init = "he",
        seeds: Sequence[int] | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        hidden = [tuple(int(w) for w in h) for h in hidden]
        if not hidden or len({len(h) for h in hidden}) != 1:
            raise ValueError(f"hidden must be a non-empty list of width tuples of one length, got {hidden}")
        seeds = list(range(len(hidden))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != len(hidden):
            raise ValueError(f"need one seed per member: {len(hidden)} members, {len(seeds)} seeds")
        self.hidden, self.seeds = hidden, seeds
        self.in_features, self.out_features = in_features, out_features
        self.activation_name, self.init = activation, init
        self.activation = activation_module(activation)
        m = len(hidden)
        sizes = [in_features, *(max(h[k] for h in hidden) for k in range(len(hidden[0]))), out_features]
        weights = [torch.zeros(m, a, b, dtype=dtype) for a, b in itertools.pairwise(sizes)]
        biases = [torch.zeros(m, 1, b, dtype=dtype) for b in sizes[1:]]
        for i, (widths, seed) in enumerate(zip(hidden, seeds, strict=True)):
            alone = MLP(
                in_features,
                widths,
                out_features,
                activation,
                init,
                generator=torch.Generator().manual_seed(seed),
                dtype=dtype,
            )
            for k, layer in enumerate(alone.linears):
                weights[k][i, : layer.in_features, : layer.out_features] = layer.weight.detach().T
                biases[k][i, 0, : layer.out_features] = layer.bias.detach()
        self.weights = nn.ParameterList([nn.Parameter(w.to(device)) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b.to(device)) for b in biases])
        for k in range(len(sizes) - 2):
            width = torch.tensor([h[k] for h in hidden])
            mask = (torch.arange(sizes[k + 1]) < width.unsqueeze(1)).unsqueeze(1)  # (M, 1, D_k)
            self.register_buffer(f"mask{k}", mask.to(device=device, dtype=weights[0].dtype))

    def __len__(self) -> int:
        return len(self.hidden)

    def _mask(self, k: int) -> Tensor:
        mask: Tensor = getattr(self, f"mask{k}")
        return mask

    def forward(self, x: Tensor) -> Tensor:
        h = x if x.dim() == 3 else x.unsqueeze(0).expand(len(self), -1, -1)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            f = torch.baddbmm(b, h, w)
            if k == last:
                return f
            # ReLU needs no mask: a padded unit's weights and bias are 0, so its pre-activation is 0, ReLU(0) = 0
            # and ReLU'(0) = 0 keep it and its gradients at 0. Other activations (a[0] may be nonzero) are masked.
            h = torch.relu(f) if self.activation_name == "relu" else self.activation(f) * self._mask(k)
        return h

    def num_parameters(self) -> list[int]:
        """Each member's own parameter count, Σ_k (D_k + 1) D_{k+1}."""
        return [parameter_count([self.in_features, *widths, self.out_features]) for widths in self.hidden]

    def weight_vectors(self) -> Tensor:
        """Every member's weight matrices (biases left out) flattened into one row, (M, P), detached; padding
        entries of narrower members are zeros."""
        return torch.cat([w.detach().flatten(1) for w in self.weights], dim=1)

    @torch.no_grad()
    def member(self, index: int) -> MLP:
        """Member ``index`` as a stand-alone ``udl.nn.MLP`` (a copy of its weights)."""
        widths = self.hidden[index]
        net = MLP(
            self.in_features,
            widths,
            self.out_features,
            self.activation_name,
            self.init,
            generator=torch.Generator().manual_seed(0),
            dtype=self.weights[0].dtype,
        )
        for k, layer in enumerate(net.linears):
            layer.weight.copy_(self.weights[k][index, : layer.in_features, : layer.out_features].T)
            layer.bias.copy_(self.biases[k][index, 0, : layer.out_features])
        return net.to(self.weights[0].device)
