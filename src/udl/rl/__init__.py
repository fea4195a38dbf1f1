"""Reinforcement learning (UDL chapter 19) on the gymnasium API.

Importing ``udl.rl`` registers ``udl/PenguinOnIce-v0`` with gymnasium (idempotent).
"""

from udl.rl.envs import PENGUIN_ENV_ID, PENGUIN_GAMMA, PenguinOnIce, credit_assignment_mdp, register_envs
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
    "PenguinOnIce",
    "TabularMDP",
    "action_values",
    "credit_assignment_mdp",
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
    "register_envs",
    "rollout",
    "sample_transitions",
    "sarsa",
    "solve_policy_value",
    "tabular_mdp",
    "td_control",
    "uniform_policy",
    "value_iteration",
]
