r"""Trunks and heads: the parts that transfer, multi-task and self-supervised learning move around (UDL 9.3.7-8).

A network is split into a *trunk* (all layers up to the last hidden representation :math:`\mathbf{h}_K`) and a
*head* (the output layer :math:`\mathbf{y} = \boldsymbol\beta_K + \boldsymbol\Omega_K\mathbf{h}_K`, UDL eq. 4.15).

- Transfer learning (section 9.3.7) pre-trains on a plentiful related task, then "removes the last layer and adds
  one or more layers that produce a suitable output" (:func:`replace_head`); "the main model may be fixed"
  (:func:`freeze`) "or we may fine-tune the entire model".
- Multi-task learning (section 9.3.7) shares one trunk between several heads (:class:`TrunkWithHeads`).
- Self-supervised learning (section 9.3.8) trains a trunk on a pretext head, then reuses the trunk's features.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from udl.nn import MLP, TrunkWithHeads, freeze, mlp_trunk, replace_head
    >>> net = MLP(40, (64, 64), 10, generator=torch.Generator().manual_seed(0))
    >>> _ = replace_head(net, nn.Linear(64, 3))           # new task with 3 classes, trunk untouched
    >>> _ = freeze(mlp_trunk(net))                        # only the new head will learn
    >>> both = TrunkWithHeads(mlp_trunk(net), {"digit": nn.Linear(64, 10), "shift": nn.Linear(64, 1)})
    >>> {k: v.shape for k, v in both(torch.zeros(5, 40)).items()}
    {'digit': torch.Size([5, 10]), 'shift': torch.Size([5, 1])}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from torch import Tensor, nn

from udl.nn._mlp import MLP

__all__ = ["MLPTrunk", "TrunkWithHeads", "freeze", "mlp_trunk", "replace_head", "unfreeze"]

M = TypeVar("M", bound=nn.Module)


def freeze(module: M) -> M:
    """Stop learning in ``module``: every parameter gets ``requires_grad = False`` (in place).

    Frozen parameters receive no ``.grad`` in ``backward``, so an optimizer built over all of a model's
    parameters leaves them unchanged (torch's optimizers skip parameters whose grad is None; so do
    ``udl.optim``'s). Gradients still flow *through* the frozen module to anything before it.
    Mode (train/eval) is not changed: put the module in eval mode yourself if it holds dropout or batch norm
    statistics that should stay fixed too.

    Args:
        module: any module.

    Returns:
        ``module`` itself, for chaining.
    """
    module.requires_grad_(False)
    return module


def unfreeze(module: M) -> M:
    """Undo :func:`freeze`: every parameter of ``module`` gets ``requires_grad = True`` (in place)."""
    module.requires_grad_(True)
    return module


class MLPTrunk(nn.Module):
    r"""The hidden layers of a :class:`udl.nn.MLP`: :math:`\mathbf{x} \mapsto \mathbf{h}_K` (UDL eq. 4.15).

    The trunk *shares* the MLP's ``nn.Linear`` modules (no copy): training the MLP trains the trunk and vice
    versa, and ``mlp.layers[-1](trunk(x)) == mlp(x)`` exactly.

    Args:
        mlp: an MLP with at least one hidden layer.

    Shapes:
        input (..., D_i) -> output (..., D_K).
    """

    def __init__(self, mlp: MLP) -> None:
        super().__init__()
        if mlp.depth < 1:
            raise ValueError("an MLP with no hidden layer (hidden_widths=()) has no trunk")
        self.layers = nn.ModuleList(list(mlp.layers[:-1]))
        self.activation = mlp.activation
        self.out_features: int = mlp.widths[-2]

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer in self.layers:
            h = self.activation(layer(h))  # h_k = a[β_{k-1} + Ω_{k-1} h_{k-1}]
        return h


def mlp_trunk(mlp: MLP) -> MLPTrunk:
    """The trunk (all hidden layers, shared not copied) of ``mlp``; see :class:`MLPTrunk`."""
    return MLPTrunk(mlp)


def replace_head(model: M, new_head: nn.Module, *, name: str | None = None) -> M:
    """Remove the last layer of ``model`` and put ``new_head`` in its place (in place; UDL section 9.3.7).

    Every other parameter is left exactly as it was (same tensors, same values).

    - :class:`udl.nn.MLP`: ``new_head`` must be an ``nn.Linear`` whose ``in_features`` is the last hidden width
      D_K; it becomes ``model.layers[-1]`` and ``model.widths`` is updated to the new output size.
    - ``nn.Sequential``: the last child is replaced by ``new_head``.
    - :class:`TrunkWithHeads`: the head called ``name`` is replaced (``name`` is required).

    Args:
        model: the network whose head is replaced.
        new_head: the new output layer(s).
        name: which head of a :class:`TrunkWithHeads`; must be None otherwise.

    Returns:
        ``model`` itself.

    Raises:
        ValueError: an MLP without hidden layers, a head that does not fit, a missing or unknown ``name``.
        TypeError: a model of another kind.
    """
    if isinstance(model, TrunkWithHeads):
        if name is None or name not in model.heads:
            raise ValueError(f"name must be one of the heads {sorted(model.heads)}, got {name!r}")
        model.heads[name] = new_head
        return model
    if name is not None:
        raise ValueError("name is only used with a TrunkWithHeads")
    if isinstance(model, MLP):
        if model.depth < 1:
            raise ValueError("an MLP with no hidden layer (hidden_widths=()) has no trunk to keep")
        d_k = model.widths[-2]
        if not isinstance(new_head, nn.Linear) or new_head.in_features != d_k:
            raise ValueError(f"the new head of an MLP must be an nn.Linear with in_features={d_k}")
        model.layers[-1] = new_head
        model.widths = (*model.widths[:-1], new_head.out_features)
        return model
    if isinstance(model, nn.Sequential):
        if len(model) == 0:
            raise ValueError("an empty nn.Sequential has no head")
        model[len(model) - 1] = new_head
        return model
    raise TypeError(
        f"replace_head supports MLP, nn.Sequential and TrunkWithHeads, got {type(model).__name__}"
    )


class TrunkWithHeads(nn.Module):
    r"""One shared trunk, several heads: multi-task learning (UDL section 9.3.7).

    ``forward(x)`` computes the trunk once, :math:`\mathbf{h} = \mathrm{trunk}[\mathbf{x}]`, and returns
    ``{name: head(h)}`` for every head, in the order the heads were given. A multi-task loss is then a weighted
    sum of the per-head losses; each head's gradient reaches the trunk, which is how one task can shape the
    representation another task uses.

    Args:
        trunk: the shared layers (e.g. :func:`mlp_trunk` of an MLP, or any module).
        heads: name -> head module (at least one); names must be valid ``nn.ModuleDict`` keys.

    Shapes:
        input: whatever ``trunk`` takes -> dict of each head's output.
    """

    def __init__(self, trunk: nn.Module, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("TrunkWithHeads needs at least one head")
        self.trunk = trunk
        self.heads = nn.ModuleDict(dict(heads))

    def features(self, x: Tensor) -> Tensor:
        """The shared representation ``trunk(x)``."""
        out: Tensor = self.trunk(x)
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.trunk(x)
        return {name: head(h) for name, head in self.heads.items()}
