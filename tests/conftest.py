"""Shared fixtures: a private data cache per test session, and a helper that runs the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Generated data sets are cached per test session, never in the user's cache directory.
    os.environ.setdefault("UDL_CACHE", str(tmp_path_factory.getbasetemp() / "udl-cache"))


def udl(*args: str | Path, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m udl ARGS`` and capture its output (the real CLI, in a fresh process)."""
    env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "udl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def cli():
    return udl
