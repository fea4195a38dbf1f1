"""A run object for the loop tests: checkpoints through real safetensors files, and an optional kill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
