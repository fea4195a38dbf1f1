"""Where udl caches what it generates or trains once (MNIST-1D arrays, the Fréchet digits classifier)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_directory"]


def cache_directory(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` if given, else ``$UDL_CACHE`` if set, else ``platformdirs.user_cache_dir("udl")``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("UDL_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("udl"))
