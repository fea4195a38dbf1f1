"""Parameter groups that put weight decay on the weights only (UDL 9.1: biases are usually not penalized)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

__all__ = ["decay_groups"]


def _is_weight(name: str, param: nn.Parameter) -> bool:
    return param.ndim >= 2 and not any("bias" in part for part in name.split("."))


def decay_groups(
    model: nn.Module, weight_decay: float, decayed: Iterable[Tensor] | None = None
) -> list[dict[str, Any]]:
    """Two parameter groups for an optimizer: ``decayed`` with ``weight_decay``, every other parameter of
    ``model`` with none, e.g. ``AdamW(decay_groups(model, 0.01), lr=1e-3)``.

    By default the decayed parameters are the weights: those with at least two dimensions whose qualified name
    has no part containing ``bias`` (``nn.Linear``/conv weights and ``udl.train.StackedMLP.weights``, not
    biases, ``StackedMLP.biases`` or normalization scales). Both groups keep the order of
    ``model.parameters()`` where ``decayed`` is not given, else ``decayed``'s order for the first group.
    """
    chosen: list[Tensor]
    if decayed is None:
        chosen = [p for name, p in model.named_parameters() if _is_weight(name, p)]
    else:
        chosen = list(decayed)
        if any(all(p is not q for q in model.parameters()) for p in chosen):
            raise ValueError("every decayed parameter must be a parameter of the model")
    rest = [p for p in model.parameters() if all(p is not q for q in chosen)]
    return [{"params": chosen, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
