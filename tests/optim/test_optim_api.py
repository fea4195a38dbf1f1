"""udl.optim optimizers as torch.optim.Optimizers: checkpoints, closures, param groups, code-path selection,
sparse gradients and hyperparameter validation."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
import torch
from optim_harness import assert_same_path, fresh_params, loss_at, param_groups

import udl.optim
from reference import F64

STATEFUL = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"momentum": 0.5}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.5, "centered": True}, {"alpha": 0.9}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, {"betas": (0.8, 0.99)}),
    ("AdamW", {"lr": 0.01}, {"lr": 0.003}),
]


def _snapshot(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in p.items()}


@pytest.mark.parametrize(("name", "kwargs", "second"), STATEFUL)
@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip_continues_identically(
    name: str, kwargs: dict, second: dict, foreach: bool
) -> None:
    cls = getattr(udl.optim, name)
    half, total = 90, 180

    def run(p, opt, start, stop):
        for t in range(start, stop):
            opt.zero_grad()
            loss_at(p, t).backward()
            opt.step()

    p = fresh_params()
    opt = cls(param_groups(p, second), foreach=foreach, **kwargs)
    run(p, opt, 0, total)
    uninterrupted = _snapshot(p)

    p = fresh_params()
    opt = cls(param_groups(p, second), foreach=foreach, **kwargs)
    run(p, opt, 0, half)
    buffer = io.BytesIO()
    torch.save({"params": _snapshot(p), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # tensors and plain values only

    # every piece of per-parameter state is a tensor, so checkpoints hold no pickled Python objects
    for state in checkpoint["optimizer"]["state"].values():
        assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    resumed = fresh_params()
    with torch.no_grad():
        for k, v in resumed.items():
            v.copy_(checkpoint["params"][k])
    # constructed with other hyperparameters: load_state_dict must restore the saved ones
    opt2 = cls(param_groups(resumed, {}), foreach=not foreach, lr=0.123)
    opt2.load_state_dict(checkpoint["optimizer"])
    assert opt2.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    run(resumed, opt2, half, total)
    assert_same_path([uninterrupted], [_snapshot(resumed)], rtol=0, atol=0)


def test_adam_step_counts_skip_parameters_without_gradient() -> None:
    p = fresh_params()
    opt = udl.optim.Adam(param_groups(p, {}), lr=0.01)
    for t in range(10):
        opt.zero_grad()
        loss_at(p, t).backward()
        opt.step()
    assert int(opt.state[p["W1"]]["step"]) == 10
    assert int(opt.state[p["extra"]]["step"]) == 6  # no gradient at t = 0, 3, 6, 9
    assert p["unused"] not in opt.state


def test_step_runs_the_closure_with_gradients_enabled_and_returns_its_loss() -> None:
    p = fresh_params()
    opt = udl.optim.SGD(param_groups(p, {}), lr=0.1, momentum=0.9)
    reference = fresh_params()
    opt_ref = udl.optim.SGD(param_groups(reference, {}), lr=0.1, momentum=0.9)
    for t in range(5):

        def closure(t: int = t) -> float:
            opt.zero_grad()
            loss = loss_at(p, t)
            loss.backward()
            return float(loss.detach())

        with torch.no_grad():  # the closure must still get gradients
            returned = opt.step(closure)
        opt_ref.zero_grad()
        expected = loss_at(reference, t)
        expected.backward()
        assert opt_ref.step() is None
        assert returned == float(expected.detach())
    assert_same_path([_snapshot(p)], [_snapshot(reference)], rtol=0, atol=0)


def test_zero_grad_is_torchs() -> None:
    p = fresh_params()
    opt = udl.optim.Adam(param_groups(p, {}))
    loss_at(p, 1).backward()
    opt.zero_grad()
    assert all(v.grad is None for v in p.values())


@pytest.mark.parametrize(
    ("name", "foreach_op"),
    [
        ("SGD", "_foreach_add_"),
        ("Adam", "_foreach_lerp_"),
        ("AdamW", "_foreach_lerp_"),
        ("RMSprop", "_foreach_sqrt"),
    ],
)
@pytest.mark.parametrize(("foreach", "expect_multi_tensor"), [(None, True), (True, True), (False, False)])
def test_foreach_none_selects_the_multi_tensor_path_on_one_device(
    name: str, foreach_op: str, foreach: bool | None, expect_multi_tensor: bool
) -> None:
    p = fresh_params()
    opt = getattr(udl.optim, name)(param_groups(p, {}), lr=0.01, foreach=foreach)
    loss_at(p, 1).backward()
    with mock.patch.object(torch, foreach_op, wraps=getattr(torch, foreach_op)) as spy:
        opt.step()
    assert spy.called == expect_multi_tensor


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_sparse_gradients_raise(name: str) -> None:
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    opt = getattr(udl.optim, name)(embedding.parameters(), lr=0.1)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


def test_defaults_and_signatures_follow_torch() -> None:
    w = [torch.zeros(2, requires_grad=True)]
    pairs = [
        (udl.optim.SGD(w), torch.optim.SGD(w)),
        (udl.optim.Adam(w), torch.optim.Adam(w)),
        (udl.optim.AdamW(w), torch.optim.AdamW(w)),
        (udl.optim.RMSprop(w), torch.optim.RMSprop(w)),
    ]
    for ours, theirs in pairs:
        for key, value in ours.defaults.items():
            assert theirs.defaults[key] == value, (type(ours).__name__, key)
    # positional order as torch's
    sgd = udl.optim.SGD(w, 0.1, 0.9, 0.0, 1e-4, True).defaults
    assert (sgd["momentum"], sgd["weight_decay"], sgd["nesterov"]) == (0.9, 1e-4, True)
    adam = udl.optim.Adam(w, 0.1, (0.8, 0.9), 1e-6, 0.01, True).defaults
    assert (adam["betas"], adam["eps"], adam["amsgrad"]) == ((0.8, 0.9), 1e-6, True)
    rms = udl.optim.RMSprop(w, 0.1, 0.9, 1e-6, 0.01, 0.5, True).defaults
    assert (rms["alpha"], rms["momentum"], rms["centered"]) == (0.9, 0.5, True)
    assert udl.optim.AdamW(w).defaults["decoupled_weight_decay"] is True


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("SGD", {"lr": -0.1}, "lr"),
    ("SGD", {"lr": float("nan")}, "lr"),
    ("SGD", {"lr": float("inf")}, "lr"),
    ("SGD", {"lr": torch.tensor(0.1)}, "lr"),
    ("SGD", {"momentum": -0.5}, "momentum"),
    ("SGD", {"weight_decay": -1e-4}, "weight_decay"),
    ("SGD", {"nesterov": True}, "nesterov"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ("SGD", {"foreach": "yes"}, "foreach"),
    ("Adam", {"lr": -1e-3}, "lr"),
    ("Adam", {"eps": -1e-8}, "eps"),
    ("Adam", {"betas": (1.0, 0.999)}, r"betas\[0\]"),
    ("Adam", {"betas": (0.9, -0.1)}, r"betas\[1\]"),
    ("Adam", {"betas": (0.9,)}, "betas"),
    ("Adam", {"weight_decay": -0.01}, "weight_decay"),
    ("Adam", {"amsgrad": 1}, "amsgrad"),
    ("AdamW", {"weight_decay": -0.01}, "weight_decay"),
    ("AdamW", {"betas": (0.9, 1.5)}, r"betas\[1\]"),
    ("RMSprop", {"lr": -0.01}, "lr"),
    ("RMSprop", {"alpha": -0.9}, "alpha"),
    ("RMSprop", {"eps": -1.0}, "eps"),
    ("RMSprop", {"momentum": -0.9}, "momentum"),
    ("RMSprop", {"weight_decay": -0.9}, "weight_decay"),
]


@pytest.mark.parametrize(("name", "kwargs", "names"), INVALID)
def test_invalid_hyperparameters_raise(name: str, kwargs: dict[str, Any], names: str) -> None:
    w = [torch.zeros(2, dtype=F64, requires_grad=True)]
    with pytest.raises(ValueError, match=names):
        getattr(udl.optim, name)(w, **kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_add_param_group_validates_the_new_group(name: str) -> None:
    opt = getattr(udl.optim, name)([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": -1.0})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5
