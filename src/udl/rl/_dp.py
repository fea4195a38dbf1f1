"""Dynamic programming on a known MDP (UDL section 19.3.1): evaluation, improvement, policy and value iteration,
finite-horizon (non-stationary) planning, and model-based RL from sampled transitions.

Policies are (…, S, A) tensors of action probabilities π[a|s] (a deterministic policy is one-hot); every
function takes optional leading batch dimensions, so many policies are evaluated as one linear solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from udl.rl._mdp import TabularMDP

__all__ = [
    "DPResult",
    "action_values",
    "deterministic_policy",
    "estimate_mdp",
    "finite_horizon_dp",
    "greedy_policy",
    "policy_evaluation",
    "policy_improvement",
    "policy_iteration",
    "solve_policy_value",
    "uniform_policy",
    "value_iteration",
]


def uniform_policy(mdp: TabularMDP) -> Tensor:
    """π[a|s] = 1/A everywhere (S, A)."""
    return torch.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions, dtype=torch.float64)


def deterministic_policy(actions: Tensor, num_actions: int) -> Tensor:
    """The one-hot policy (…, S, A) taking ``actions[…, s]`` in state s."""
    return torch.nn.functional.one_hot(actions.long(), num_actions).to(torch.float64)


def _check_policy(mdp: TabularMDP, policy: Tensor) -> None:
    if policy.shape[-2:] != (mdp.num_states, mdp.num_actions):
        raise ValueError(
            f"policy must have shape (..., {mdp.num_states}, {mdp.num_actions}), got {tuple(policy.shape)}"
        )


def _policy_model(mdp: TabularMDP, policy: Tensor) -> tuple[Tensor, Tensor]:
    """r_π[s] = Σ_a π[a|s] r[s, a] (…, S) and the continuing transitions M_π[s, s'] (…, S, S)."""
    _check_policy(mdp, policy)
    r_pi = (policy * mdp.expected_reward).sum(-1)
    M_pi = torch.einsum("...sa,sat->...st", policy, mdp.continuation)
    return r_pi, M_pi


def action_values(mdp: TabularMDP, v: Tensor) -> Tensor:
    """q[s, a] = r[s, a] + γ Σ_s' Pr(s'|s, a) v[s'] (…, S, A) (UDL eq. 19.8; v = 0 after termination)."""
    return mdp.expected_reward + mdp.gamma * torch.einsum("sat,...t->...sa", mdp.continuation, v)


def policy_evaluation(
    mdp: TabularMDP,
    policy: Tensor,
    *,
    tol: float = 1e-12,
    max_iterations: int = 100_000,
    v0: Tensor | None = None,
) -> tuple[Tensor, int]:
    """Iterative policy evaluation (UDL eq. 19.11): v ← Σ_a π[a|s](r[s, a] + γ Σ_s' Pr(s'|s, a) v[s']).

    Synchronous sweeps from ``v0`` (zeros) until the largest change is below ``tol``.

    Returns:
        the state values (…, S) and the number of sweeps.
    """
    r_pi, M_pi = _policy_model(mdp, policy)
    v = torch.zeros_like(r_pi) if v0 is None else v0.clone()
    for k in range(1, max_iterations + 1):
        new = r_pi + mdp.gamma * (M_pi @ v.unsqueeze(-1)).squeeze(-1)
        delta = float((new - v).abs().max())
        v = new
        if delta < tol:
            return v, k
    raise RuntimeError(f"policy evaluation did not converge to {tol} in {max_iterations} sweeps")


def solve_policy_value(mdp: TabularMDP, policy: Tensor) -> Tensor:
    """Exact policy evaluation: the Bellman equation as a linear system, (I − γ M_π) v = r_π (…, S).

    Singular only for γ = 1 with a policy that never terminates.
    """
    r_pi, M_pi = _policy_model(mdp, policy)
    eye = torch.eye(mdp.num_states, dtype=M_pi.dtype)
    return torch.linalg.solve(eye - mdp.gamma * M_pi, r_pi.unsqueeze(-1)).squeeze(-1)


def greedy_policy(q: Tensor) -> Tensor:
    """The deterministic policy argmax_a q[s, a] (…, S, A), ties to the lowest action index."""
    return deterministic_policy(q.argmax(-1), q.shape[-1])


def policy_improvement(mdp: TabularMDP, v: Tensor) -> Tensor:
    """π[s] ← argmax_a (r[s, a] + γ Σ_s' Pr(s'|s, a) v[s']) (UDL eq. 19.12), one-hot (…, S, A)."""
    return greedy_policy(action_values(mdp, v))


@dataclass(frozen=True)
class DPResult:
    """The outcome of policy or value iteration."""

    policy: Tensor
    """(S, A) the final greedy (deterministic) policy"""
    values: Tensor
    """(S,) its state values"""
    history: list[Tensor]
    """state values after each iteration (policy iteration: of each successive policy)"""


def policy_iteration(
    mdp: TabularMDP, policy: Tensor | None = None, *, max_iterations: int = 1000
) -> DPResult:
    """Policy iteration (UDL section 19.3.1): exact evaluation, then greedy improvement, until the policy is
    stable. Each policy's value is ≥ the previous one's at every state (the policy improvement theorem)."""
    pi = uniform_policy(mdp) if policy is None else policy
    _check_policy(mdp, pi)
    history = []
    for _ in range(max_iterations):
        v = solve_policy_value(mdp, pi)
        history.append(v)
        q = action_values(mdp, v)
        new = greedy_policy(q)
        # keep a deterministic old action where it is still greedy (up to rounding): no cycling between ties
        keep = ((pi * q).sum(-1) >= q.max(-1).values - 1e-12) & (pi.max(-1).values == 1.0)
        new = torch.where(keep.unsqueeze(-1), pi, new)
        if torch.equal(new, pi):
            return DPResult(pi, v, history)
        pi = new
    raise RuntimeError(f"policy iteration did not converge in {max_iterations} iterations")


def value_iteration(mdp: TabularMDP, *, tol: float = 1e-12, max_iterations: int = 100_000) -> DPResult:
    """Value iteration: v ← max_a (r[s, a] + γ Σ_s' Pr(s'|s, a) v[s']) until the largest change is below
    ``tol``; the policy is greedy with respect to the final values."""
    v = torch.zeros(mdp.num_states, dtype=torch.float64)
    history = []
    for _ in range(max_iterations):
        new = action_values(mdp, v).max(-1).values
        delta = float((new - v).abs().max())
        v = new
        history.append(v)
        if delta < tol:
            return DPResult(policy_improvement(mdp, v), v, history)
    raise RuntimeError(f"value iteration did not converge to {tol} in {max_iterations} sweeps")


def finite_horizon_dp(mdp: TabularMDP, horizon: int) -> tuple[Tensor, Tensor]:
    """Optimal planning with ``horizon`` steps left (backward induction): v_H = 0,
    q_t = r + γ P v_{t+1}, v_t = max_a q_t, π_t = argmax_a q_t.

    The optimal policy of a finite horizon is non-stationary: what to do depends on the steps that remain.

    Returns:
        values (horizon + 1, S) with row t the optimal value with horizon − t steps left, and policies
        (horizon, S, A), row t the one-hot policy to follow at step t.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    values = torch.zeros(horizon + 1, mdp.num_states, dtype=torch.float64)
    policies = torch.zeros(horizon, mdp.num_states, mdp.num_actions, dtype=torch.float64)
    for t in range(horizon - 1, -1, -1):
        q = action_values(mdp, values[t + 1])
        values[t] = q.max(-1).values
        policies[t] = greedy_policy(q)
    return values, policies


def estimate_mdp(
    states: Tensor,
    actions: Tensor,
    rewards: Tensor,
    next_states: Tensor,
    terminated: Tensor,
    *,
    num_states: int,
    num_actions: int,
    gamma: float,
    initial: Tensor | None = None,
) -> tuple[TabularMDP, Tensor]:
    """Model-based RL's first half (UDL section 19.3): the maximum-likelihood MDP of observed transitions.

    P̂(s'|s, a) = N(s, a, s') / N(s, a) and R̂[s, a, s'] the mean reward observed on that transition, from flat
    tensors of transitions (any shape, one entry each). A pair (s, a) never tried becomes a self-loop with
    reward 0; a state is terminal if some transition arrived in it with ``terminated``.

    Returns:
        the estimated MDP and the visit counts N(s, a) (S, A).
    """
    s, a, t = states.reshape(-1).long(), actions.reshape(-1).long(), next_states.reshape(-1).long()
    r = rewards.reshape(-1).to(torch.float64)
    index = (s * num_actions + a) * num_states + t
    size = num_states * num_actions * num_states
    counts = torch.zeros(size, dtype=torch.float64).index_add_(0, index, torch.ones_like(r))
    reward_sum = torch.zeros(size, dtype=torch.float64).index_add_(0, index, r)
    counts = counts.view(num_states, num_actions, num_states)
    R = (reward_sum.view_as(counts) / counts.clamp_min(1.0)).where(counts > 0, torch.zeros(()).double())
    n_sa = counts.sum(-1)
    P = counts / n_sa.clamp_min(1.0).unsqueeze(-1)
    unseen = (n_sa == 0).nonzero(as_tuple=True)
    P[unseen[0], unseen[1], unseen[0]] = 1.0
    terminal = torch.zeros(num_states, dtype=torch.bool)
    terminal[t[terminated.reshape(-1).bool()]] = True
    init = torch.ones(num_states, dtype=torch.float64) / num_states if initial is None else initial
    return TabularMDP(P, R, terminal, init, gamma), n_sa
