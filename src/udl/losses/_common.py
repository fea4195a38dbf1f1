"""Shared helpers of ``udl.losses``: the ``reduction`` argument and argument validation."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def check_reduction(reduction: str) -> None:
    """Raise ``ValueError`` unless ``reduction`` is one of ``"mean"``, ``"sum"``, ``"none"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` to a tensor of elementwise / per-example losses.

    ``"mean"`` averages over every element (an empty tensor gives NaN, as in ``torch.nn.functional``), ``"sum"``
    adds them (an empty tensor gives 0) and ``"none"`` returns ``loss`` unchanged.
    """
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def as_float_tensor(x: Tensor | float, like: Tensor) -> Tensor:
    """``x`` as a tensor on the device of ``like``; a Python number takes the dtype of ``like``."""
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    return torch.as_tensor(x, dtype=dtype, device=like.device)


def check_positive(x: Tensor, name: str, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` if any element of ``x`` is negative (or zero, unless ``allow_zero``).

    NaNs are not reported here; they propagate to the loss, as in ``torch.nn.functional``.
    """
    bad = x < 0 if allow_zero else x <= 0
    if bool(bad.any()):
        worst = x.detach()[bad].min().item()
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} everywhere; got a value of {worst:g}")


def check_values_in(target: Tensor, allowed: tuple[float, ...], name: str, hint: str = "") -> None:
    """Raise ``ValueError`` unless every element of ``target`` is one of ``allowed`` (NaN is not allowed)."""
    ok = torch.zeros_like(target, dtype=torch.bool)
    for value in allowed:
        ok |= target == value
    if not bool(ok.all()):
        offending = target.detach()[~ok]
        shown = ", ".join(f"{v:g}" for v in offending[:5].tolist())
        more = f" (and {offending.numel() - 5} more)" if offending.numel() > 5 else ""
        choices = ", ".join(f"{v:g}" for v in allowed)
        raise ValueError(f"{name} values must be in {{{choices}}}; got {shown}{more}{hint}")


def check_class_labels(y: Tensor, num_classes: int) -> None:
    """Raise ``ValueError`` unless ``y`` is an integer tensor of class indices in ``0..num_classes - 1``."""
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"labels must be an integer tensor of class indices, got dtype {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}")
