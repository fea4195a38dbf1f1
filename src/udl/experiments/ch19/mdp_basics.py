"""Markov decision processes (UDL section 19.1–19.2): returns, policy evaluation, temporal credit assignment.

Protocol.

1. *Returns* (eq. 19.1). Episodes of the penguin on ice (4×4, slip 0.5, γ = 0.9, notebook 19.1's grid with the
   holes and fish of fig. 19.10a) under the uniform random policy; the return G_t computed backwards as
   r_{t+1} + γ·G_{t+1} equals the direct sum Σ_k γ^k r_{t+k+1} (a check).
2. *Policy evaluation* (eq. 19.11 against the linear solve of the Bellman equation). For the uniform policy and a
   random stochastic policy on the penguin and on gymnasium's slippery FrozenLake, iterative evaluation (sweeps
   to a change below 1e-13) equals the exact solve of (I − γP_π)v = r_π to 1e-10 (a check), and the mean
   discounted return of ``mc_episodes`` sampled episodes from the start cell lies within 4 standard errors
   (plus the truncation bound γ^T·max|r|/(1 − γ)) of the solved v(0) (a check).
3. *Temporal credit assignment* (section 19.1). A two-corridor MDP (:func:`udl.rl.credit_assignment_mdp`): the
   first action alone decides a payoff of 1 that arrives ``delay`` steps later, after ``delay`` rewards of ±1
   noise. The exact advantage of the good first action is γ^delay (a check). The claim: estimated from
   ``credit_episodes`` Monte Carlo returns per first action, the evidence for the good action (its advantage
   divided by the standard error, z) falls as the delay grows — the credit is harder to assign — with the good
   action identified (z > 2) at the shortest delay and a rank correlation of z with the delay ≤ −0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import torch

from udl.checks import at_least, in_range
from udl.experiments._tabular_rl import plot_grid_values, plot_path
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import (
    PenguinOnIce,
    credit_assignment_mdp,
    deterministic_policy,
    discounted_returns,
    policy_evaluation,
    rollout,
    solve_policy_value,
    tabular_mdp,
    uniform_policy,
)
from udl.stats import Verdict, all_of, spearman

CHAPTER = 19
SECTION = "19.1"
SUMMARY = "Returns, policy evaluation (iterative = linear solve = Monte Carlo) and temporal credit assignment"
CONTEXT = (
    "Chapter 19 frames reinforcement learning as a Markov decision process: the return is the discounted sum of "
    "future rewards, a policy's value satisfies the Bellman equation (solved iteratively or as a linear system), "
    "and an action's reward can arrive long after it (the temporal credit assignment problem)."
)


@dataclass(frozen=True)
class Config:
    slip: float = 0.5
    """probability that the ice replaces the penguin's action by another (the book: it moves as intended half
    the time)"""
    gamma: float = 0.9
    """discount factor γ (the book's penguin: 0.9)"""
    mc_episodes: int = 4000
    """sampled episodes for the Monte Carlo estimate of v(0)"""
    episode_steps: int = 100
    """steps per sampled episode (the return is truncated there)"""
    delays: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    """steps between the deciding action and its payoff, increasing"""
    credit_episodes: int = 2000
    """Monte Carlo episodes per first action in the credit-assignment MDP"""
    seed: int = 0
    """seed of every sampled episode"""

    def __post_init__(self) -> None:
        in_range(self, slip=(0, 1), gamma=(0, 0.999), closed_low=True)
        at_least(self, 2, "mc_episodes", "credit_episodes")
        at_least(self, 1, "episode_steps")
        if not self.delays or min(self.delays) < 1 or list(self.delays) != sorted(set(self.delays)):
            raise ValueError(f"delays must be strictly increasing integers >= 1, got {self.delays}")


PRESETS = {
    "smoke": Config(mc_episodes=300, delays=(1, 4, 16), credit_episodes=200),
    "quick": Config(mc_episodes=20_000, credit_episodes=5000),
    "full": Config(mc_episodes=100_000, credit_episodes=20_000, delays=(1, 2, 4, 8, 16, 32, 64)),
}


def credit_verdict(delays: list[int], z: list[float]) -> Verdict:
    """Credit is harder to assign the later the payoff: z > 2 at the shortest delay and Spearman ρ(delay, z)
    ≤ −0.9 (not established with fewer than 3 delays)."""
    if len(delays) < 3:
        return Verdict.NOT_ESTABLISHED
    return all_of(z[0] > 2, spearman(delays, z) <= -0.9)


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    env = PenguinOnIce(slip=cfg.slip)
    penguin = env.mdp(cfg.gamma)
    frozen = tabular_mdp(gymnasium.make("FrozenLake-v1"), cfg.gamma)

    # -- 1. returns ---------------------------------------------------------------------------------------------
    uniform = uniform_policy(penguin)
    states, _, rewards, alive = rollout(
        penguin, uniform.expand(cfg.mc_episodes, -1, -1), cfg.episode_steps, g
    )
    returns = discounted_returns(rewards, cfg.gamma)  # (N, T)
    T = rewards.shape[1]
    powers = cfg.gamma ** torch.arange(T, dtype=torch.float64)
    direct = torch.stack([(rewards[:, t:] * powers[: T - t]).sum(1) for t in range(0, T, max(1, T // 10))], 1)
    run.check(
        "returns-recursion",
        "The return computed backwards, G_t = r_{t+1} + γ·G_{t+1}, equals the direct sum Σ_k γ^k r_{t+k+1} "
        "(UDL eq. 19.1) on the sampled episodes (largest difference)",
        error=float((returns[:, :: max(1, T // 10)] - direct).abs().max()),
        tolerance=1e-12,
    )

    # -- 2. policy evaluation -----------------------------------------------------------------------------------
    random_policy = torch.softmax(torch.randn(16, 4, generator=g, dtype=torch.float64), -1)
    gaps, sweeps = [], []
    for mdp in (penguin, frozen):
        for policy in (uniform_policy(mdp), random_policy):
            v_iter, k = policy_evaluation(mdp, policy, tol=1e-13)
            gaps.append(float((v_iter - solve_policy_value(mdp, policy)).abs().max()))
            sweeps.append(k)
    run.check(
        "evaluation-iterative-equals-exact",
        "Iterative policy evaluation (UDL eq. 19.11) equals the exact linear solve (I − γP_π)v = r_π for two "
        "policies on the penguin and on FrozenLake (largest difference)",
        error=max(gaps),
        tolerance=1e-10,
        measured={"max_abs_difference": max(gaps), "sweeps": sweeps},
    )
    v_uniform = solve_policy_value(penguin, uniform)
    g0 = returns[:, 0]
    se = float(g0.std() / cfg.mc_episodes**0.5)
    truncation = cfg.gamma**cfg.episode_steps * 3.0 / (1 - cfg.gamma)
    mc_error = abs(float(g0.mean()) - float(v_uniform[0]))
    run.check(
        "monte-carlo-equals-bellman",
        f"The mean discounted return of {cfg.mc_episodes} sampled episodes from the start cell agrees with the "
        "Bellman solution v(0) of the uniform policy within 4 standard errors plus the truncation bound",
        error=mc_error,
        tolerance=4 * se + truncation,
        measured={"mc_mean": float(g0.mean()), "se": se, "v_exact": float(v_uniform[0])},
        expected=f"|difference| ≤ 4 SE + {truncation:.1e}",
    )
    running = g0.cumsum(0) / torch.arange(1, cfg.mc_episodes + 1)

    # -- 3. temporal credit assignment -------------------------------------------------------------------------
    z_scores, advantages, closed_form_gap = [], [], 0.0
    for delay in cfg.delays:
        chain = credit_assignment_mdp(delay, cfg.gamma)
        S = chain.num_states
        v_first = []
        samples = []
        for first in (0, 1):  # a policy that takes `first` at the start (the rest does not matter)
            policy = deterministic_policy(torch.full((S,), first), 2)
            v_first.append(float(solve_policy_value(chain, policy)[0]))
            batch = policy.expand(cfg.credit_episodes, -1, -1)
            _, _, r, _ = rollout(chain, batch, delay + 1, g)
            samples.append(discounted_returns(r, cfg.gamma)[:, 0])
        closed_form_gap = max(closed_form_gap, abs(v_first[0] - v_first[1] - cfg.gamma**delay))
        diff = float(samples[0].mean() - samples[1].mean())
        se_diff = float(
            (samples[0].var() / cfg.credit_episodes + samples[1].var() / cfg.credit_episodes).sqrt()
        )
        z_scores.append(diff / se_diff)
        advantages.append(diff)
        run.log(delay, credit_z=z_scores[-1], credit_advantage=diff, credit_exact=cfg.gamma**delay)
    run.check(
        "credit-advantage-closed-form",
        "In the two-corridor MDP the exact advantage of the good first action is γ^delay (largest difference "
        "over the delays)",
        error=closed_form_gap,
        tolerance=1e-12,
    )
    run.claim(
        "credit-assignment-harder-with-delay",
        f"Temporal credit assignment: from {cfg.credit_episodes} Monte Carlo returns per first action, the "
        "evidence z = advantage / SE for the action that decides a delayed payoff falls as the delay grows "
        "(z > 2 at the shortest delay, Spearman ρ(delay, z) ≤ −0.9)",
        holds=credit_verdict(list(cfg.delays), z_scores),
        measured={
            "delays": list(cfg.delays),
            "z": z_scores,
            "spearman": spearman(list(cfg.delays), z_scores),
        },
        expected="z[0] > 2; ρ ≤ −0.9",
    )
    run.summary(
        v_uniform_start=float(v_uniform[0]),
        mc_mean_start=float(g0.mean()),
        z_shortest_delay=z_scores[0],
        z_longest_delay=z_scores[-1],
    )

    # -- figures ------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.8)
    plot_grid_values(
        axes[0, 0], v_uniform, env.shape, policy=None, holes=env.holes, goal=env.fish,
        title=f"Penguin: v of the uniform policy (γ = {cfg.gamma})",
    )  # fmt: skip
    length = int(alive[0].sum())
    plot_path(
        axes[0, 0], [*states[0, :length].tolist()][:20], env.shape, label="a sampled episode", color="k"
    )
    axes[0, 0].legend(fontsize=7, loc="lower left")
    ax = axes[0, 1]
    ax.plot(torch.arange(1, cfg.mc_episodes + 1), running, label="running mean of G_0")
    ax.axhline(float(v_uniform[0]), color="black", linestyle="--", label="Bellman solution v(0)")
    ax.set(xscale="log", xlabel="episodes", ylabel="return from the start", title="Monte Carlo vs Bellman")
    ax.legend(fontsize=8)
    run.figure("policy-evaluation", fig)

    fig, axes = subplots(1, 2, width=4.8)
    delays = list(cfg.delays)
    ax = axes[0, 0]
    ax.plot(delays, advantages, "o-", label="Monte Carlo estimate")
    ax.plot(delays, [cfg.gamma**d for d in delays], "k--", label="exact γ^delay")
    ax.set(xscale="log", xlabel="delay (steps)", ylabel="advantage of the good first action", title="Credit")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.plot(delays, z_scores, "s-")
    ax.axhline(2.0, color="black", linestyle=":", label="z = 2")
    ax.set(xscale="log", xlabel="delay (steps)", ylabel="z = advantage / SE", title="Evidence for the action")
    ax.legend(fontsize=8)
    run.figure("credit-assignment", fig)
