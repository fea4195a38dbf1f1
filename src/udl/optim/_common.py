"""Machinery shared by udl's optimizers: hyperparameter checks, the step/closure protocol, gradient collection
and the grouping of tensors for the multi-tensor (``torch._foreach_*``) code paths."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

import torch
from torch import Tensor
from torch.optim import Optimizer


def check_real(name: str, value: object) -> float:
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a tensor" if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a finite real number (a Python float), got {kind}: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value}")
    return float(value)


def check_nonnegative(name: str, value: object) -> None:
    if check_real(name, value) < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def check_beta(name: str, value: object) -> None:
    """An exponential-moving-average coefficient: 0 <= value < 1."""
    v = check_real(name, value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must satisfy 0 <= {name} < 1, got {value}")


def check_flag(name: str, value: object, *, optional: bool = False) -> None:
    if not (isinstance(value, bool) or (optional and value is None)):
        allowed = "True, False or None" if optional else "True or False"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def as_real(t: Tensor) -> Tensor:
    """A real view of a complex tensor (trailing dimension of size 2), or ``t`` itself."""
    return torch.view_as_real(t) if t.is_complex() else t


def device_dtype_groups(tensors: list[Tensor]) -> list[list[int]]:
    """Indices of ``tensors`` split by (device, dtype), the unit a ``torch._foreach_*`` kernel works on."""
    if not tensors:
        return []
    first = tensors[0]
    device, dtype = first.device, first.dtype
    if all(t.device == device and t.dtype == dtype for t in tensors):
        return [list(range(len(tensors)))]
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.device, t.dtype), []).append(i)
    return list(groups.values())


def pick(items: list[Any], indices: list[int]) -> list[Any]:
    if len(indices) == len(items):
        return items  # the common single-group case: no copy
    return [items[i] for i in indices]


TensorsT = TypeVar("TensorsT", bound=tuple[Any, ...])
HyperT = TypeVar("HyperT")


def run_update(
    single: Callable[[TensorsT, HyperT], None],
    multi: Callable[[TensorsT, HyperT], None],
    tensors: TensorsT,
    hyper: HyperT,
    *,
    foreach: bool,
) -> None:
    """Apply one update rule to a group: ``single(tensors, hyper)`` once, or, with ``foreach``,
    ``multi(part, hyper)`` once per (device, dtype) group of the parameters.

    ``tensors`` is a NamedTuple of parallel lists (parameters first, then gradients and state); an optional state
    list may be ``None`` and stays ``None`` in every part."""
    if not foreach:
        single(tensors, hyper)
        return
    make: Any = type(tensors)  # a NamedTuple class: its fields are positional
    for idx in device_dtype_groups(tensors[0]):
        multi(make(*(None if t is None else pick(t, idx) for t in tensors)), hyper)


class BookOptimizer(Optimizer):
    """Base of udl's optimizers: checks every parameter group's hyperparameters (also groups added later with
    ``add_param_group``), runs the closure with gradients enabled, and hands each group's parameters that have a
    gradient to ``_update_group``, which implements the update rule on the single- or multi-tensor path."""

    _name: str = "optimizer"

    @classmethod
    def _check_hyperparameters(cls, group: dict[str, Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        merged = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        self._check_hyperparameters(merged)
        super().add_param_group(param_group)

    def _params_with_grads(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
        """The parameters of ``group`` that have a gradient (``p.grad is None`` is skipped), and their gradients."""
        params: list[Tensor] = []
        grads: list[Tensor] = []
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError(
                    f"udl.optim.{self._name} does not support sparse gradients (got one for a parameter of shape "
                    f"{tuple(p.shape)}); use torch.optim.SparseAdam, or a dense embedding (sparse=False)"
                )
            params.append(p)
            grads.append(grad)
        return params, grads

    @staticmethod
    def _use_foreach(foreach: bool | None, params: list[Tensor]) -> bool:
        """``foreach=None`` means multi-tensor whenever every parameter lives on one device (CPU included)."""
        if foreach is not None:
            return foreach
        device = params[0].device
        return all(p.device == device for p in params)

    def _update_group(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]) -> None:
        raise NotImplementedError  # pragma: no cover

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient, once.

        Args:
            closure: optional function that re-evaluates the model, calls ``backward`` and returns the loss; it is
                run with gradients enabled before the update.

        Returns:
            The closure's loss, or ``None`` without a closure.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = self._params_with_grads(group)
            if params:
                self._update_group(group, params, grads)
        return loss


def states_of(optimizer: Optimizer, params: Iterable[Tensor]) -> list[dict[str, Any]]:
    return [optimizer.state[p] for p in params]
