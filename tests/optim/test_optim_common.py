"""udl.optim._common.run_update: the one dispatcher of every optimizer's single- and multi-tensor paths."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from udl.optim._common import run_update


class _Tensors(NamedTuple):
    params: list[Tensor]
    extra: list[Tensor] | None


def test_run_update_single_path_gets_everything_once() -> None:
    params = [torch.zeros(2), torch.zeros(3, dtype=torch.float64)]
    calls: list[tuple[_Tensors, str]] = []
    run_update(
        lambda t, h: calls.append((t, h)), lambda t, h: None, _Tensors(params, None), "hyper", foreach=False
    )
    assert len(calls) == 1
    assert calls[0][0].params is params and calls[0][0].extra is None and calls[0][1] == "hyper"


def test_run_update_multi_path_splits_by_dtype_and_keeps_none() -> None:
    params = [torch.zeros(2), torch.zeros(3, dtype=torch.float64), torch.zeros(4)]
    extra = [torch.ones(2), torch.ones(3, dtype=torch.float64), torch.ones(4)]
    parts: list[_Tensors] = []
    run_update(lambda t, h: None, lambda t, h: parts.append(t), _Tensors(params, extra), 0, foreach=True)
    assert [[p.numel() for p in part.params] for part in parts] == [[2, 4], [3]]
    assert [[e.numel() for e in part.extra or []] for part in parts] == [[2, 4], [3]]
    assert all(isinstance(part, _Tensors) for part in parts)
    none_parts: list[_Tensors] = []
    run_update(lambda t, h: None, lambda t, h: none_parts.append(t), _Tensors(params, None), 0, foreach=True)
    assert [part.extra for part in none_parts] == [None, None]
