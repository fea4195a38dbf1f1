"""Whole episodes from a torch vector environment: one episode per environment, all stepped together.

``collect_episodes`` runs every environment of a (same-step autoresetting) vector environment until its first
episode ends and returns the time-major tensors with an ``alive`` mask (steps after an environment's episode
ended are masked out). It is what Monte Carlo policy gradients (REINFORCE) and evaluation need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["Episodes", "collect_episodes", "episode_returns", "successor_obs"]


class Episodes(NamedTuple):
    """Time-major episodes: ``obs[t, i]`` the observation at step t of environment i, ``alive[t, i]`` whether
    step t belongs to environment i's first episode; rewards are 0 where not alive."""

    obs: Tensor
    action: Tensor
    reward: Tensor
    alive: Tensor

    @property
    def returns(self) -> Tensor:
        """Undiscounted return per episode, (N,)."""
        return self.reward.sum(0)

    @property
    def lengths(self) -> Tensor:
        return self.alive.sum(0)


def collect_episodes(
    env: Any, policy: Callable[[Tensor], Tensor], *, seed: int | None = None, max_steps: int | None = None
) -> Episodes:
    """Run ``policy(obs) -> actions`` in each of ``env``'s environments for one episode.

    Args:
        env: a vector environment with torch tensors (e.g. :class:`udl.rl.VectorCartPole`).
        policy: maps a batch of observations (N, ...) to actions (N,).
        seed: passed to ``env.reset``.
        max_steps: the longest episode (default ``env.max_episode_steps``).
    """
    steps = max_steps if max_steps is not None else env.max_episode_steps
    obs, _ = env.reset(seed=seed)
    alive = torch.ones(env.num_envs, dtype=torch.bool, device=obs.device)
    out_obs, out_action, out_reward, out_alive = [], [], [], []
    for _ in range(steps):
        action = policy(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        out_obs.append(obs)
        out_action.append(action)
        out_reward.append(reward * alive)
        out_alive.append(alive)
        alive = alive & ~(terminated | truncated)
        obs = next_obs
        if not bool(alive.any()):  # a host sync, worth it: most episodes end long before the limit
            break
    return Episodes(
        torch.stack(out_obs), torch.stack(out_action), torch.stack(out_reward), torch.stack(out_alive)
    )


def episode_returns(
    env: Any, policy: Callable[[Tensor], Tensor], *, seed: int | None = None, max_steps: int | None = None
) -> Tensor:
    """The undiscounted return of one episode per environment of ``env`` under ``policy`` (no gradients)."""
    with torch.no_grad():
        return collect_episodes(env, policy, seed=seed, max_steps=max_steps).returns


def successor_obs(next_obs: Tensor, info: dict[str, Any]) -> Tensor:
    """Each transition's own s′ after a same-step autoreset: ``info["final_obs"]`` where the episode ended (the
    returned ``next_obs`` is then the next episode's first observation), ``next_obs`` elsewhere."""
    mask = info["_final_obs"].reshape(-1, *([1] * (next_obs.dim() - 1)))
    return torch.where(mask, info["final_obs"], next_obs)
