"""The non-finite guard: stop training at the first NaN/inf loss or gradient, naming the quantity and the step.

On the CPU a check costs nothing, so every watched value is checked at once and the error is raised inside the
step that produced it. On an accelerator, ``bool(tensor)`` would stall the device once per step; there the guard
records, on the device, the first step at which each watched value was non-finite (and the value) and
:meth:`NonFiniteGuard.check` — which the training loop calls before every log and checkpoint — reads them back in
one transfer. Either way the error names the first step, so a run that diverged on the GPU fails exactly like one
on the CPU, only a few steps later.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from udl.errors import DivergenceError

__all__ = ["NonFiniteGuard"]


class NonFiniteGuard:
    """Watches losses and gradients for NaN/inf; raises :class:`~udl.errors.DivergenceError` for the first one.

    ``udl.train.train`` sets :attr:`step` before each call of the step function and watches every metric whose
    name contains ``"loss"``; a step function can watch more (e.g. gradients) with the same guard, passed to
    ``train(..., guard=guard)``. Values on the CPU (and Python floats) are checked at once; values on other
    devices are checked at :meth:`check` without a host synchronization in between.

    Example::

        guard = NonFiniteGuard()

        def step(batch):
            loss = loss_fn(model(batch))
            loss.backward()
            guard.watch_gradients(model)  # names "gradient of <parameter>"
            ...

        train(step, data, steps=1000, state=state, guard=guard)

    Args:
        eager: check at once (True), or defer to :meth:`check` (False); None: at once for CPU values only.

    Attributes:
        step: the 1-based step number recorded with each watched value (set by the loop).
    """

    def __init__(self, eager: bool | None = None) -> None:
        self.eager = eager
        self.step = 0
        # quantity names -> (names, first bad step (-1: none yet), the value there), kept on the values' device
        self._pending: dict[tuple[str, ...], tuple[Tensor, Tensor]] = {}

    def watch(self, quantity: str, value: Tensor | float) -> None:
        """Record ``value`` (a Python number or a tensor of any shape) at the current step under ``quantity``."""
        if isinstance(value, Tensor):
            if value.numel():
                self._watch((quantity,), value.detach().reshape(1) if value.numel() == 1 else _worst(value))
        elif not math.isfinite(float(value)):
            self.check()  # an earlier value recorded on a device comes first
            raise DivergenceError(quantity, self.step, float(value))

    def watch_gradients(self, module: nn.Module, prefix: str = "gradient of ") -> None:
        """Record the norm of every parameter gradient of ``module``, named ``prefix + parameter name``; give
        each module its own prefix when several are watched (``"gradient of disc."``)."""
        named = [(n, p.grad) for n, p in module.named_parameters() if p.grad is not None]
        if named:
            norms = torch.stack(torch._foreach_norm([g for _, g in named]))
            self._watch(tuple(prefix + n for n, _ in named), norms)

    def _watch(self, names: tuple[str, ...], values: Tensor) -> None:
        if self.eager or (self.eager is None and values.device.type == "cpu"):
            if len(values) == 1 and math.isfinite(float(values[0])):
                return  # the common case, one scalar: one read instead of three kernels
            if not bool(torch.isfinite(values).all()):
                i = int((~torch.isfinite(values)).nonzero()[0])
                self.check()
                raise DivergenceError(names[i], self.step, float(values[i]))
            return
        if names not in self._pending:
            self._pending[names] = (
                torch.full(values.shape, -1, dtype=torch.int64, device=values.device),
                torch.zeros(values.shape, dtype=torch.float64, device=values.device),
            )
        first, seen = self._pending[names]
        new = ~torch.isfinite(values) & (first < 0)
        first.masked_fill_(new, self.step)
        seen.copy_(torch.where(new, values.double(), seen))

    def check(self) -> None:
        """Raise for the earliest non-finite value recorded on a device (ties: the one watched first)."""
        if not self._pending:
            return
        candidates = []
        for order, (names, (first, seen)) in enumerate(self._pending.items()):
            steps = first.tolist()  # the one host synchronization, at a log or checkpoint point
            for i, s in enumerate(steps):
                if s >= 0:
                    candidates.append((s, order, i, names[i], float(seen[i])))
        if candidates:
            s, _, _, quantity, value = min(candidates)
            raise DivergenceError(quantity, s, value)


def _worst(value: Tensor) -> Tensor:
    """A one-element tensor that is non-finite iff some element of ``value`` is (the first such element)."""
    flat = value.detach().reshape(-1)
    bad = ~torch.isfinite(flat)
    return torch.where(bad.any(), flat[bad.int().argmax()], flat.new_zeros(())).reshape(1)
