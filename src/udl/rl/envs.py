"""The book's "penguin on ice" (UDL section 19.1, figs. 19.3 and 19.10) as a gymnasium environment.

A 4×4 slippery grid, cells numbered row by row from 0 (top left, the start) to 15 (bottom right). Actions
0 = up, 1 = right, 2 = down, 3 = left. The ice is slippery: with probability ``slip`` the chosen action is
replaced by one of the other three (each with probability slip/3); the book's penguin moves as intended half the
time (``slip = 0.5``). A move off the grid leaves the penguin where it is (gymnasium's FrozenLake convention).
Arriving in a hole (cells 9, 10, 14) gives −2 and the episode goes on; arriving at the fish (cell 15) gives +3
and ends the episode. γ = 0.9 (:data:`PENGUIN_GAMMA`).

:meth:`PenguinOnIce.transition_tensor` and :meth:`PenguinOnIce.reward_table` are the exact P(s'|s, a) and
R[s, a, s'], computed in closed form from the slip model, independently of :meth:`PenguinOnIce.step`, which
simulates the slip itself; the environment also carries gymnasium's toy-text ``P`` table, so
:func:`udl.rl.tabular_mdp` reads it like FrozenLake's. ``gymnasium.make("udl/PenguinOnIce-v0")`` works once
``udl.rl`` is imported (100 steps per episode, like FrozenLake 4×4).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from udl.rl._mdp import TabularMDP

__all__ = ["PENGUIN_ENV_ID", "PENGUIN_GAMMA", "PenguinOnIce", "credit_assignment_mdp", "register_envs"]

PENGUIN_ENV_ID = "udl/PenguinOnIce-v0"
PENGUIN_GAMMA = 0.9
"""the book's discount factor for the penguin (notebook 19.2)"""

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""(row, column) change of the actions up, right, down, left"""


class PenguinOnIce(gymnasium.Env):
    """The penguin on a slippery grid: gymnasium ``Env`` with Discrete observations and actions.

    Args:
        slip: probability that the chosen action is replaced by one of the other three (uniformly), in [0, 1].
        shape: (rows, columns) of the grid.
        holes: cells whose arrival gives ``hole_reward`` (the episode continues).
        fish: the terminal cell, whose arrival gives ``fish_reward``.
        start: the initial cell.
        render_mode: None or "ansi".
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 (gymnasium's attribute)

    def __init__(
        self,
        slip: float = 0.5,
        shape: tuple[int, int] = (4, 4),
        holes: tuple[int, ...] = (9, 10, 14),
        fish: int = 15,
        start: int = 0,
        hole_reward: float = -2.0,
        fish_reward: float = 3.0,
        render_mode: str | None = None,
    ) -> None:
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be a probability in [0, 1], got {slip}")
        rows, cols = shape
        if rows < 1 or cols < 1 or rows * cols < 2:
            raise ValueError(f"shape must have at least 2 cells, got {shape}")
        n = rows * cols
        cells = (*holes, fish, start)
        if any(not 0 <= c < n for c in cells):
            raise ValueError(f"holes, fish and start must be cells 0..{n - 1}, got {holes}, {fish}, {start}")
        if fish in holes or start == fish:
            raise ValueError(f"the fish ({fish}) must be neither a hole {holes} nor the start ({start})")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.slip, self.shape, self.holes, self.fish, self.start = (
            float(slip),
            (rows, cols),
            holes,
            fish,
            start,
        )
        self.hole_reward, self.fish_reward = float(hole_reward), float(fish_reward)
        self.render_mode = render_mode
        self.num_states = n
        self.observation_space = spaces.Discrete(n)
        self.action_space = spaces.Discrete(4)
        self.cell_reward = np.zeros(n)
        self.cell_reward[list(holes)] = hole_reward
        self.cell_reward[fish] = fish_reward
        self.initial_state_distrib = np.eye(n)[start]
        P, R = self.transition_tensor(), self.reward_table()
        self.P = {  # gymnasium's toy-text table: P[s][a] = [(prob, next, reward, terminated), ...]
            s: {
                a: [(float(P[s, a, t]), t, float(R[s, a, t]), t == fish) for t in range(n) if P[s, a, t] > 0]
                for a in range(4)
            }
            for s in range(n)
        }
        self.s = start

    # -- the exact model ------------------------------------------------------------------------------------
    def move_table(self) -> Tensor:
        """(S, 4) long: the cell reached from s by moving in direction m (walls: stay)."""
        rows, cols = self.shape
        r = torch.arange(rows * cols) // cols
        c = torch.arange(rows * cols) % cols
        d = torch.tensor(MOVES)  # (4, 2)
        nr = (r.unsqueeze(1) + d[:, 0]).clamp(0, rows - 1)
        nc = (c.unsqueeze(1) + d[:, 1]).clamp(0, cols - 1)
        return nr * cols + nc

    def transition_tensor(self) -> Tensor:
        """P[s, a, s'] (S, 4, S) float64: Σ_m Pr(move m | action a)·1[move m from s reaches s'].

        Pr(m | a) = 1 − slip for m = a and slip/3 otherwise; the fish cell is absorbing.
        """
        n = self.num_states
        execute = torch.full((4, 4), self.slip / 3, dtype=torch.float64)
        execute.fill_diagonal_(1.0 - self.slip)  # (a, m)
        reach = torch.nn.functional.one_hot(self.move_table(), n).to(torch.float64)  # (S, m, S')
        P = torch.einsum("am,smt->sat", execute, reach)
        P[self.fish] = 0.0
        P[self.fish, :, self.fish] = 1.0
        return P

    def reward_table(self) -> Tensor:
        """R[s, a, s'] (S, 4, S) float64: the reward of arriving in s' (0 from the terminal fish cell)."""
        n = self.num_states
        R = torch.as_tensor(self.cell_reward, dtype=torch.float64).expand(n, 4, n).clone()
        R[self.fish] = 0.0
        return R

    def mdp(self, gamma: float = PENGUIN_GAMMA) -> TabularMDP:
        """The exact :class:`TabularMDP` of this grid (γ = 0.9 by default, the book's)."""
        terminal = torch.zeros(self.num_states, dtype=torch.bool)
        terminal[self.fish] = True
        initial = torch.as_tensor(self.initial_state_distrib, dtype=torch.float64)
        return TabularMDP(self.transition_tensor(), self.reward_table(), terminal, initial, gamma)

    # -- the gymnasium API ----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.s = self.start
        return self.s, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (up), 1 (right), 2 (down) or 3 (left), got {action!r}")
        move = int(action)
        if self.np_random.random() < self.slip:  # the ice replaces the action by one of the other three
            move = (move + 1 + int(self.np_random.integers(3))) % 4
        rows, cols = self.shape
        dr, dc = MOVES[move]
        r = min(max(self.s // cols + dr, 0), rows - 1)
        c = min(max(self.s % cols + dc, 0), cols - 1)
        self.s = r * cols + c
        terminated = self.s == self.fish
        return self.s, float(self.cell_reward[self.s]), terminated, False, {"move": move}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        rows, cols = self.shape
        mark = {h: "H" for h in self.holes} | {self.fish: "F", self.start: "S"}
        grid = [[mark.get(r * cols + c, ".") for c in range(cols)] for r in range(rows)]
        grid[self.s // cols][self.s % cols] = "P"
        return "\n".join("".join(row) for row in grid) + "\n"


def register_envs() -> None:
    """Register ``udl/PenguinOnIce-v0`` with gymnasium (idempotent: a second call does nothing)."""
    if PENGUIN_ENV_ID not in gymnasium.registry:
        gymnasium.register(id=PENGUIN_ENV_ID, entry_point="udl.rl.envs:PenguinOnIce", max_episode_steps=100)


def credit_assignment_mdp(delay: int, gamma: float, payoff: float = 1.0) -> TabularMDP:
    """The temporal credit assignment problem (UDL section 19.1) as a two-corridor MDP.

    In state 0 the agent chooses corridor 0 or 1 (actions 0, 1); it then walks ``delay`` noisy steps (each
    arrival gives +1 or −1 with probability 1/2, whatever the action) and, on leaving the corridor, receives
    ``payoff`` in corridor 0 and nothing in corridor 1. Only the first action matters, and its consequence
    arrives ``delay`` steps later buried in noise: q(0, 0) − q(0, 1) = γ^delay · payoff exactly.

    States: 0 the start, 1 + c·2·delay + 2(i − 1) + j for corridor c, position i = 1..delay and noise twin j,
    and the terminal state 1 + 4·delay last.
    """
    if delay < 1:
        raise ValueError(f"delay must be >= 1, got {delay}")
    S, A = 2 + 4 * delay, 2
    end = S - 1
    P = torch.zeros(S, A, S, dtype=torch.float64)
    R = torch.zeros(S, A, S, dtype=torch.float64)
    noise = torch.tensor([1.0, -1.0], dtype=torch.float64)  # arrival reward of twin j = 0, 1

    def cell(c: int, i: int) -> int:
        return 1 + c * 2 * delay + 2 * (i - 1)

    for c in range(2):
        P[0, c, cell(c, 1) : cell(c, 1) + 2] = 0.5
        R[0, c, cell(c, 1) : cell(c, 1) + 2] = noise
        for i in range(1, delay + 1):
            for j in range(2):
                s = cell(c, i) + j
                if i < delay:
                    P[s, :, cell(c, i + 1) : cell(c, i + 1) + 2] = 0.5
                    R[s, :, cell(c, i + 1) : cell(c, i + 1) + 2] = noise
                else:
                    P[s, :, end] = 1.0
                    R[s, :, end] = payoff if c == 0 else 0.0
    P[end, :, end] = 1.0
    terminal = torch.zeros(S, dtype=torch.bool)
    terminal[end] = True
    return TabularMDP(P, R, terminal, torch.eye(S, dtype=torch.float64)[0], gamma)
