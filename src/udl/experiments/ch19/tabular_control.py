"""Model-free tabular control (UDL sections 19.3.2–19.3.3): Monte Carlo, SARSA and Q-learning reach the DP
optimum; on-policy SARSA learns a safer path than off-policy Q-learning along a cliff.

Protocol.

1. *Reaching the optimum* on the penguin on ice (4×4, slip 0.5, γ = 0.9). ``agents`` independent learners per
   method (the seeds), run as one batch: first-visit and every-visit Monte Carlo control (ε-greedy, returns
   averaged over all episodes, ``mc_episodes_per_update`` episodes per policy update), SARSA and Q-learning
   (ε-greedy, step α = lr · N(s, a)^−lr_power). Each learner's greedy policy is evaluated exactly (linear
   solve) in the true MDP. Claim per method: the gap v*(0) − v^π(0) to the dynamic-programming optimum is
   within 5% of v*(0) − v_uniform(0) (the range from the uniform policy to the optimum): mean + 2 SE ≤ that
   tolerance over the agents. The tolerance was fixed before any run.
2. *The cliff-walking effect* (Sutton & Barto, example 6.6) on gymnasium's CliffWalking-v1 (4×12, −1 a step,
   −100 and back to the start for stepping into the cliff, γ = 1): SARSA and Q-learning with ε = 0.1,
   α = 0.5 for ``cliff_steps`` steps. Claims (unpaired, the agents as seeds, bar 2 SE): SARSA's learned greedy
   path keeps farther from the cliff (mean Manhattan distance of the path's cells to the nearest cliff cell);
   Q-learning falls into the cliff more often during ε-greedy training; SARSA's online return per episode
   (training episodes of the second half) is higher; and Q-learning's greedy path is the optimal 13-step one
   (return −13, every agent within half a step on average).

Measured at quick (16 agents). First-visit MC, SARSA and Q-learning reach the tolerance (0.079): gaps 0.024 ±
0.011, 0.021 ± 0.010, 0.013 ± 0.005. Every-visit MC is *not established*: 0.062 ± 0.015 (mean + 2 SE = 0.093);
its learning curve flattens near 0.06 after ~8000 episodes, because every visit of a pair counts the correlated
returns of the early, worse ε-greedy policies again (the average over all episodes never forgets them), where
first-visit counts one return per episode. The cliff effect reproduces: path distance 2.61 vs 1.14, falls
45 vs 173, online return −29.1 vs −49.3. Some SARSA agents' final greedy policy loops before the goal (greedy
return −43 ± 10): constant α = 0.5 keeps the tables moving, and SARSA's values are those of the ε-greedy
policy, not the greedy one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import gymnasium
import torch

from udl.checks import at_least, in_range
from udl.experiments._tabular_rl import near_optimal_verdict, plot_grid_values, plot_path
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import (
    PenguinOnIce,
    greedy_policy,
    mc_control,
    modal_path,
    q_learning,
    sarsa,
    solve_policy_value,
    tabular_mdp,
    uniform_policy,
    value_iteration,
)
from udl.stats import Verdict, mean_se, unpaired_difference

CHAPTER = 19
SECTION = "19.3.2"
SUMMARY = "MC, SARSA and Q-learning reach the DP optimum; SARSA walks a safer path along the cliff"
CONTEXT = (
    "Without a model, the agent learns action values from experience: Monte Carlo methods average the returns "
    "of whole episodes, temporal-difference methods bootstrap from the next state's value, on-policy (SARSA) "
    "or off-policy (Q-learning). On-policy learning accounts for its own exploration, so it prefers paths on "
    "which an exploratory slip costs little."
)
CLIFF_SHAPE = (4, 12)
CLIFF_CELLS = tuple(range(37, 47))
"""CliffWalking's cliff: row 3, columns 1–10"""
CLIFF_START, CLIFF_GOAL, CLIFF_OPTIMAL_RETURN = 36, 47, -13.0


@dataclass(frozen=True)
class Config:
    slip: float = 0.5
    """probability that the ice replaces the penguin's action by another"""
    gamma: float = 0.9
    """the penguin's discount factor γ"""
    agents: int = 16
    """independent learners per method (the claims' seeds), run as one batch"""
    td_steps: int = 60_000
    """environment steps per SARSA / Q-learning agent on the penguin"""
    epsilon: float = 0.1
    """exploration probability of SARSA and Q-learning on the penguin"""
    lr: float = 1.0
    """step-size scale: α = lr · N(s, a)^−lr_power"""
    lr_power: float = 0.7
    """decay exponent of the step size (0: constant)"""
    mc_updates: int = 600
    """Monte Carlo policy updates per agent"""
    mc_episodes_per_update: int = 25
    """episodes averaged in per Monte Carlo update (sampled in parallel)"""
    mc_epsilon: float = 0.2
    """exploration probability of Monte Carlo control"""
    cliff_steps: int = 10_000
    """environment steps per agent on CliffWalking"""
    cliff_epsilon: float = 0.1
    """ε of both learners on CliffWalking (Sutton & Barto: 0.1)"""
    cliff_lr: float = 0.5
    """constant step size on CliffWalking (Sutton & Barto: 0.5)"""
    seed: int = 0
    """seed of every learner"""

    def __post_init__(self) -> None:
        in_range(self, slip=(0, 1), gamma=(0, 0.999), epsilon=(0, 1), mc_epsilon=(0, 1), closed_low=True)
        in_range(self, cliff_epsilon=(0, 1), lr_power=(0, 1), closed_low=True)
        in_range(self, lr=(0, 1), cliff_lr=(0, 1))
        at_least(self, 1, "agents", "td_steps", "mc_updates", "mc_episodes_per_update", "cliff_steps")


PRESETS = {
    "smoke": Config(agents=4, td_steps=1500, mc_updates=20, mc_episodes_per_update=5, cliff_steps=1500),
    "quick": Config(),
    "full": Config(
        agents=32, td_steps=200_000, mc_updates=2000, mc_episodes_per_update=50, cliff_steps=50_000
    ),
}


def safer_verdict(sarsa_values: list[float], q_values: list[float]) -> Verdict:
    """SARSA's measurement exceeds Q-learning's (unpaired over agents, > 2 SE)."""
    return unpaired_difference(sarsa_values, q_values).verdict


def cliff_distance(path: list[int]) -> float:
    """Mean Manhattan distance of a path's cells to the nearest cliff cell of CliffWalking."""
    cols = CLIFF_SHAPE[1]
    cliff = torch.tensor([(c // cols, c % cols) for c in CLIFF_CELLS])
    cells = torch.tensor([(s // cols, s % cols) for s in path])
    return float((cells.unsqueeze(1) - cliff.unsqueeze(0)).abs().sum(-1).min(1).values.double().mean())


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)
    env = PenguinOnIce(slip=cfg.slip)
    penguin = env.mdp(cfg.gamma)
    v_star = value_iteration(penguin).values
    v_uniform = solve_policy_value(penguin, uniform_policy(penguin))
    tolerance = 0.05 * float(v_star[0] - v_uniform[0])

    # -- 1. every method against the DP optimum on the penguin --------------------------------------------------
    td: dict[str, Any] = dict(agents=cfg.agents, steps=cfg.td_steps, epsilon=cfg.epsilon, lr=cfg.lr)
    td.update(lr_power=cfg.lr_power, record_every=max(1, cfg.td_steps // 20))
    mc: dict[str, Any] = dict(agents=cfg.agents, updates=cfg.mc_updates, epsilon=cfg.mc_epsilon)
    mc.update(episodes_per_update=cfg.mc_episodes_per_update, record_every=max(1, cfg.mc_updates // 20))
    learners = {
        "mc-first-visit": lambda: mc_control(penguin, first_visit=True, generator=g, **mc),
        "mc-every-visit": lambda: mc_control(penguin, first_visit=False, generator=g, **mc),
        "sarsa": lambda: sarsa(penguin, generator=g, **td),
        "q-learning": lambda: q_learning(penguin, generator=g, **td),
    }
    curves = {}
    with run.progress(len(learners), "tabular learners") as bar:
        for i, (name, learn) in enumerate(learners.items()):
            res = learn()
            values = solve_policy_value(penguin, greedy_policy(res.snapshots))[..., 0]  # (K, B) in one solve
            gaps = (v_star[0] - values).tolist()
            curves[name] = (res.snapshot_steps, [mean_se(row).mean for row in gaps])
            s = mean_se(gaps[-1])
            run.claim(
                f"{name}-near-optimal",
                f"{name} reaches the DP optimum on the penguin: the greedy policy's start value is within 5% of "
                f"v*(0) − v_uniform(0) of v*(0) ({cfg.agents} agents, mean + 2 SE)",
                holds=near_optimal_verdict(gaps[-1], tolerance),
                measured={"gap": s.to_json(), "tolerance": tolerance, "v_star_start": float(v_star[0])},
                expected=f"mean + 2 SE ≤ {tolerance:.4f}",
            )
            run.summary(**{f"{name.replace('-', '_')}_gap": s.mean})
            bar.update(i + 1)

    # -- 2. the cliff-walking effect ----------------------------------------------------------------------------
    cliff = tabular_mdp(gymnasium.make("CliffWalking-v1"), gamma=1.0)
    kw: dict[str, Any] = dict(
        agents=cfg.agents, steps=cfg.cliff_steps, epsilon=cfg.cliff_epsilon, lr=cfg.cliff_lr
    )
    cliff_runs = {
        "sarsa": sarsa(cliff, generator=g, **kw),
        "q-learning": q_learning(cliff, generator=g, **kw),
    }
    measures: dict[str, dict[str, list[float]]] = {}
    paths = {}
    for name, res in cliff_runs.items():
        policies = greedy_policy(res.q)
        agent_paths = [modal_path(cliff, policies[b], CLIFF_START) for b in range(cfg.agents)]
        returns = [float(sum(cliff.R[s, int(policies[b, s].argmax()), t] for s, t in itertools.pairwise(p)))
                   for b, p in enumerate(agent_paths)]  # fmt: skip
        half = res.episode_returns.shape[1] // 2
        measures[name] = {
            "distance": [cliff_distance(p) for p in agent_paths],
            "falls": (res.rewards == -100).sum(1).double().tolist(),
            "online_return": res.episode_returns[:, half:].mean(1).tolist(),
            "greedy_return": returns,
        }
        paths[name] = agent_paths[0]
    sa, ql = measures["sarsa"], measures["q-learning"]
    claims = (
        ("sarsa-safer-path", "SARSA's greedy path keeps farther from the cliff than Q-learning's (mean distance "
         "of its cells to the cliff)", safer_verdict(sa["distance"], ql["distance"]),
         unpaired_difference(sa["distance"], ql["distance"])),
        ("q-learning-falls-more", "Q-learning falls into the cliff more often than SARSA during ε-greedy training",
         safer_verdict(ql["falls"], sa["falls"]), unpaired_difference(ql["falls"], sa["falls"])),
        ("sarsa-higher-online-return", "SARSA's online return per training episode (second half) is higher than "
         "Q-learning's", safer_verdict(sa["online_return"], ql["online_return"]),
         unpaired_difference(sa["online_return"], ql["online_return"])),
    )  # fmt: skip
    for cid, statement, verdict, comparison in claims:
        run.claim(
            cid,
            f"CliffWalking, ε = {cfg.cliff_epsilon}, α = {cfg.cliff_lr}, {cfg.cliff_steps} steps: {statement}: "
            + comparison.describe(),
            holds=verdict,
            measured=comparison.to_json(),
            expected="difference > 2 SE",
        )
    ql_gap = [CLIFF_OPTIMAL_RETURN - r for r in ql["greedy_return"]]
    run.claim(
        "q-learning-optimal-path",
        "Q-learning's greedy path is the optimal one along the cliff edge (return −13; mean gap + 2 SE ≤ 0.5)",
        holds=near_optimal_verdict(ql_gap, 0.5),
        measured={
            "greedy_return": mean_se(ql["greedy_return"]).to_json(),
            "sarsa_greedy_return": mean_se(sa["greedy_return"]).to_json(),
        },
        expected="mean gap + 2 SE ≤ 0.5",
    )
    run.summary(
        sarsa_cliff_distance=mean_se(sa["distance"]).mean,
        q_learning_cliff_distance=mean_se(ql["distance"]).mean,
        sarsa_falls=mean_se(sa["falls"]).mean,
        q_learning_falls=mean_se(ql["falls"]).mean,
    )

    # -- figures ------------------------------------------------------------------------------------------------
    fig, axes = subplots(1, 2, width=4.8)
    ax = axes[0, 0]
    for name, (steps, gap) in curves.items():
        if name.startswith("mc"):
            continue
        ax.plot(steps, gap, "o-", markersize=3, label=name)
    ax.axhline(tolerance, color="black", linestyle=":", label="5% tolerance")
    ax.set(xlabel="environment steps per agent", ylabel="v*(0) − v^greedy(0)", title="TD control, penguin")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for name in ("mc-first-visit", "mc-every-visit"):
        ax.plot(*curves[name], "o-", markersize=3, label=name)
    ax.axhline(tolerance, color="black", linestyle=":", label="5% tolerance")
    ax.set(xlabel="episodes per agent", ylabel="v*(0) − v^greedy(0)", title="Monte Carlo control, penguin")
    ax.legend(fontsize=8)
    run.figure("learning-curves", fig)

    fig, axes = subplots(2, 1, width=9.0, height=3.2)
    ax = axes[0, 0]
    q_sarsa = cliff_runs["sarsa"].q[0]
    title = "CliffWalking: SARSA's values and greedy policy (agent 0), both greedy paths"
    plot_grid_values(ax, q_sarsa.max(-1).values, CLIFF_SHAPE, policy=q_sarsa, holes=CLIFF_CELLS,
                     goal=CLIFF_GOAL, title=title, fmt=".0f", no_arrow=CLIFF_CELLS)  # fmt: skip
    plot_path(ax, paths["sarsa"], CLIFF_SHAPE, label="SARSA's greedy path", color="#3b5ba5")
    plot_path(ax, paths["q-learning"], CLIFF_SHAPE, label="Q-learning's greedy path", color="#b3261e")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[1, 0]
    for name, res in cliff_runs.items():
        curve = res.episode_returns.mean(0)
        k = max(1, curve.shape[0] // 50)
        smooth = torch.nn.functional.avg_pool1d(curve.view(1, 1, -1), k, stride=k).view(-1)
        ax.plot((torch.arange(smooth.shape[0]) + 0.5) * k, smooth, label=name)
    ax.set(xlabel="episode", ylabel="online return per episode", title="CliffWalking: return while learning",
           ylim=(-120, 0))  # fmt: skip
    ax.legend(fontsize=8)
    run.figure("cliff-walking", fig)
