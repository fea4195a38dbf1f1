"""One seed drives Python, numpy and torch."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, numpy's global RNG and torch's global RNG; return a fresh torch Generator.

    The returned generator is seeded with ``seed`` too; pass it explicitly to random library functions
    (``generator=``) so results do not depend on what else consumed the global streams.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def global_rng_state() -> dict[str, Any]:
    """The global RNG states of Python, numpy and torch (CPU, and CUDA's per device once CUDA is in use), as a
    checkpointable tree."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
        **({"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_initialized() else {}),
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`global_rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    nps = state["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32)
    np.random.set_state((nps["name"], keys, nps["pos"], nps["has_gauss"], nps["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():  # a CUDA run resumed on CPU keeps its CPU streams
        torch.cuda.set_rng_state_all(list(state["cuda"]))
