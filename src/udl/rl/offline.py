"""Offline reinforcement learning (UDL section 19.7): learning from a fixed logged data set, no interaction.

A *behaviour policy* is run once to log transitions (:func:`log_dataset`); the agents then only read that data:

- *behaviour cloning* (:func:`behaviour_cloning`): supervised learning of π[a | s] from the logged (s, a),
  cross-entropy; it can at best match the behaviour policy's most frequent actions;
- *naive off-policy Q-learning* (:func:`offline_q_learning` with ``cql_alpha=0``): DQN's TD regression (UDL
  section 19.4) on the fixed data set; the max over a′ in the target queries actions the data never shows,
  whose over-estimated values nothing corrects (the distribution shift of section 19.7);
- *conservative Q-learning* (CQL(H); Kumar et al., 2020, eq. 4): the same TD loss plus
  α · E_s[log Σ_a exp q[s, a] − q[s, a_data]], which pushes down the values of all actions (soft maximum)
  and up those of the logged ones, so the greedy policy stays where the data has evidence.

Every trainer runs :func:`udl.train.train` over a stream of mini-batches drawn from the data set with a
generator in the loop's state (checkpointed, resumable).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from udl.checks import at_least, in_unit_interval
from udl.optim import Adam
from udl.rl.dqn import QNetwork, dqn_loss, td_target
from udl.rl.episodes import successor_obs
from udl.rl.replay import ReplayBuffer
from udl.train import TrainResult, train

__all__ = [
    "OfflineConfig",
    "behaviour_cloning",
    "cql_penalty",
    "log_dataset",
    "noisy_policy",
    "offline_q_learning",
]


def noisy_policy(
    policy: Callable[[Tensor], Tensor], epsilon: float, num_actions: int, generator: torch.Generator
) -> Callable[[Tensor], Tensor]:
    """``policy`` with each action replaced, with probability ε, by a uniformly random one."""

    def act(obs: Tensor) -> Tensor:
        n = obs.shape[0]
        explore = torch.rand(n, device=obs.device, generator=generator) < epsilon
        random = torch.randint(num_actions, (n,), device=obs.device, generator=generator)
        return torch.where(explore, random, policy(obs))

    return act


def log_dataset(env: Any, behaviour: Callable[[Tensor], Tensor], size: int, *, seed: int = 0) -> ReplayBuffer:
    """Run ``behaviour`` in the vector environment ``env`` and log ``size`` transitions (rounded up to whole
    vector steps): (s, a, r, s′, terminated), with the final observation as s′ where an episode ended."""
    steps = -(-size // env.num_envs)
    buffer = ReplayBuffer(steps * env.num_envs, tuple(env.single_observation_space.shape), device=env.device)
    obs, _ = env.reset(seed=seed)
    with torch.no_grad():
        for _ in range(steps):
            action = behaviour(obs)
            next_obs, reward, terminated, _, info = env.step(action)
            real_next = successor_obs(next_obs, info)
            buffer.add(obs, action, reward, real_next, terminated)
            obs = next_obs
    return buffer


@dataclass(frozen=True)
class OfflineConfig:
    steps: int = 20_000
    """gradient steps"""
    batch_size: int = 128
    """transitions per step"""
    learning_rate: float = 2.5e-4
    """Adam's learning rate"""
    gamma: float = 0.99
    """discount factor γ (Q-learning)"""
    target_network_frequency: int = 50
    """gradient steps between hard target-network updates (Q-learning)"""
    hidden: tuple[int, ...] = (120, 84)
    """hidden widths (the same MLP as DQN's)"""

    def __post_init__(self) -> None:
        at_least(self, 1, "steps", "batch_size", "target_network_frequency")
        in_unit_interval(self, "learning_rate", open_low=True)
        in_unit_interval(self, "gamma")


def _network(data: ReplayBuffer, cfg: OfflineConfig, seed: int, num_actions: int) -> QNetwork:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return QNetwork(data.obs.shape[1], num_actions, cfg.hidden).to(data.device)


def _stream(data: ReplayBuffer, batch_size: int, generator: torch.Generator) -> Any:
    return (data.sample(batch_size, generator) for _ in itertools.count())


def behaviour_cloning(
    data: ReplayBuffer,
    cfg: OfflineConfig,
    *,
    num_actions: int,
    seed: int = 0,
    run: Any = None,
    name: str = "bc",
) -> tuple[QNetwork, TrainResult]:
    """Fit logits π[· | s] to the logged actions by cross-entropy; act with ``argmax`` (``greedy_actor``)."""
    net = _network(data, cfg, seed, num_actions)
    optimizer = Adam(net.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator(device=data.device).manual_seed(seed)

    def step(batch: Any) -> dict[str, Tensor]:
        loss = F.cross_entropy(net(batch.obs), batch.action)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"bc_loss": loss.detach()}

    state = {"net": net, "optimizer": optimizer, "generator": generator}
    result = train(
        step, _stream(data, cfg.batch_size, generator), steps=cfg.steps, state=state, run=run, name=name
    )
    return net, result


def cql_penalty(q_values: Tensor, action: Tensor) -> Tensor:
    """CQL(H)'s regularizer E[log Σ_a exp q[s, a] − q[s, a_data]] (Kumar et al., 2020, eq. 4), ≥ 0."""
    return (torch.logsumexp(q_values, 1) - q_values.gather(1, action.unsqueeze(1)).squeeze(1)).mean()


def offline_q_learning(
    data: ReplayBuffer,
    cfg: OfflineConfig,
    *,
    num_actions: int,
    cql_alpha: float = 0.0,
    seed: int = 0,
    run: Any = None,
    name: str = "offline_q",
) -> tuple[QNetwork, TrainResult]:
    """Q-learning with a target network on the fixed data set; ``cql_alpha > 0`` adds CQL's penalty.

    Loss: (y − q[s, a])² + α (log Σ_a′ exp q[s, a′] − q[s, a]) with y the TD target of fitted Q-learning (UDL
    section 19.4) from a target network copied every ``target_network_frequency`` steps. ``cql_alpha=0``: naive
    off-policy DQN.
    """
    if not cql_alpha >= 0:
        raise ValueError(f"cql_alpha must be >= 0, got {cql_alpha}")
    q_net = _network(data, cfg, seed, num_actions)
    target_net = copy.deepcopy(q_net)
    optimizer = Adam(q_net.parameters(), lr=cfg.learning_rate)
    generator = torch.Generator(device=data.device).manual_seed(seed)
    state: dict[str, Any] = {
        "q_net": q_net,
        "target_net": target_net,
        "optimizer": optimizer,
        "generator": generator,
    }
    state["updates"] = 0

    def step(batch: Any) -> dict[str, Tensor]:
        y = td_target(batch.reward, batch.next_obs, batch.terminated, cfg.gamma, target_net)
        td = dqn_loss(q_net, batch.obs, batch.action, y)
        penalty = cql_penalty(q_net(batch.obs), batch.action)
        loss = td + cql_alpha * penalty if cql_alpha > 0 else td
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state["updates"] = int(state["updates"]) + 1
        if state["updates"] % cfg.target_network_frequency == 0:
            target_net.load_state_dict(q_net.state_dict())
        return {"td_loss": td.detach(), "cql_penalty": penalty.detach()}

    result = train(
        step, _stream(data, cfg.batch_size, generator), steps=cfg.steps, state=state, run=run, name=name
    )
    return q_net, result
