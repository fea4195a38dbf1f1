"""Many copies of one architecture (one per seed) evaluated as a single vectorized computation.

Repeating a small experiment over seeds spends most of its time in per-call Python overhead when the copies are
run one after another. :class:`StackedEnsemble` stacks the copies' parameters along a new leading dimension
(``torch.func.stack_module_state``) and evaluates all of them with one ``torch.func.vmap`` of
``torch.func.functional_call``. Summing the members' losses couples nothing: every stacked slice belongs to one
member, so the gradient of member m's slice is the gradient of member m's own loss, and any elementwise optimizer
(SGD, momentum, Adam without shared state across elements) updates each slice exactly as it would update that
member trained alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["StackedEnsemble"]


class StackedEnsemble(nn.Module):
    """M modules of one architecture as one module whose parameters have a leading member dimension M.

    Args:
        members: the modules (same parameter names and shapes); their current values are copied in.

    Shapes:
        input (N, ...) shared by every member -> output (M, N, ...): ``out[m] = members[m](x)``.

    The architecture must be ``vmap``-able (plain tensor operations; ``torch.nn.GRU`` is not), or define
    ``stacked_forward(params, x)``: the (M, N, ...) outputs from the stacked parameters ``{name: (M, *shape)}``,
    which is then used instead of ``vmap`` (e.g. ``udl.models.MNIST1DBiGRU``, whose recurrence batches the
    members in one matrix product per step).
    Parameter ``a.b`` of a member is the ensemble's parameter ``a__b`` of shape (M, *shape).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("a StackedEnsemble needs at least one member")
        params, buffers = torch.func.stack_module_state(members)
        self.names = list(params)
        for name, value in params.items():
            self.register_parameter(name.replace(".", "__"), nn.Parameter(value.detach().clone()))
        for name, value in buffers.items():
            self.register_buffer(name.replace(".", "__"), value.clone())
        self.buffer_names = list(buffers)
        self.__dict__["template"] = copy.deepcopy(members[0])  # not a submodule: its tensors are never used

    def __len__(self) -> int:
        return int(getattr(self, self.names[0].replace(".", "__")).shape[0])

    def _stacked(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        params = {n: getattr(self, n.replace(".", "__")) for n in self.names}
        buffers = {n: getattr(self, n.replace(".", "__")) for n in self.buffer_names}
        return params, buffers

    def forward(self, x: Tensor) -> Tensor:
        template = self.__dict__["template"]

        def one(params: dict[str, Tensor], buffers: dict[str, Tensor], inputs: Tensor) -> Tensor:
            out: Tensor = torch.func.functional_call(template, (params, buffers), (inputs,))
            return out

        params, buffers = self._stacked()
        if hasattr(template, "stacked_forward"):  # the architecture batches its members itself
            stacked: Tensor = template.stacked_forward(params, x)
            return stacked
        out: Tensor = torch.func.vmap(one, in_dims=(0, 0, None))(params, buffers, x)
        return out

    @torch.no_grad()
    def member(self, index: int) -> nn.Module:
        """Member ``index`` as a stand-alone module (a copy of its current weights)."""
        params, buffers = self._stacked()
        module: nn.Module = copy.deepcopy(self.__dict__["template"])
        state = {n: v[index].clone() for n, v in {**params, **buffers}.items()}
        module.load_state_dict(state)
        return module.to(params[self.names[0]].device)
