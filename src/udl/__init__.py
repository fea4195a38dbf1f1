"""udl: *Understanding Deep Learning* (Prince, 2023), runnable and verified.

The library parts live in subpackages (``udl.data``, ``udl.functional``, ``udl.nn``, ``udl.train``, ...);
``udl`` itself only re-exports the version.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("udl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
