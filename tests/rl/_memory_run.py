"""A run object for the loop tests: checkpoints through real safetensors files, and an optional kill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from udl.train import NullRun, load_checkpoint, save_checkpoint
from udl.train.checkpoint import checkpoint_exists


class Killed(Exception):
    pass


class FileRun(NullRun):
    def __init__(self, directory: Path, kill_at: int | None = None) -> None:
        self.directory, self.kill_at = directory, kill_at

    def log(self, step: int, **metrics: float) -> None:
        if self.kill_at is not None and step >= self.kill_at:
            raise Killed(step)

    def save_state(self, key: str, tree: Any) -> None:
        save_checkpoint(self.directory / key, tree)

    def load_state(self, key: str) -> Any | None:
        stem = self.directory / key
        return load_checkpoint(stem) if checkpoint_exists(stem) else None


def assert_kill_and_resume_match(
    train: Any, directory: Path, kill_at: int, resumed_from: int, **kwargs: Any
) -> None:
    """``train(run=..., **kwargs) -> (module, TrainResult)`` killed at log step ``kill_at`` and resumed from its
    checkpoint ends with the same parameters, bit for bit, as an uninterrupted run."""
    straight, _ = train(**kwargs)
    try:
        train(run=FileRun(directory, kill_at=kill_at), **kwargs)
    except Killed:
        pass
    else:
        raise AssertionError(f"the run was not killed at step {kill_at}")
    resumed, result = train(run=FileRun(directory), **kwargs)
    assert result.resumed_from == resumed_from, result.resumed_from
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
