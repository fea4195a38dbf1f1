"""Machinery shared by udl's optimizers: hyperparameter checks, the step/closure protocol, gradient collection
and the grouping of tensors for the multi-tensor (``torch._foreach_*``) code paths."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar, overload

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import ParamsT


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
    _nonnegative: ClassVar[tuple[str, ...]] = ()
    """hyperparameters that must be finite reals >= 0"""
    _flags: ClassVar[tuple[str, ...]] = ()
    """hyperparameters that must be True or False (``foreach`` may also be None, in every optimizer)"""
    _added_later: ClassVar[dict[str, Any]] = {}
    """hyperparameters an older pickled optimizer may lack, with the defaults ``__setstate__`` fills in"""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._check_hyperparameters(defaults)
        super().__init__(params, defaults)

    @classmethod
    def _check_hyperparameters(cls, group: dict[str, Any]) -> None:
        """A ValueError naming the first bad hyperparameter of ``group``; subclasses add their own checks."""
        for name in cls._nonnegative:
            check_nonnegative(name, group[name])
        for name in cls._flags:
            check_flag(name, group[name])
        check_flag("foreach", group["foreach"], optional=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for name, default in self._added_later.items():
                group.setdefault(name, default)

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


def init_states(
    optimizer: Optimizer, params: list[Tensor], names: tuple[str, ...], later: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The per-parameter state of ``params``, created at a parameter's first update: a 0-dim int64 ``step`` count
    and a zero tensor like the parameter for each of ``names``; then one for each of ``later`` (state that an
    option adds, such as a momentum buffer) where it is still missing."""
    states = states_of(optimizer, params)
    for p, state in zip(params, states, strict=True):
        if "step" not in state:
            state["step"] = torch.zeros((), dtype=torch.int64)
            for name in names:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
        for name in later:
            if name not in state:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return states


@dataclass(frozen=True)
class GroupHyper:
    """One parameter group's hyperparameters as plain Python numbers: those every rule has; a rule's subclass adds
    its own."""

    lr: float
    weight_decay: float
    maximize: bool

    @classmethod
    def of(cls, group: dict[str, Any], **values: Any) -> Any:
        """The fields read from ``group`` by name (as float, or bool where annotated so), ``values`` for those
        the group names differently."""
        for f in fields(cls):
            if f.name not in values:
                values[f.name] = bool(group[f.name]) if f.type in ("bool", bool) else float(group[f.name])
        return cls(**values)
