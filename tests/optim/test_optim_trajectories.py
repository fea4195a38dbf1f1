"""udl.optim's optimizers follow torch.optim's trajectories over 300 steps, on both code paths.

The problem (optim_harness): a tanh network with matrix, vector and scalar parameters in two parameter groups with
different hyperparameters, a new mini-batch every step, one tensor without a gradient on every third step and one
never. udl evaluates torch's update rules in the same floating-point order, so the paths agree to the last bit in
practice; the tests allow rtol 1e-12 against torch and a few ulps between udl's own foreach and single-tensor paths.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from optim_harness import assert_moved, assert_same_path, train

import udl.optim

VS_TORCH = {"rtol": 1e-12, "atol": 1e-14}
ULPS = {"rtol": 4 * torch.finfo(torch.float64).eps, "atol": 1e-15}

SGD_CASES = [
    {"lr": 0.05},
    {"lr": 0.05, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.01, "maximize": True},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.02, "maximize": True},
]
ADAM_CASES = [
    {"lr": 0.01},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3},
    {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
]
ADAMW_CASES = [
    {"lr": 0.01},
    {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.05, "maximize": True},
    {"lr": 0.01, "weight_decay": 0.0},
]
RMSPROP_CASES = [
    {"lr": 0.005},
    {"lr": 0.005, "centered": True},
    {"lr": 0.002, "momentum": 0.9},
    {"lr": 0.002, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    {"lr": 0.005, "centered": True, "maximize": True, "eps": 1e-4},
    {"lr": 0.005, "alpha": 0.9, "weight_decay": 0.01, "maximize": True},
]
# The second parameter group overrides these (chosen to be valid with every case above).
SECOND_GROUP = {
    "SGD": {"lr": 0.02, "momentum": 0.5},
    "Adam": {"lr": 0.005, "betas": (0.8, 0.99)},
    "AdamW": {"lr": 0.005, "weight_decay": 0.3},
    "RMSprop": {"lr": 0.001, "alpha": 0.9},
}
CASES = [
    pytest.param(name, kw, id=f"{name}-{i}")
    for name, cases in [
        ("SGD", SGD_CASES),
        ("Adam", ADAM_CASES),
        ("AdamW", ADAMW_CASES),
        ("RMSprop", RMSPROP_CASES),
    ]
    for i, kw in enumerate(cases)
]


def _runner(module: Any, name: str, kwargs: dict[str, Any], foreach: bool):
    cls = getattr(module, name)
    return lambda groups: cls(groups, foreach=foreach, **kwargs)


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_trajectory_equals_torch(name: str, kwargs: dict[str, Any]) -> None:
    sign = -1.0 if kwargs.get("maximize") else 1.0  # maximize the negated loss: a trajectory that converges
    second = SECOND_GROUP[name]
    paths = {}
    for foreach in (False, True):
        ours = train(_runner(udl.optim, name, kwargs, foreach), second, sign=sign)
        theirs = train(_runner(torch.optim, name, kwargs, foreach), second, sign=sign)
        assert_same_path(ours, theirs, **VS_TORCH)
        paths[foreach] = ours
    assert_same_path(paths[True], paths[False], **ULPS)
    assert_moved(paths[True])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
        ("AdamW", {"lr": 0.01}),
        ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ],
)
def test_maximizing_the_negated_loss_is_minimizing_the_loss(name: str, kwargs: dict[str, Any]) -> None:
    second = SECOND_GROUP[name]
    descend = train(_runner(udl.optim, name, kwargs, True), second, steps=60, every=20)
    ascend = train(
        _runner(udl.optim, name, {**kwargs, "maximize": True}, True), second, steps=60, every=20, sign=-1
    )
    assert_same_path(descend, ascend, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("foreach", [False, True])
def test_complex_and_mixed_dtype_parameters_match_torch(name: str, foreach: bool) -> None:
    # A complex tensor (updated as pairs of reals by the adaptive methods) and float32 next to float64 tensors in
    # one group, which the multi-tensor path must split into per-dtype batches.
    kwargs: dict[str, Any] = {"lr": 0.01} | ({"momentum": 0.9} if name in ("SGD", "RMSprop") else {})
    g = torch.Generator().manual_seed(3)
    init = [
        torch.randn(4, 3, dtype=torch.complex128, generator=g),
        torch.randn(5, dtype=torch.float32, generator=g),
        torch.randn(3, dtype=torch.float64, generator=g),
    ]
    target = torch.randn(4, 3, dtype=torch.complex128, generator=g)

    def run(module: Any) -> list[torch.Tensor]:
        ps = [t.clone().requires_grad_() for t in init]
        opt = getattr(module, name)(ps, foreach=foreach, **kwargs)
        for t in range(80):
            opt.zero_grad()
            loss = (ps[0] - target).abs().pow(2).sum() + (ps[1] ** 2).sum() * (1 + t % 2) + ps[2].exp().sum()
            loss.backward()
            opt.step()
        return [p.detach() for p in ps]

    for ours, theirs in zip(run(udl.optim), run(torch.optim), strict=True):
        torch.testing.assert_close(
            ours, theirs, rtol=1e-12 if ours.dtype != torch.float32 else 1e-6, atol=1e-14
        )
