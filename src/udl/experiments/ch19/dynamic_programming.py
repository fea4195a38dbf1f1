"""Dynamic programming (UDL section 19.3.1, notebook 19.2): policy and value iteration, the policy improvement
theorem, finite-horizon (non-stationary) planning, and model-based RL.

Protocol. The penguin on ice (4×4, slip 0.5, holes 9, 10, 14 at −2, fish 15 at +3, γ = 0.9) and gymnasium's
slippery FrozenLake 4×4 (same γ), both as exact tabular MDPs.

1. *Policy vs value iteration*: policy iteration (exact evaluation, greedy improvement, eq. 19.11–19.12) from the
   uniform policy and value iteration to a change below 1e-12 reach the same values (to 1e-9) and choose
   equally good actions in every state (checks); value iteration's error after k sweeps is ≤ γ^k ‖v*‖ (check).
2. *Policy improvement theorem*: from ``start_policies`` random deterministic policies, every policy-iteration
   step raises (never lowers) the value of every state (check, 1e-12).
3. *Finite horizon*: backward induction over H steps gives a non-stationary optimal policy. Its value converges
   to v* as ‖v_0^H − v*‖ ≤ γ^H‖v*‖ (check). The claim (section 19.2: with a finite horizon the best action
   depends on the steps left): at the shortest horizon the first-step policy differs from the stationary
   optimum in some state (by more than ties), and at the longest horizon it equals it.
4. *Model-based RL*: ``model_episodes`` episodes of the uniform policy per data size and seed; P and r estimated
   by counts (:func:`udl.rl.estimate_mdp`), value iteration on the estimate, the planned policy evaluated in the
   true MDP. The claim: with the most data, the planned policy's start value is within 5% of the range between
   the uniform policy and the optimum, v*(0) − v_uniform(0) (mean + 2 SE over ``model_seeds`` seeds).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import gymnasium
import torch

from udl.checks import at_least, in_range
from udl.experiments._tabular_rl import FROZEN_LAKE_ARROWS, near_optimal_verdict, plot_grid_values
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import (
    PenguinOnIce,
    action_values,
    deterministic_policy,
    estimate_mdp,
    finite_horizon_dp,
    policy_iteration,
    rollout,
    solve_policy_value,
    tabular_mdp,
    uniform_policy,
    value_iteration,
)
from udl.stats import Verdict, all_of, mean_se

CHAPTER = 19
SECTION = "19.3.1"
SUMMARY = "Policy and value iteration agree; improvement is monotone; finite horizons; model-based planning"
CONTEXT = (
    "With a known model, dynamic programming finds the optimal policy: policy iteration alternates evaluation "
    "and greedy improvement (each step can only raise every state's value), value iteration iterates the "
    "Bellman optimality backup. A finite horizon makes the optimal policy depend on time; model-based RL "
    "estimates the model from experience and then plans."
)
TIE = 1e-9
"""action values closer than this count as a tie"""


@dataclass(frozen=True)
class Config:
    slip: float = 0.5
    """probability that the ice replaces the penguin's action by another"""
    gamma: float = 0.9
    """discount factor γ (the book's penguin: 0.9)"""
    start_policies: int = 16
    """random deterministic policies that policy iteration starts from (monotonicity check)"""
    horizons: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100)
    """finite horizons H planned by backward induction, increasing"""
    model_episodes: tuple[int, ...] = (10, 30, 100, 300, 1000)
    """episodes of experience per estimated model, increasing"""
    model_seeds: int = 8
    """independent data sets per size (the claim's seeds)"""
    episode_steps: int = 100
    """steps per episode of experience"""
    seed: int = 0
    """seed of the start policies and the experience"""

    def __post_init__(self) -> None:
        in_range(self, slip=(0, 1), gamma=(0, 0.999), closed_low=True)
        for name in ("horizons", "model_episodes"):
            values = getattr(self, name)
            if not values or min(values) < 1 or list(values) != sorted(set(values)):
                raise ValueError(f"{name} must be strictly increasing integers >= 1, got {values}")
        at_least(self, 1, "start_policies", "model_seeds", "episode_steps")


PRESETS = {
    "smoke": Config(start_policies=4, horizons=(1, 3, 50), model_episodes=(10, 100), model_seeds=2),
    "quick": Config(),
    "full": Config(start_policies=64, model_episodes=(10, 30, 100, 300, 1000, 3000, 10000), model_seeds=20),
}


def horizon_verdict(horizons: list[int], differing: list[int]) -> Verdict:
    """The finite-horizon optimum is non-stationary: at the shortest horizon the first-step policy differs
    from the stationary optimum in some state, at the longest it equals it (not established with one horizon)."""
    if len(horizons) < 2:
        return Verdict.NOT_ESTABLISHED
    return all_of(differing[0] > 0, differing[-1] == 0)


def _differ(policy: torch.Tensor, q: torch.Tensor) -> int:
    """States where ``policy``'s action is worse than the best under q by more than a tie."""
    return int(((q.max(-1).values - (policy * q).sum(-1)) > TIE).sum())


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    env = PenguinOnIce(slip=cfg.slip)
    penguin = env.mdp(cfg.gamma)
    frozen = tabular_mdp(gymnasium.make("FrozenLake-v1"), cfg.gamma)

    # -- 1. policy iteration vs value iteration -----------------------------------------------------------------
    value_gap, action_gap, iterations = 0.0, 0, {}
    results = {}
    for name, mdp in (("penguin", penguin), ("frozen_lake", frozen)):
        pi, vi = policy_iteration(mdp), value_iteration(mdp)
        q = action_values(mdp, pi.values)
        value_gap = max(value_gap, float((pi.values - vi.values).abs().max()))
        action_gap += _differ(vi.policy, q) + _differ(pi.policy, q)
        iterations[name] = {"policy_iteration": len(pi.history), "value_iteration_sweeps": len(vi.history)}
        results[name] = (pi, vi)
    run.check(
        "policy-and-value-iteration-agree-values",
        "Policy iteration and value iteration reach the same optimal values on the penguin and FrozenLake "
        "(largest difference)",
        error=value_gap,
        tolerance=1e-9,
        measured={"max_abs_difference": value_gap, **iterations},
    )
    run.check(
        "policy-and-value-iteration-agree-policy",
        "... and the same optimal policy: states where either one's action is worse than the best (beyond ties)",
        error=action_gap,
        tolerance=0,
    )
    pi, vi = results["penguin"]
    v_star = vi.values
    errors = [float((v - v_star).abs().max()) for v in vi.history]
    excess = max(e - cfg.gamma ** (k + 1) * float(v_star.abs().max()) for k, e in enumerate(errors))
    run.check(
        "value-iteration-contracts",
        "Value iteration from v = 0 is within γ^k‖v*‖ of v* after k sweeps (largest excess over the bound)",
        error=max(0.0, excess),
        tolerance=1e-12,
    )

    # -- 2. the policy improvement theorem ----------------------------------------------------------------------
    worst, steps, start_values = 0.0, 0, []
    for _ in range(cfg.start_policies):
        start = deterministic_policy(torch.randint(4, (16,), generator=g), 4)
        history = policy_iteration(penguin, start).history
        start_values.append([float(v[0]) for v in history])
        for a, b in itertools.pairwise(history):
            worst = min(worst, float((b - a).min()))
            steps += 1
    run.check(
        "policy-improvement-monotone",
        f"Policy improvement theorem: over {steps} policy-iteration steps from {cfg.start_policies} random "
        "policies, no state's value ever falls (most negative change)",
        error=-worst,
        tolerance=1e-12,
    )

    # -- 3. finite horizon: non-stationary optimal policies -----------------------------------------------------
    q_star = action_values(penguin, v_star)
    differing, bound_excess = [], 0.0
    for H in cfg.horizons:
        values, policies = finite_horizon_dp(penguin, H)
        differing.append(_differ(policies[0], q_star))
        bound_excess = max(
            bound_excess, float((values[0] - v_star).abs().max()) - cfg.gamma**H * float(v_star.abs().max())
        )
        run.log(H, first_step_states_differing=differing[-1], horizon_value_start=float(values[0, 0]))
    run.check(
        "finite-horizon-converges",
        "The H-step optimal value is within γ^H‖v*‖ of the infinite-horizon optimum (largest excess)",
        error=max(0.0, bound_excess),
        tolerance=1e-12,
    )
    run.claim(
        "finite-horizon-non-stationary",
        f"With H = {cfg.horizons[0]} steps left the optimal action differs from the stationary optimum in some "
        f"state; with H = {cfg.horizons[-1]} it is the stationary optimum",
        holds=horizon_verdict(list(cfg.horizons), differing),
        measured={"horizons": list(cfg.horizons), "states_differing": differing},
        expected="> 0 at the shortest horizon, 0 at the longest",
    )
    short_values, short_policies = finite_horizon_dp(penguin, cfg.horizons[0])

    # -- 4. model-based RL --------------------------------------------------------------------------------------
    uniform = uniform_policy(penguin)
    v_uniform = solve_policy_value(penguin, uniform)
    tolerance = 0.05 * float(v_star[0] - v_uniform[0])
    gaps: list[list[float]] = []
    for n in cfg.model_episodes:
        row = []
        for _ in range(cfg.model_seeds):
            s, a, r, alive = rollout(penguin, uniform.expand(n, -1, -1), cfg.episode_steps, g)
            live = alive[:, :-1]  # transitions s_t → s_{t+1} of the live steps (the last step has no s_{t+1})
            nxt = s[:, 1:][live]
            est, _ = estimate_mdp(
                s[:, :-1][live], a[:, :-1][live], r[:, :-1][live], nxt, penguin.terminal[nxt],
                num_states=16, num_actions=4, gamma=cfg.gamma, initial=penguin.initial,
            )  # fmt: skip
            planned = value_iteration(est).policy
            row.append(float(v_star[0] - solve_policy_value(penguin, planned)[0]))
        gaps.append(row)
        run.log(n, model_based_gap_mean=mean_se(row).mean)
    run.claim(
        "model-based-near-optimal",
        f"Model-based RL: planning on P and r estimated from {cfg.model_episodes[-1]} random-policy episodes "
        f"gives a start value within 5% of v*(0) − v_uniform(0) of the optimum ({cfg.model_seeds} seeds, "
        "mean + 2 SE)",
        holds=near_optimal_verdict(gaps[-1], tolerance),
        measured={
            "gap": mean_se(gaps[-1]).to_json(),
            "tolerance": tolerance,
            "gaps_by_size": [mean_se(r).mean for r in gaps],
        },
        expected=f"mean + 2 SE ≤ {tolerance:.4f}",
    )
    run.summary(
        v_star_start=float(v_star[0]),
        v_uniform_start=float(v_uniform[0]),
        model_based_gap=mean_se(gaps[-1]).mean,
    )

    # -- figures ------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.8)
    plot_grid_values(
        axes[0, 0], v_star, env.shape, policy=pi.policy, holes=env.holes, goal=env.fish,
        title=f"Penguin: v* and π* (slip {cfg.slip}, γ = {cfg.gamma})",
    )  # fmt: skip
    fl_pi = results["frozen_lake"][0]
    plot_grid_values(
        axes[0, 1], fl_pi.values, (4, 4), policy=fl_pi.policy, holes=(5, 7, 11, 12), goal=15,
        title="gymnasium FrozenLake 4×4: v* and π*", arrows=FROZEN_LAKE_ARROWS, no_arrow=(5, 7, 11, 12),
    )  # fmt: skip
    run.figure("optimal-policies", fig)

    fig, axes = subplots(1, 2, width=4.8)
    ax = axes[0, 0]
    ax.semilogy(
        range(1, len(errors) + 1), [max(e, 1e-16) for e in errors], label="value iteration ‖v_k − v*‖"
    )
    sweeps = range(1, len(errors) + 1)
    ax.semilogy(sweeps, [cfg.gamma**k * float(v_star.abs().max()) for k in sweeps], "k--", label="γ^k ‖v*‖")
    ax.set(xlabel="sweep k", ylabel="max-norm error", title="Value iteration contracts")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for trajectory in start_values:
        ax.plot(range(len(trajectory)), trajectory, "o-", alpha=0.5, markersize=3)
    ax.set(xlabel="policy-iteration step", ylabel="v(start)", title="Policy improvement is monotone")
    run.figure("iteration", fig)

    fig, axes = subplots(1, 2, width=4.8)
    plot_grid_values(
        axes[0, 0], short_values[0], env.shape, policy=short_policies[0], holes=env.holes, goal=env.fish,
        title=f"Optimal with {cfg.horizons[0]} step(s) left",
    )  # fmt: skip
    ax = axes[0, 1]
    means = [mean_se(r) for r in gaps]
    bars = [0.0 if m.n < 2 else 2 * m.se for m in means]
    ax.errorbar(list(cfg.model_episodes), [m.mean for m in means], yerr=bars, fmt="o-", label="mean ± 2 SE")
    ax.axhline(tolerance, color="black", linestyle=":", label="5% tolerance")
    ax.set(xscale="log", xlabel="episodes of experience", ylabel="v*(0) − v^π̂(0)", title="Model-based RL")
    ax.legend(fontsize=8)
    run.figure("horizon-and-model-based", fig)
