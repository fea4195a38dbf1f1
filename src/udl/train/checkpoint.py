"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a *tree*: nested dicts (any int/str keys), lists, tuples, tensors, and JSON scalars — exactly
what ``module.state_dict()``, ``optimizer.state_dict()``, ``scheduler.state_dict()`` and RNG states are made of.
``save_checkpoint(stem, tree)`` writes ``stem.safetensors`` (the tensors, keyed by their path in the tree) and
``stem.json`` (the structure, with each tensor replaced by a reference to its key), each atomically, JSON last;
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
from safetensors.torch import load_file, save_file

from udl.errors import CheckpointError

FORMAT = "udl-checkpoint-1"


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


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(stem: str | os.PathLike[str], tree: Any) -> None:
    """Write ``tree`` to ``stem.safetensors`` + ``stem.json`` (atomic per file; the JSON, written last, commits)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(tree, "", tensors)
    tensor_file = stem.with_name(stem.name + ".safetensors")
    _atomic_write(tensor_file, lambda p: save_file(tensors, str(p)))
    doc = {"format": FORMAT, "tensors": tensor_file.name, "num_tensors": len(tensors), "tree": structure}
    text = json.dumps(doc, allow_nan=False)
    _atomic_write(stem.with_name(stem.name + ".json"), lambda p: p.write_text(text))


def checkpoint_exists(stem: str | os.PathLike[str]) -> bool:
    stem = Path(stem)
    return stem.with_name(stem.name + ".json").exists()


def load_checkpoint(stem: str | os.PathLike[str]) -> Any:
    """Read back what :func:`save_checkpoint` wrote; any damage raises :class:`CheckpointError`."""
    stem = Path(stem)
    meta_file = stem.with_name(stem.name + ".json")
    try:
        doc = json.loads(meta_file.read_text())
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a udl checkpoint")
        tensors = load_file(str(stem.with_name(doc["tensors"])))
        if len(tensors) != doc["num_tensors"]:
            raise ValueError(f"expected {doc['num_tensors']} tensors, found {len(tensors)}")
        return _decode(doc["tree"], tensors)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise CheckpointError(f"corrupt checkpoint {meta_file}: {e}") from None
