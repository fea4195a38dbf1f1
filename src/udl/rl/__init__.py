"""Reinforcement learning (UDL chapter 19) on the gymnasium API.

Tabular methods (the penguin on ice, dynamic programming, Monte Carlo, SARSA, Q-learning) are re-exported here;
deep RL too: the torch-vectorized ``VectorCartPole``, the ``ReplayBuffer``, episode collection and ``dqn``
(``epsilon_greedy_argmax`` and ``greedy_actor`` act on a network's outputs, where ``epsilon_greedy`` and
``greedy_policy`` act on Q tables, breaking ties at random); policy gradients (REINFORCE, A2C, GAE) and offline RL
(logged data, behaviour cloning, CQL) are in the modules ``udl.rl.policy_gradient`` and ``udl.rl.offline``.

Importing ``udl.rl`` registers ``udl/PenguinOnIce-v0`` with gymnasium (idempotent).
"""

from udl.rl import offline, policy_gradient
from udl.rl.cartpole import VectorCartPole, gymnasium_deviation
from udl.rl.dqn import (
    DQNConfig,
    QNetwork,
    dqn,
    dqn_loss,
    epsilon_greedy_argmax,
    greedy_actor,
    linear_schedule,
    td_target,
)
from udl.rl.envs import PENGUIN_ENV_ID, PENGUIN_GAMMA, PenguinOnIce, credit_assignment_mdp, register_envs
from udl.rl.episodes import Episodes, collect_episodes, episode_returns, successor_obs
from udl.rl.replay import ReplayBuffer, Transitions
from udl.rl.tabular import (
    ControlResult,
    DPResult,
    TabularMDP,
    action_values,
    deterministic_policy,
    discounted_returns,
    epsilon_greedy,
    epsilon_greedy_policy,
    estimate_mdp,
    finite_horizon_dp,
    greedy_policy,
    mc_control,
    modal_path,
    policy_evaluation,
    policy_improvement,
    policy_iteration,
    q_learning,
    rollout,
    sample_transitions,
    sarsa,
    solve_policy_value,
    tabular_mdp,
    td_control,
    uniform_policy,
    value_iteration,
)

register_envs()

__all__ = [
    "PENGUIN_ENV_ID",
    "PENGUIN_GAMMA",
    "ControlResult",
    "DPResult",
    "DQNConfig",
    "Episodes",
    "PenguinOnIce",
    "QNetwork",
    "ReplayBuffer",
    "TabularMDP",
    "Transitions",
    "VectorCartPole",
    "action_values",
    "collect_episodes",
    "credit_assignment_mdp",
    "deterministic_policy",
    "discounted_returns",
    "dqn",
    "dqn_loss",
    "episode_returns",
    "epsilon_greedy",
    "epsilon_greedy_argmax",
    "epsilon_greedy_policy",
    "estimate_mdp",
    "finite_horizon_dp",
    "greedy_actor",
    "greedy_policy",
    "gymnasium_deviation",
    "linear_schedule",
    "mc_control",
    "modal_path",
    "offline",
    "policy_evaluation",
    "policy_gradient",
    "policy_improvement",
    "policy_iteration",
    "q_learning",
    "register_envs",
    "rollout",
    "sample_transitions",
    "sarsa",
    "solve_policy_value",
    "successor_obs",
    "tabular_mdp",
    "td_control",
    "td_target",
    "uniform_policy",
    "value_iteration",
]
