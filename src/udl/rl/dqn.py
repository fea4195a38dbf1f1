"""Deep Q-networks (UDL section 19.4.1; Mnih et al., 2015), written out like CleanRL's ``dqn.py``.

The Q-network q[s, a, φ] is fitted to the Q-learning target of fitted Q-learning (UDL section 19.4),

    y = r + γ · (1 − terminated) · max_a′ q[s′, a′, φ⁻],

by the least-squares loss (y − q[s, a, φ])² on mini-batches drawn from an experience-replay buffer; φ⁻ are the
parameters of a *target network*, copied from φ every ``target_network_frequency`` environment steps. With
``double=True`` the target is double DQN's (van Hasselt et al., 2016): the online network picks the action,
the target network values it, y = r + γ (1 − terminated) q[s′, argmax_a′ q[s′, a′, φ], φ⁻]. Exploration is
ε-greedy with ε decayed linearly from ``start_e`` to ``end_e`` over ``exploration_fraction`` of the steps.

The defaults are CleanRL's for CartPole-v1 (``cleanrl/dqn.py``): 500k steps, Adam at 2.5e-4, a buffer of 10k,
γ = 0.99, a hard target update every 500 steps, batches of 128, ε from 1 to 0.05 over half the run, learning
from step 10k, one update every 10 steps, a 120-84 ReLU MLP. With several environments one vector step is
``num_envs`` environment steps; every interval above counts environment steps, as with one environment.

The two ablations of the chapter's argument: ``replay=False`` updates on exactly the transitions collected
since the last update (no memory, consecutive correlated samples), ``target_network=False`` bootstraps from
the online network itself (φ⁻ = φ at every step).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from udl.checks import at_least, in_unit_interval
from udl.optim import Adam
from udl.rl.episodes import successor_obs
from udl.rl.replay import ReplayBuffer, Transitions
from udl.train import EarlyStopping, TrainResult, train

__all__ = [
    "DQNConfig",
    "QNetwork",
    "dqn",
    "dqn_loss",
    "epsilon_greedy_argmax",
    "greedy_actor",
    "linear_schedule",
    "td_target",
]


@dataclass(frozen=True)
class DQNConfig:
    total_steps: int = 500_000
    """environment steps (summed over the environments)"""
    learning_rate: float = 2.5e-4
    """Adam's learning rate"""
    buffer_size: int = 10_000
    """transitions the replay buffer keeps"""
    gamma: float = 0.99
    """discount factor γ"""
    tau: float = 1.0
    """target update rate: φ⁻ ← τ φ + (1 − τ) φ⁻ (1: a hard copy)"""
    target_network_frequency: int = 500
    """environment steps between target-network updates"""
    batch_size: int = 128
    """transitions per gradient step"""
    start_e: float = 1.0
    """ε at the start"""
    end_e: float = 0.05
    """ε at the end of the decay"""
    exploration_fraction: float = 0.5
    """fraction of total_steps over which ε decays linearly"""
    learning_starts: int = 10_000
    """environment steps before the first update"""
    train_frequency: int = 10
    """environment steps per gradient step"""
    hidden: tuple[int, ...] = (120, 84)
    """hidden widths of the Q-network"""
    double: bool = False
    """double DQN's target (online argmax, target value)"""
    replay: bool = True
    """sample from the replay buffer (False: update on the latest transitions only)"""
    target_network: bool = True
    """bootstrap from a target network (False: from the online network)"""

    def __post_init__(self) -> None:
        at_least(
            self, 1, "total_steps", "buffer_size", "target_network_frequency", "batch_size", "train_frequency"
        )
        at_least(self, 0, "learning_starts")
        in_unit_interval(self, "learning_rate", open_low=True)
        in_unit_interval(self, "gamma", "start_e", "end_e", "exploration_fraction")
        if self.end_e > self.start_e:
            raise ValueError(f"end_e ({self.end_e}) must be <= start_e ({self.start_e}): ε decays")
        in_unit_interval(self, "tau", open_low=True)
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of widths >= 1, got {self.hidden}")


class QNetwork(nn.Module):
    """An MLP from an observation to one value per action: q[s, ·, φ]."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...] = (120, 84)) -> None:
        super().__init__()
        widths = (obs_dim, *hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.network = nn.Sequential(*layers, nn.Linear(widths[-1], num_actions))

    def forward(self, obs: Tensor) -> Tensor:
        return self.network(obs)  # (N, num_actions)


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """start → end (≤ start) linearly over ``duration`` steps, then constant at ``end`` (CleanRL's)."""
    if duration <= 0:
        return end
    return max(start + (end - start) * t / duration, end)


def epsilon_greedy_argmax(
    q_values: Tensor, epsilon: float, generator: torch.Generator | None = None
) -> Tensor:
    """argmax_a q with probability 1 − ε, else a uniformly random action, independently per row."""
    n, k = q_values.shape
    explore = torch.rand(n, device=q_values.device, generator=generator) < epsilon
    random = torch.randint(k, (n,), device=q_values.device, generator=generator)
    return torch.where(explore, random, q_values.argmax(1))


def greedy_actor(q_net: nn.Module) -> Callable[[Tensor], Tensor]:
    """obs -> argmax_a q[obs, a] (for evaluation)."""
    return lambda obs: q_net(obs).argmax(1)


def td_target(
    reward: Tensor,
    next_obs: Tensor,
    terminated: Tensor,
    gamma: float,
    target_net: nn.Module,
    online_net: nn.Module | None = None,
) -> Tensor:
    """y = r + γ (1 − terminated) max_a′ q[s′, a′, φ⁻] (UDL section 19.4); with ``online_net`` double DQN's
    (section 19.4.2) y = r + γ (1 − terminated) q[s′, argmax_a′ q[s′, a′, φ], φ⁻]."""
    with torch.no_grad():
        next_q = target_net(next_obs)  # (B, A)
        if online_net is None:
            best = next_q.max(1).values
        else:
            best = next_q.gather(1, online_net(next_obs).argmax(1, keepdim=True)).squeeze(1)
        return reward + gamma * (1.0 - terminated) * best


def dqn_loss(q_net: nn.Module, obs: Tensor, action: Tensor, target: Tensor) -> Tensor:
    """Mean squared TD error (y − q[s, a, φ])² over the batch."""
    return F.mse_loss(q_net(obs).gather(1, action.unsqueeze(1)).squeeze(1), target)


def dqn(
    env: Any,
    cfg: DQNConfig,
    *,
    seed: int = 0,
    run: Any = None,
    name: str = "dqn",
    log_every: int | None = None,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    evaluate_every: int | None = None,
    checkpoint_every: int | None = None,
    early_stopping: EarlyStopping | None = None,
) -> tuple[QNetwork, TrainResult]:
    """Train a DQN agent on the torch vector environment ``env`` (e.g. :class:`udl.rl.VectorCartPole`).

    The loop is :func:`udl.train.train` over a stream of vector steps: each step acts ε-greedily in every
    environment, stores the transitions (the final observation where an episode ended, so a truncated episode
    still bootstraps) and does the gradient steps and target updates that fall in it. Everything it draws from
    (the environment, the buffer, the networks, the optimizer, the generator, the current observations) is in
    the loop's ``state``, so a killed run resumed from its checkpoint ends with the same network.

    Returns the trained online network and the loop's :class:`~udl.train.TrainResult`. ``evaluate(q_net)`` is
    called every ``evaluate_every`` vector steps (in eval mode, no gradients) and its metrics are logged;
    ``early_stopping`` (e.g. ``EarlyStopping(patience=10**9, monitor="val_return", mode="max")``) then keeps the
    networks of the best evaluation, selected on validation episodes.
    """
    n = env.num_envs
    device = env.device
    obs_dim = int(env.single_observation_space.shape[0])
    num_actions = int(env.single_action_space.n)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the initialization from ``seed``, the global RNG untouched
        torch.manual_seed(seed)
        q_net = QNetwork(obs_dim, num_actions, cfg.hidden).to(device)
    target_net = copy.deepcopy(q_net) if cfg.target_network else q_net
    optimizer = Adam(q_net.parameters(), lr=cfg.learning_rate)
    # without replay the buffer holds exactly the transitions since the last update, and all of them are used
    capacity = cfg.buffer_size if cfg.replay else max(cfg.train_frequency, n)
    buffer = ReplayBuffer(capacity, (obs_dim,), device=device)
    obs, _ = env.reset(seed=seed)
    vector_steps = cfg.total_steps // n
    if vector_steps < 1:
        raise ValueError(f"total_steps ({cfg.total_steps}) is fewer than one step of {n} environments")
    state: dict[str, Any] = {
        "q_net": q_net,
        "optimizer": optimizer,
        "buffer": buffer,
        "env": env,
        "generator": generator,
        "obs": obs,
        **({"target_net": target_net} if cfg.target_network else {}),
    }

    def step(_: Any) -> dict[str, Tensor | float]:
        done_before = int(state["env_steps"]) if "env_steps" in state else 0
        global_step = done_before + n  # environment steps after this vector step
        state["env_steps"] = global_step
        epsilon = linear_schedule(
            cfg.start_e, cfg.end_e, cfg.exploration_fraction * cfg.total_steps, done_before
        )
        obs = state["obs"]
        with torch.no_grad():
            action = epsilon_greedy_argmax(q_net(obs), epsilon, generator)
        next_obs, reward, terminated, _, info = env.step(action)
        real_next = successor_obs(next_obs, info)
        buffer.add(obs, action, reward, real_next, terminated)
        state["obs"] = next_obs
        metrics: dict[str, Tensor | float] = {"epsilon": epsilon}
        # the gradient steps and target updates whose environment step falls inside this vector step
        updates = global_step // cfg.train_frequency - done_before // cfg.train_frequency
        if global_step > cfg.learning_starts and updates > 0:
            losses = []
            for _ in range(updates):
                if cfg.replay:
                    data = buffer.sample(cfg.batch_size, generator)
                else:
                    k = buffer.size
                    data = Transitions(
                        buffer.obs[:k],
                        buffer.action[:k],
                        buffer.reward[:k],
                        buffer.next_obs[:k],
                        buffer.terminated[:k],
                    )
                b_obs, b_action, b_reward, b_next, b_term = data
                y = td_target(b_reward, b_next, b_term, cfg.gamma, target_net, q_net if cfg.double else None)
                loss = dqn_loss(q_net, b_obs, b_action, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
            metrics["td_loss"] = torch.stack(losses).mean()
        if (
            cfg.target_network
            and global_step // cfg.target_network_frequency > done_before // cfg.target_network_frequency
        ):
            with torch.no_grad():
                for t, p in zip(target_net.parameters(), q_net.parameters(), strict=True):
                    t.lerp_(p, cfg.tau)
        done = info["_episode"]
        if bool(done.any()):
            metrics["episodic_return"] = info["episode"]["r"][done].mean()
        return metrics

    state["env_steps"] = 0
    result = train(
        step,
        itertools.repeat(None),
        steps=vector_steps,
        state=state,
        run=run,
        name=name,
        log_every=log_every,
        evaluate=(lambda: evaluate(q_net)) if evaluate is not None else None,
        evaluate_every=evaluate_every,
        checkpoint_every=checkpoint_every,
        early_stopping=early_stopping,
    )
    return q_net, result
