"""Reinforcement learning (UDL chapter 19): environments, replay, DQN, policy gradients, offline RL."""

from udl.rl.cartpole import VectorCartPole, gymnasium_deviation
from udl.rl.dqn import (
    DQNConfig,
    QNetwork,
    dqn,
    dqn_loss,
    epsilon_greedy,
    greedy_policy,
    linear_schedule,
    td_target,
)
from udl.rl.replay import ReplayBuffer, Transitions
from udl.rl.rollout import Episodes, collect_episodes, episode_returns, successor_obs

__all__ = [
    "DQNConfig",
    "Episodes",
    "QNetwork",
    "ReplayBuffer",
    "Transitions",
    "VectorCartPole",
    "collect_episodes",
    "dqn",
    "dqn_loss",
    "episode_returns",
    "epsilon_greedy",
    "greedy_policy",
    "gymnasium_deviation",
    "linear_schedule",
    "successor_obs",
    "td_target",
]
