"""CartPole-v1 as one tensor computation: all environments stepped together, on any torch device.

The dynamics, thresholds, rewards and time limit are gymnasium's ``CartPole-v1`` (Barto, Sutton & Anderson,
1983, with the equations of Florian, 2005): explicit Euler steps of τ = 0.02 s, a force of ±10 N, the episode
terminating when |x| > 2.4 or |θ| > 12° and truncated after 500 steps, reward 1 on every step (the terminating
one included). The state is kept in float64 as gymnasium keeps it, so from the same state under the same
actions the trajectories agree to float64 rounding; observations are float32 as gymnasium returns them.

The API is gymnasium's vector API (``reset(seed=...)``, ``step(actions)`` returning ``obs, reward, terminated,
truncated, info``) with autoreset in gymnasium's ``SAME_STEP`` mode: an environment whose episode ends is reset
inside the same ``step``; the returned ``obs`` is then the new episode's first observation and
``info["final_obs"]`` (with mask ``info["_final_obs"]``) the last one of the finished episode, which is what a
TD target needs. ``info["episode"]`` (``"r"`` return, ``"l"`` length, mask ``info["_episode"]``) reports
finished episodes like gymnasium's ``RecordEpisodeStatistics``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import Tensor

__all__ = ["VectorCartPole", "gymnasium_deviation"]

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
LENGTH = 0.5
"""half the pole's length"""
POLE_MASS_LENGTH = MASS_POLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02
"""seconds between state updates"""
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
MAX_EPISODE_STEPS = 500


class VectorCartPole(gymnasium.vector.VectorEnv):
    """``num_envs`` CartPole-v1 environments stepped as one tensor operation.

    Args:
        num_envs: number of environments.
        device: where the state lives and the tensors are returned.
        max_episode_steps: the time limit (CartPole-v1: 500).

    ``state_dict()`` / ``load_state_dict()`` hold the states, step counters, running returns and the reset
    generator, so a training loop checkpointing the environment resumes it exactly.

    Example::

        env = VectorCartPole(8)
        obs, info = env.reset(seed=0)                       # (8, 4) float32
        obs, reward, terminated, truncated, info = env.step(torch.randint(2, (8,)))
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(
        self, num_envs: int, *, device: torch.device | str = "cpu", max_episode_steps: int = MAX_EPISODE_STEPS
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, int)
            or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be a positive integer, got {max_episode_steps!r}")
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_steps = max_episode_steps
        high = np.array(
            [X_THRESHOLD * 2, np.finfo(np.float32).max, THETA_THRESHOLD * 2, np.finfo(np.float32).max],
            dtype=np.float32,
        )
        self.single_observation_space = gymnasium.spaces.Box(-high, high, dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(2)
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gymnasium.vector.utils.batch_space(self.single_action_space, num_envs)
        self.generator = torch.Generator(device=self.device)
        self.state = torch.zeros(num_envs, 4, dtype=torch.float64, device=self.device)
        self.elapsed = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.returns = torch.zeros(num_envs, dtype=torch.float32, device=self.device)

    def _initial_states(self, n: int) -> Tensor:
        """Gymnasium's reset distribution: each state variable uniform on [−0.05, 0.05]."""
        u = torch.rand(n, 4, dtype=torch.float64, device=self.device, generator=self.generator)
        return u * 0.1 - 0.05

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Tensor, dict]:
        """Start a new episode in every environment; ``seed`` reseeds the reset generator."""
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = self._initial_states(self.num_envs)
        self.elapsed.zero_()
        self.returns.zero_()
        return self.state.float(), {}

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """One Euler step of every environment under ``actions`` (0 push left, 1 push right), then autoreset."""
        actions = torch.as_tensor(actions, device=self.device)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {tuple(actions.shape)}")
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = torch.where(actions == 1, FORCE_MAG, -FORCE_MAG).to(torch.float64)
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot.square() * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            LENGTH * (4.0 / 3.0 - MASS_POLE * cos.square() / TOTAL_MASS)
        )
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        state = torch.stack(
            [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc],
            dim=1,
        )  # (N, 4), explicit Euler
        terminated = (state[:, 0].abs() > X_THRESHOLD) | (state[:, 2].abs() > THETA_THRESHOLD)
        self.elapsed += 1
        truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        reward = torch.ones(self.num_envs, dtype=torch.float32, device=self.device)
        self.returns += reward
        done = terminated | truncated
        final_obs = state.float()
        info: dict[str, Any] = {
            "final_obs": final_obs,
            "_final_obs": done,
            "episode": {"r": self.returns.clone(), "l": self.elapsed.clone()},
            "_episode": done,
        }
        # same-step autoreset without a host sync: every environment draws, the finished ones take the draw
        fresh = self._initial_states(self.num_envs)
        self.state = torch.where(done.unsqueeze(1), fresh, state)
        self.elapsed = torch.where(done, 0, self.elapsed)
        self.returns = torch.where(done, 0.0, self.returns)
        return self.state.float(), reward, terminated, truncated, info

    def state_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.clone(),
            "elapsed": self.elapsed.clone(),
            "returns": self.returns.clone(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        if tuple(saved["state"].shape) != (self.num_envs, 4):
            raise ValueError(f"saved state has shape {tuple(saved['state'].shape)}, not ({self.num_envs}, 4)")
        self.state = saved["state"].to(self.device, torch.float64).clone()
        self.elapsed = saved["elapsed"].to(self.device).clone()
        self.returns = saved["returns"].to(self.device).clone()
        self.generator.set_state(saved["generator"])


def gymnasium_deviation(num_envs: int = 8, steps: int = 200, seed: int = 0) -> float:
    """The largest |observation difference| between :class:`VectorCartPole` and gymnasium's ``CartPole-v1``
    started in the same states and driven by the same random actions (inf if a termination or truncation
    flag or a reward differs). Finished gymnasium episodes continue from our autoreset state."""
    ours = VectorCartPole(num_envs)
    ours.reset(seed=seed)
    envs = [gymnasium.make("CartPole-v1") for _ in range(num_envs)]
    for i, e in enumerate(envs):
        e.reset(seed=seed + i)
        e.unwrapped.state = ours.state[i].numpy().copy()  # type: ignore[attr-defined]
    actions = torch.randint(2, (steps, num_envs), generator=torch.Generator().manual_seed(seed))
    worst = 0.0
    for t in range(steps):
        obs, reward, terminated, truncated, info = ours.step(actions[t])
        for i, e in enumerate(envs):
            g_obs, g_reward, g_term, g_trunc, _ = e.step(int(actions[t, i]))
            if (g_term, g_trunc, g_reward) != (bool(terminated[i]), bool(truncated[i]), float(reward[i])):
                return math.inf
            mine = info["final_obs"][i] if g_term or g_trunc else obs[i]
            worst = max(worst, float(np.abs(mine.numpy() - g_obs).max()))
            if g_term or g_trunc:
                e.reset()
                e.unwrapped.state = ours.state[i].numpy().copy()  # type: ignore[attr-defined]
    for e in envs:
        e.close()
    return worst
