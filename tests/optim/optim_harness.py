"""A small training problem shared by the udl.optim tests: a tanh network with parameter tensors of several shapes
(matrices, vectors, a scalar), trained on a different mini-batch at every step, in two parameter groups, where one
tensor has no gradient on every third step and another never has one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from reference import F64, gen

Params = dict[str, Tensor]
MakeOptimizer = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]

_g = gen(1234)
_X = torch.randn(64, 4, generator=_g, dtype=F64)
_Y = torch.randn(64, 3, generator=_g, dtype=F64)
_INIT: Params = {
    "W1": 0.7 * torch.randn(8, 4, generator=_g, dtype=F64),
    "b1": 0.1 * torch.randn(8, generator=_g, dtype=F64),
    "W2": 0.7 * torch.randn(3, 8, generator=_g, dtype=F64),
    "b2": 0.1 * torch.randn(3, generator=_g, dtype=F64),
    "scale": torch.tensor(1.0, dtype=F64),
    "extra": torch.randn(2, 3, generator=_g, dtype=F64),  # no gradient when step % 3 == 0
    "unused": torch.randn(5, generator=_g, dtype=F64),  # never has a gradient
}


def fresh_params() -> Params:
    return {k: v.clone().requires_grad_() for k, v in _INIT.items()}


def param_groups(p: Params, second_group: dict[str, Any]) -> list[dict[str, Any]]:
    """Two groups; the second (W2, b2) overrides some hyperparameters."""
    first = [p["W1"], p["b1"], p["scale"], p["extra"], p["unused"]]
    return [{"params": first}, {"params": [p["W2"], p["b2"]], **second_group}]


def loss_at(p: Params, t: int) -> Tensor:
    """The loss at step t: squared error of the network on a 16-row mini-batch, plus a term in ``extra``."""
    rows = (torch.arange(16) + 11 * t) % _X.shape[0]
    h = torch.tanh(_X[rows] @ p["W1"].T + p["b1"])
    out = p["scale"] * (h @ p["W2"].T) + p["b2"]
    loss = ((out - _Y[rows]) ** 2).mean()
    if t % 3 != 0:
        loss = loss + 0.05 * ((p["extra"] - 0.5) ** 2).sum() + 0.01 * (p["extra"] ** 4).sum()
    return loss


def train(
    make: MakeOptimizer,
    second_group: dict[str, Any],
    steps: int = 300,
    *,
    sign: float = 1.0,
    every: int = 50,
) -> list[Params]:
    """Train from the shared start; return snapshots of all parameters every ``every`` steps and at the end.
    ``sign=-1`` trains on the negated loss (for ``maximize=True``)."""
    p = fresh_params()
    opt = make(param_groups(p, second_group))
    snapshots = []
    for t in range(steps):
        opt.zero_grad()
        (sign * loss_at(p, t)).backward()
        opt.step()
        if (t + 1) % every == 0 or t + 1 == steps:
            snapshots.append({k: v.detach().clone() for k, v in p.items()})
    return snapshots


def assert_same_path(a: list[Params], b: list[Params], *, rtol: float, atol: float) -> None:
    assert len(a) == len(b)
    for i, (sa, sb) in enumerate(zip(a, b, strict=True)):
        for name in sa:
            torch.testing.assert_close(
                sa[name],
                sb[name],
                rtol=rtol,
                atol=atol,
                msg=lambda m, i=i, name=name: f"{name}, snapshot {i}: {m}",
            )


def assert_moved(path: list[Params]) -> None:
    """The optimizer really trained: every parameter with gradients moved, the unused one did not."""
    start, end = _INIT, path[-1]
    for name in start:
        moved = not torch.equal(start[name], end[name])
        assert moved == (name != "unused"), name
