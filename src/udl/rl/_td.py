"""Model-free tabular control (UDL sections 19.3.2–19.3.3): Monte Carlo control, SARSA and Q-learning.

Every learner runs ``agents`` independent copies at once: one action-value table per agent, (B, S, A), and one
environment state per agent, stepped together by :func:`udl.rl.sample_transitions` on the environment's exact
MDP (read from gymnasium by :func:`udl.rl.tabular_mdp`). A Python loop runs over time steps only; each step is a
handful of tensor operations over all agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from udl.rl._mdp import TabularMDP, discounted_returns, sample_categorical, sample_transitions

__all__ = [
    "ControlResult",
    "epsilon_greedy",
    "epsilon_greedy_policy",
    "mc_control",
    "q_learning",
    "rollout",
    "sarsa",
    "td_control",
]


def epsilon_greedy(q: Tensor, epsilon: float, generator: torch.Generator | None = None) -> Tensor:
    """Sample actions (B,) from ε-greedy policies on rows q (B, A): a uniformly random action with probability
    ε, else a greedy one (ties broken uniformly at random, so an untrained table explores evenly)."""
    u = torch.rand(q.shape, generator=generator, dtype=torch.float64)  # (B, A)
    greedy = torch.where(q == q.max(-1, keepdim=True).values, u, -1.0).argmax(-1)  # a uniform tie-break
    random = torch.randint(q.shape[-1], greedy.shape, generator=generator)
    explore = torch.rand(greedy.shape, generator=generator, dtype=torch.float64) < epsilon
    return torch.where(explore, random, greedy)


def epsilon_greedy_policy(q: Tensor, epsilon: float) -> Tensor:
    """The ε-greedy policy's probabilities (…, S, A) for tables q (…, S, A), ties sharing the greedy mass."""
    best = (q == q.max(-1, keepdim=True).values).to(torch.float64)
    return epsilon / q.shape[-1] + (1 - epsilon) * best / best.sum(-1, keepdim=True)


def _initial_states(mdp: TabularMDP, n: int, generator: torch.Generator | None) -> Tensor:
    return sample_categorical(mdp.initial.expand(n, -1), generator)


def rollout(
    mdp: TabularMDP, policy: Tensor, steps: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sample one episode (at most ``steps`` long) per row of ``policy`` (B, S, A), all rows at once.

    Returns:
        states (B, T), actions (B, T), rewards (B, T) with rewards[:, t] received after step t, and alive (B, T)
        (bool: step t happened before the episode terminated; later entries are padding with reward 0).
    """
    B = policy.shape[0]
    rows = torch.arange(B)
    s = _initial_states(mdp, B, generator)
    alive = torch.ones(B, dtype=torch.bool)
    states = torch.zeros(B, steps, dtype=torch.long)
    actions = torch.zeros(B, steps, dtype=torch.long)
    rewards = torch.zeros(B, steps, dtype=torch.float64)
    alive_at = torch.zeros(B, steps, dtype=torch.bool)
    cdf = mdp.P.cumsum(-1)
    for t in range(steps):
        a = sample_categorical(policy[rows, s], generator)
        nxt, r, done = sample_transitions(mdp, s, a, generator, cdf=cdf)
        states[:, t], actions[:, t], alive_at[:, t] = s, a, alive
        rewards[:, t] = torch.where(alive, r, torch.zeros_like(r))
        alive = alive & ~done
        s = nxt
        if t % 8 == 7 and not alive.any():  # every episode has ended: the rest is padding
            states[:, t + 1 :] = s.unsqueeze(1)
            break
    return states, actions, rewards, alive_at


@dataclass(frozen=True)
class ControlResult:
    """What a tabular control run returns: the final tables and the record of its training."""

    q: Tensor
    """(B, S, A) final action values of each agent"""
    snapshots: Tensor
    """(K, B, S, A) action values at the recorded points"""
    snapshot_steps: list[int]
    """environment steps per agent at each snapshot"""
    episode_returns: Tensor
    """(B, E) undiscounted return of each agent's first E training episodes (exploration included)"""
    rewards: Tensor
    """(B, T) reward of every training step (MC control: of every step of every episode)"""


def _validate(epsilon: float, lr: float, lr_power: float, agents: int, steps: int) -> None:
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if not 0.0 < lr <= 1.0:
        raise ValueError(f"lr must be in (0, 1], got {lr}")
    if not 0.0 <= lr_power <= 1.0:
        raise ValueError(f"lr_power must be in [0, 1], got {lr_power}")
    if agents < 1 or steps < 1:
        raise ValueError(f"agents and steps must be >= 1, got {agents}, {steps}")


def td_control(
    mdp: TabularMDP,
    method: Literal["sarsa", "q_learning"],
    *,
    agents: int = 1,
    steps: int = 10_000,
    epsilon: float = 0.1,
    lr: float = 0.5,
    lr_power: float = 0.0,
    max_episode_steps: int = 100,
    record_every: int = 1000,
    generator: torch.Generator | None = None,
) -> ControlResult:
    """Temporal-difference control (UDL section 19.3.3) with an ε-greedy behaviour policy, ``agents`` learners
    at once: q[s, a] ← q[s, a] + α(target − q[s, a]) after every step.

    Args:
        method: "sarsa" (on-policy: target r + γ q[s', a'], a' the action the ε-greedy policy then takes) or
            "q_learning" (off-policy: target r + γ max_a' q[s', a']).
        agents: independent learners run as one batch.
        steps: environment steps per agent.
        epsilon: exploration probability of the ε-greedy behaviour policy.
        lr, lr_power: step size α = lr · N(s, a)^−lr_power (N the visits of the pair; power 0: constant α).
        max_episode_steps: episodes are truncated (reset, no terminal cut) after this many steps.
        record_every: steps between the snapshots of q.
    """
    if method not in ("sarsa", "q_learning"):
        raise ValueError(f"method must be 'sarsa' or 'q_learning', got {method!r}")
    _validate(epsilon, lr, lr_power, agents, steps)
    B, S, A = agents, mdp.num_states, mdp.num_actions
    q = torch.zeros(B, S, A, dtype=torch.float64)
    q_rows, q_flat = q.view(B * S, A), q.view(-1)  # views: row b·S + s is agent b's q[s, :]
    visits = torch.zeros(B * S * A, dtype=torch.float64)
    base = torch.arange(B) * S
    s = _initial_states(mdp, B, generator)
    a = epsilon_greedy(q_rows[base + s], epsilon, generator)
    length = torch.zeros(B, dtype=torch.long)
    rewards = torch.empty(B, steps, dtype=torch.float64)
    ends = torch.empty(B, steps, dtype=torch.bool)
    snapshots, snapshot_steps = [q.clone()], [0]
    cdf, initial_cdf = mdp.P.cumsum(-1), mdp.initial.cumsum(-1).expand(B, -1)
    for t in range(steps):
        nxt, r, done = sample_transitions(mdp, s, a, generator, cdf=cdf)
        q_next = q_rows[base + nxt]  # (B, A)
        if method == "sarsa":  # on-policy: bootstrap from the action the ε-greedy policy takes next
            a_next = epsilon_greedy(q_next, epsilon, generator)
            bootstrap = q_next.gather(1, a_next.unsqueeze(1)).squeeze(1)
        else:  # off-policy: bootstrap from the greedy action
            bootstrap = q_next.max(-1).values
        target = r + mdp.gamma * bootstrap.masked_fill(done, 0.0)
        i = (base + s) * A + a
        visits[i] += 1
        alpha = lr * visits[i].pow(-lr_power) if lr_power else lr
        q_flat[i] += alpha * (target - q_flat[i])
        length += 1
        end = done | (length >= max_episode_steps)  # terminated, or truncated by the time limit
        rewards[:, t], ends[:, t] = r, end
        s = torch.where(end, sample_categorical(generator=generator, cdf=initial_cdf), nxt)
        length.masked_fill_(end, 0)
        if method == "sarsa":
            a = torch.where(end, epsilon_greedy(q_rows[base + s], epsilon, generator), a_next)
        else:
            a = epsilon_greedy(q_rows[base + s], epsilon, generator)
        if (t + 1) % record_every == 0 or t + 1 == steps:
            snapshots.append(q.clone())
            snapshot_steps.append(t + 1)
    return ControlResult(q, torch.stack(snapshots), snapshot_steps, _episode_returns(rewards, ends), rewards)


def _episode_returns(rewards: Tensor, ends: Tensor) -> Tensor:
    """(B, E): the undiscounted return of each agent's first E complete episodes, E the fewest any agent had."""
    episode = ends.long().cumsum(1) - ends.long()  # index of the episode each step belongs to
    E = int(ends.sum(1).min())
    out = torch.zeros(rewards.shape[0], E + 1, dtype=torch.float64)
    out.scatter_add_(1, episode.clamp_max(E), rewards)
    return out[:, :E]


def sarsa(mdp: TabularMDP, **options: Any) -> ControlResult:
    """SARSA (UDL section 19.3.3): q[s, a] ← q[s, a] + α(r + γ q[s', a'] − q[s, a]), a' the action the
    ε-greedy policy takes at s' (on-policy TD control). ``options`` as :func:`td_control`."""
    return td_control(mdp, "sarsa", **options)


def q_learning(mdp: TabularMDP, **options: Any) -> ControlResult:
    """Q-learning (UDL section 19.3.3): q[s, a] ← q[s, a] + α(r + γ max_a' q[s', a'] − q[s, a]), off-policy:
    the behaviour is ε-greedy, the target greedy. ``options`` as :func:`td_control`."""
    return td_control(mdp, "q_learning", **options)


def mc_control(
    mdp: TabularMDP,
    *,
    agents: int = 1,
    updates: int = 200,
    episodes_per_update: int = 10,
    epsilon: float = 0.1,
    first_visit: bool = True,
    max_episode_steps: int = 100,
    record_every: int = 10,
    generator: torch.Generator | None = None,
) -> ControlResult:
    """Monte Carlo control (UDL section 19.3.2): q[s, a] is the average of the returns that followed (s, a) in
    all episodes so far; episodes follow the ε-greedy policy of the current q, improved after each update.

    Args:
        agents: independent learners run as one batch.
        updates: policy updates per agent; each averages in ``episodes_per_update`` new episodes (sampled in
            parallel with the same policy).
        first_visit: count only the first visit to (s, a) in an episode (else every visit).
        max_episode_steps: episode length cap (returns are truncated there).
        record_every: updates between the snapshots of q (``snapshot_steps`` count episodes per agent).
    """
    _validate(epsilon, 1.0, 0.0, agents, updates)
    if episodes_per_update < 1:
        raise ValueError(f"episodes_per_update must be >= 1, got {episodes_per_update}")
    B, E, S, A = agents, episodes_per_update, mdp.num_states, mdp.num_actions
    q = torch.zeros(B, S, A, dtype=torch.float64)
    total = torch.zeros(B, S * A, dtype=torch.float64)
    count = torch.zeros(B, S * A, dtype=torch.float64)
    snapshots, snapshot_steps, returns, step_rewards = [q.clone()], [0], [], []
    for u in range(updates):
        policy = epsilon_greedy_policy(q, epsilon).repeat_interleave(E, 0)  # (B·E, S, A)
        s, a, r, alive = rollout(mdp, policy, max_episode_steps, generator)
        g = discounted_returns(r, mdp.gamma)  # (B·E, T)
        sa = s * A + a
        visit = alive
        if first_visit:  # keep step t only if it is the earliest (live) step with this (s, a) in its episode
            T = sa.shape[1]
            time = torch.arange(T).expand_as(sa).masked_fill(~alive, T)
            first = torch.full((B * E, S * A), T, dtype=torch.long).scatter_reduce_(1, sa, time, "amin")
            visit = visit & (first.gather(1, sa) == time)
        w = visit.to(torch.float64)
        total += (
            torch.zeros(B * E, S * A, dtype=torch.float64).scatter_add_(1, sa, g * w).view(B, E, -1).sum(1)
        )
        count += torch.zeros(B * E, S * A, dtype=torch.float64).scatter_add_(1, sa, w).view(B, E, -1).sum(1)
        q = torch.where(count > 0, total / count.clamp_min(1.0), torch.zeros_like(total)).view(B, S, A)
        returns.append(r.sum(1).view(B, E))
        step_rewards.append(r.view(B, -1))
        if (u + 1) % record_every == 0 or u + 1 == updates:
            snapshots.append(q.clone())
            snapshot_steps.append((u + 1) * E)
    return ControlResult(
        q, torch.stack(snapshots), snapshot_steps, torch.cat(returns, 1), torch.cat(step_rewards, 1)
    )
