"""A finite Markov decision process as tensors (UDL section 19.1), its sampler, and returns (UDL eq. 19.1).

A :class:`TabularMDP` holds the transition tensor ``P[s, a, s'] = Pr(s'|s, a)``, the reward of each transition
``R[s, a, s']``, which states are terminal (absorbing, no reward after arrival), the initial-state distribution
and the discount factor γ. It is built from any gymnasium toy-text environment (FrozenLake, CliffWalking, Taxi,
udl's PenguinOnIce) by :func:`tabular_mdp`, which reads the environment's ``P`` table, so dynamic programming
and the tabular learners run on the same MDP as the environment itself.

Conventions: the reward is received on the transition into s' (gymnasium's convention). The book attaches
r[s] to the state being *left*; the two value functions differ only by that first reward
(v_book(s) = r(s) + γ·v_gym(s)), and the optimal policies coincide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "TabularMDP",
    "discounted_returns",
    "modal_path",
    "sample_categorical",
    "sample_transitions",
    "tabular_mdp",
]


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP: states 0..S−1, actions 0..A−1, float64 tensors.

    Attributes:
        P: (S, A, S) transition probabilities Pr(s'|s, a); each row sums to 1 (terminal states loop to
            themselves).
        R: (S, A, S) reward of the transition s →a→ s' (its conditional mean where the environment's reward is
            random given (s, a, s')).
        terminal: (S,) bool, states at which an episode ends: no reward and no value after arrival.
        initial: (S,) initial-state distribution.
        gamma: discount factor γ ∈ [0, 1].
    """

    P: Tensor
    R: Tensor
    terminal: Tensor
    initial: Tensor
    gamma: float

    def __post_init__(self) -> None:
        if self.P.dim() != 3 or self.P.shape[0] != self.P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {tuple(self.P.shape)}")
        if self.R.shape != self.P.shape:
            raise ValueError(f"R must have P's shape {tuple(self.P.shape)}, got {tuple(self.R.shape)}")
        if self.terminal.shape != (self.P.shape[0],) or self.initial.shape != (self.P.shape[0],):
            raise ValueError("terminal and initial must have shape (S,)")
        if (self.P < 0).any() or not torch.allclose(self.P.sum(-1), torch.ones((), dtype=self.P.dtype)):
            raise ValueError("P must be non-negative with rows P[s, a, :] summing to 1")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")

    @property
    def num_states(self) -> int:
        return self.P.shape[0]

    @property
    def num_actions(self) -> int:
        return self.P.shape[1]

    @property
    def expected_reward(self) -> Tensor:
        """r[s, a] = Σ_s' Pr(s'|s, a)·R[s, a, s'] (S, A): the book's r[s_t, a_t]."""
        return (self.P * self.R).sum(-1)

    @property
    def continuation(self) -> Tensor:
        """P[s, a, s'] with the columns of terminal s' zeroed (S, A, S): the value after arrival is 0."""
        return self.P * (~self.terminal).to(self.P.dtype)

    def with_gamma(self, gamma: float) -> TabularMDP:
        return TabularMDP(self.P, self.R, self.terminal, self.initial, gamma)


def tabular_mdp(env: Any, gamma: float) -> TabularMDP:
    """The exact MDP of a gymnasium toy-text environment, read from its ``P`` table.

    ``env.unwrapped.P[s][a]`` is a list of ``(probability, next_state, reward, terminated)`` (FrozenLake,
    CliffWalking, Taxi, PenguinOnIce); duplicate next states are merged (probabilities add, rewards average by
    probability). A state is terminal if some transition arrives at it with ``terminated``; its own row becomes
    an absorbing self-loop with reward 0. The initial distribution is the environment's
    ``initial_state_distrib`` (uniform if it has none).

    Example:
        >>> import gymnasium
        >>> mdp = tabular_mdp(gymnasium.make("FrozenLake-v1"), gamma=0.9)
        >>> mdp.P.shape
        torch.Size([16, 4, 16])
    """
    base = env.unwrapped
    table = getattr(base, "P", None)
    if not isinstance(table, dict):
        raise TypeError(
            f"{type(base).__name__} has no toy-text transition table P (FrozenLake, CliffWalking, Taxi, "
            "PenguinOnIce have one)"
        )
    S, A = int(base.observation_space.n), int(base.action_space.n)
    P = torch.zeros(S, A, S, dtype=torch.float64)
    PR = torch.zeros(S, A, S, dtype=torch.float64)
    terminal = torch.zeros(S, dtype=torch.bool)
    for s in range(S):
        for a in range(A):
            for prob, nxt, reward, done in table[s][a]:
                P[s, a, nxt] += prob
                PR[s, a, nxt] += prob * reward
                terminal[nxt] |= bool(done)
    R = torch.where(P > 0, PR / P.clamp_min(1e-300), torch.zeros((), dtype=torch.float64))
    idx = terminal.nonzero().squeeze(1)
    P[idx], R[idx] = 0.0, 0.0
    P[idx, :, idx] = 1.0  # terminal states: absorbing self-loops with reward 0
    P = P / P.sum(-1, keepdim=True)  # exact rows despite the table's float rounding (e.g. 1/3 + 1/3 + 1/3)
    start = getattr(base, "initial_state_distrib", None)  # toy-text's name; uniform if an env lacks it
    initial = (
        torch.ones(S, dtype=torch.float64) if start is None else torch.as_tensor(start, dtype=torch.float64)
    )
    return TabularMDP(P, R, terminal, initial / initial.sum(), gamma)


def sample_transitions(
    mdp: TabularMDP,
    state: Tensor,
    action: Tensor,
    generator: torch.Generator | None = None,
    *,
    cdf: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One step of many independent copies of the MDP at once.

    Args:
        state, action: (B,) long tensors.
        cdf: ``mdp.P.cumsum(-1)``, precomputed by a caller that steps many times.
    Returns:
        next state (B,), reward R[s, a, s'] (B,) float64, terminated (B,) bool (s' is terminal).
    """
    rows = mdp.P.cumsum(-1)[state, action] if cdf is None else cdf[state, action]  # (B, S)
    nxt = sample_categorical(generator=generator, cdf=rows)
    return nxt, mdp.R[state, action, nxt], mdp.terminal[nxt]


def sample_categorical(
    probs: Tensor | None = None, generator: torch.Generator | None = None, *, cdf: Tensor | None = None
) -> Tensor:
    """One index per row of ``probs`` (…, K) by inversion of the cumulative distribution (rows need not be
    normalized): the first k with cdf[k] > u·cdf[K−1]. Cheaper than ``torch.multinomial`` for small K; pass
    ``cdf`` (the rows' cumulative sums) instead of ``probs`` to reuse it."""
    if cdf is None:
        if probs is None:
            raise TypeError("sample_categorical needs probs or cdf")
        cdf = probs.cumsum(-1)
    u = torch.rand(cdf.shape[:-1], generator=generator, dtype=cdf.dtype).unsqueeze(-1) * cdf[..., -1:]
    return (u >= cdf).sum(-1).clamp_max(cdf.shape[-1] - 1)


def discounted_returns(rewards: Tensor, gamma: float, dones: Tensor | None = None) -> Tensor:
    """Returns G_t = Σ_k γ^k r_{t+k+1} of reward sequences (UDL eq. 19.1), along the last dimension.

    ``rewards[..., t]`` is the reward received after step t (the book's r_{t+1}); computed backwards as
    G_t = r_{t+1} + γ·G_{t+1}. ``dones[..., t]`` (bool) marks a step after which an episode ended, so the sum
    restarts there (several episodes laid end to end in one row).
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    keep = torch.ones_like(rewards) if dones is None else (~dones).to(rewards.dtype)
    out = torch.empty_like(rewards)
    g = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):  # T steps, each vectorized over the batch
        g = rewards[..., t] + gamma * keep[..., t] * g
        out[..., t] = g
    return out


def modal_path(mdp: TabularMDP, policy: Tensor, start: int, max_steps: int = 100) -> list[int]:
    """The states visited from ``start`` taking the policy's most probable action and moving to the most
    probable next state, until a terminal state or ``max_steps`` moves: the path a deterministic policy
    follows in a deterministic MDP (CliffWalking), the most likely one otherwise."""
    path = [start]
    s = start
    for _ in range(max_steps):
        if mdp.terminal[s]:
            break
        s = int(mdp.P[s, int(policy[s].argmax())].argmax())
        path.append(s)
    return path
