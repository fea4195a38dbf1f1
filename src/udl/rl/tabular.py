"""Tabular reinforcement learning (UDL sections 19.1–19.3): MDPs as tensors, returns, dynamic programming,
model-based RL, Monte Carlo control, SARSA and Q-learning.

Everything is float64 and vectorized over states and actions; the learners run many independent agents as one
batch. The implementations live in private modules (``_mdp``, ``_dp``, ``_td``); this module is their public
face.
"""

from udl.rl._dp import (
    DPResult,
    action_values,
    deterministic_policy,
    estimate_mdp,
    finite_horizon_dp,
    greedy_policy,
    policy_evaluation,
    policy_improvement,
    policy_iteration,
    solve_policy_value,
    uniform_policy,
    value_iteration,
)
from udl.rl._mdp import TabularMDP, discounted_returns, modal_path, sample_transitions, tabular_mdp
from udl.rl._td import (
    ControlResult,
    epsilon_greedy,
    epsilon_greedy_policy,
    mc_control,
    q_learning,
    rollout,
    sarsa,
    td_control,
)

__all__ = [
    "ControlResult",
    "DPResult",
    "TabularMDP",
    "action_values",
    "deterministic_policy",
    "discounted_returns",
    "epsilon_greedy",
    "epsilon_greedy_policy",
    "estimate_mdp",
    "finite_horizon_dp",
    "greedy_policy",
    "mc_control",
    "modal_path",
    "policy_evaluation",
    "policy_improvement",
    "policy_iteration",
    "q_learning",
    "rollout",
    "sample_transitions",
    "sarsa",
    "solve_policy_value",
    "tabular_mdp",
    "td_control",
    "uniform_policy",
    "value_iteration",
]
