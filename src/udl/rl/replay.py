"""Experience replay (UDL section 19.4.1): a fixed-size ring of transitions on tensors, sampled uniformly.

Every field is one preallocated tensor on the buffer's device; ``add`` writes a batch of transitions (one per
vector environment) with one indexed copy and ``sample`` draws indices from a ``torch.Generator``. The buffer
has ``state_dict`` / ``load_state_dict`` (tensors and two counters), so ``udl.train.train(state={"buffer":
buffer, ...})`` checkpoints it in its safetensors checkpoint and a killed run resumes to the same result;
``save`` / ``load`` write and read it as a file of its own (safetensors, nothing pickled).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

__all__ = ["ReplayBuffer", "Transitions"]


class Transitions(NamedTuple):
    """A batch of transitions (s, a, r, s′, terminated); ``terminated`` is 1.0 where s′ is terminal."""

    obs: Tensor
    action: Tensor
    reward: Tensor
    next_obs: Tensor
    terminated: Tensor


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` transitions.

    Args:
        capacity: the number of transitions kept; the oldest are overwritten.
        obs_shape: the shape of one observation.
        device: where the tensors live.
        obs_dtype: the observations' dtype.

    ``terminated`` is stored, not ``truncated``: a transition cut by the time limit still bootstraps from s′
    (pass the final observation as ``next_obs``, e.g. ``info["final_obs"]`` of a same-step autoreset).
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        *,
        device: torch.device | str = "cpu",
        obs_dtype: torch.dtype = torch.float32,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.capacity = capacity
        self.device = torch.device(device)
        self.obs = torch.zeros(capacity, *obs_shape, dtype=obs_dtype, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.action = torch.zeros(capacity, dtype=torch.long, device=self.device)
        self.reward = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.pos = 0
        """where the next transition is written"""
        self.size = 0
        """how many transitions the buffer holds"""

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Tensor, action: Tensor, reward: Tensor, next_obs: Tensor, terminated: Tensor) -> None:
        """Append a batch of n transitions (leading dimension n ≤ capacity)."""
        n = obs.shape[0]
        if n > self.capacity:
            raise ValueError(f"cannot add {n} transitions to a buffer of capacity {self.capacity}")
        idx = (self.pos + torch.arange(n, device=self.device)) % self.capacity
        self.obs[idx] = obs.to(self.device, self.obs.dtype)
        self.next_obs[idx] = next_obs.to(self.device, self.obs.dtype)
        self.action[idx] = action.to(self.device, torch.long).reshape(n)
        self.reward[idx] = reward.to(self.device, torch.float32).reshape(n)
        self.terminated[idx] = terminated.to(self.device, torch.float32).reshape(n)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Transitions:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(self.size, (batch_size,), device=self.device, generator=generator)
        return Transitions(
            self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.terminated[idx]
        )

    def state_dict(self) -> dict[str, Any]:
        tensors = {k: getattr(self, k).clone() for k in Transitions._fields}
        return {**tensors, "pos": self.pos, "size": self.size}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        for k in Transitions._fields:
            value = saved[k]
            if value.shape != getattr(self, k).shape:
                raise ValueError(
                    f"saved {k} has shape {tuple(value.shape)}, not {tuple(getattr(self, k).shape)}"
                )
            setattr(self, k, value.to(self.device, getattr(self, k).dtype).clone())
        self.pos, self.size = int(saved["pos"]), int(saved["size"])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the buffer to one safetensors file (the counters in its metadata)."""
        state = self.state_dict()
        tensors = {k: state[k].cpu().contiguous() for k in Transitions._fields}
        save_file(tensors, os.fspath(path), metadata={"pos": str(self.pos), "size": str(self.size)})

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore what :meth:`save` wrote (shapes must match this buffer's)."""
        tensors = load_file(os.fspath(path))
        with safe_open(os.fspath(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "pos" not in meta or "size" not in meta:
            raise ValueError(f"{os.fspath(path)} is not a saved ReplayBuffer (no pos/size metadata)")
        self.load_state_dict({**tensors, "pos": int(meta["pos"]), "size": int(meta["size"])})
