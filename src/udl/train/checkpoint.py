"""Checkpoints without pickle: one safetensors file holding the tensors and, in its header, the structure.

A checkpoint is a *tree*: nested dicts (any int/str keys), lists, tuples, tensors, and JSON scalars — exactly
what ``module.state_dict()``, ``optimizer.state_dict()``, ``scheduler.state_dict()`` and RNG states are made of.
``save_checkpoint(stem, tree)`` writes the single file ``stem.safetensors``: the tensors keyed by their path in
the tree, and the structure (each tensor replaced by a reference to its key) as JSON in the header's metadata.
One file, written to a temporary name, fsynced and renamed, so a kill at any moment leaves the previous
checkpoint or the new one, never weights of one step beside the loop state of another.
``load_checkpoint(stem)`` rebuilds the tree. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from udl.errors import CheckpointError

FORMAT = "udl-checkpoint-2"


def _encode(node: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, torch.Tensor):
        key = path or "root"
        # safetensors refuses shared or non-contiguous storage; a copy keeps the checkpoint independent.
        tensors[key] = node.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(node, dict):
        return {"__dict__": [[k, _encode(v, f"{path}.{k}", tensors)] for k, v in node.items()]}
    if isinstance(node, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(node)]}
    if isinstance(node, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(node)]
    if isinstance(node, float) and not math.isfinite(node):
        return {"__float__": repr(node)}
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"cannot checkpoint a value of type {type(node).__name__} at {path or 'root'}")


def _decode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__dict__" in node:
            return {k: _decode(v, tensors) for k, v in node["__dict__"]}
        if "__tuple__" in node:
            return tuple(_decode(v, tensors) for v in node["__tuple__"])
        if "__float__" in node:
            return float(node["__float__"])
    return node


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def checkpoint_path(stem: str | os.PathLike[str]) -> Path:
    """The one file a checkpoint ``stem`` lives in: ``stem.safetensors``."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".safetensors")


def save_checkpoint(stem: str | os.PathLike[str], tree: Any) -> None:
    """Write ``tree`` to the single file ``stem.safetensors``, atomically and durably.

    The tensors are the file's tensors; the tree's structure (with each tensor replaced by a reference to its
    key) is JSON in the safetensors header's metadata. The file is written to ``stem.safetensors.tmp``, fsynced,
    renamed over the old checkpoint and the directory fsynced: a reader (or a resumed run after a kill at any
    moment) sees either the old checkpoint or the new one, never a mix of the two.
    """
    path = checkpoint_path(stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(tree, "", tensors)
    meta = {
        "format": FORMAT,
        "num_tensors": str(len(tensors)),
        "tree": json.dumps(structure, allow_nan=False),
    }
    data = save(tensors, metadata=meta)
    tmp = path.with_name(path.name + ".tmp")
    _write_durably(tmp, data)
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def checkpoint_exists(stem: str | os.PathLike[str]) -> bool:
    return checkpoint_path(stem).exists()


def _header_metadata(data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise ValueError("file too short for a safetensors header")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError("safetensors header runs past the end of the file")
    header = json.loads(data[8 : 8 + size])
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        raise ValueError("no udl metadata in the safetensors header")
    return meta


def load_checkpoint(stem: str | os.PathLike[str]) -> Any:
    """Read back what :func:`save_checkpoint` wrote; any damage raises :class:`CheckpointError` (one line)."""
    path = checkpoint_path(stem)
    try:
        data = path.read_bytes()
        meta = _header_metadata(data)
        if meta.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file (format {meta.get('format')!r})")
        tensors = load(data)
        if len(tensors) != int(meta["num_tensors"]):
            raise ValueError(f"expected {meta['num_tensors']} tensors, found {len(tensors)}")
        return _decode(json.loads(meta["tree"]), tensors)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise CheckpointError(f"corrupt checkpoint {path}: {e}") from None
