"""Outer alignment: a proxy reward that agrees with the objective where it was checked, and not elsewhere (UDL
section 21.1.1).

Protocol: layouts of chapter 19's penguin on ice (``udl.rl.PenguinOnIce``: a ``size`` × ``size`` slippery grid,
``holes`` random holes with reward −2, start in the top-left corner); the **true objective** is to reach the fish
(+3, the episode ends there). The designer specifies a **proxy reward**: +3 (and the end of the episode) for
reaching the bottom-right corner, holes as before — written while looking at training layouts, in which the fish
always sits in that corner, so there the proxy MDP *is* the true MDP. In ``test_layouts`` layouts the fish is
elsewhere (a random free cell). An agent optimizes the proxy on each layout — exactly by value iteration
(``udl.rl.value_iteration``) and by Q-learning from experience (``udl.rl.q_learning``, ``agents`` learners,
``steps`` steps, chapter 19's decaying step size) — and its policy is scored under both rewards by exact policy
evaluation (``udl.rl.solve_policy_value``), from the start cell, γ = ``gamma``.

Check (exact): on the ``train_layouts`` layouts the proxy-optimal policy's true value equals the true optimum.
Claims: on the test layouts the proxy-optimal policy's true value falls short of the true optimum (the outer
alignment gap, mean over layouts > 2 SE, layouts as the units); the Q-learner does maximize the proxy (its proxy
value within ``tolerance`` of the proxy optimum: ``_tabular_rl.near_optimal_verdict``) while its true value stays
below the true optimum by more than 2 SE — optimizing the specified reward harder does not close the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from udl.checks import in_range
from udl.experiments._tabular_rl import near_optimal_verdict, plot_grid_values
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import PenguinOnIce, TabularMDP, greedy_policy, q_learning, solve_policy_value, value_iteration
from udl.stats import Comparison, Verdict, all_of, paired_difference

CHAPTER = 21
SECTION = "21.1.1"
SUMMARY = (
    "An agent maximizing a proxy reward that matches the goal on training layouts misses it on new layouts"
)
CONTEXT = (
    "Section 21.1.1: the alignment problem — a system optimizes the objective it was given, and a specified "
    "objective that agrees with what we want on the situations we checked can diverge from it elsewhere (outer "
    "alignment: the reward itself is wrong). Here the reward 'reach the bottom-right corner' stands in for 'reach "
    "the fish' because the fish was always there."
)


@dataclass(frozen=True)
class Config:
    size: int = 5
    """grid side (cells size × size)"""
    holes: int = 3
    """holes per layout"""
    slip: float = 0.2
    """probability that an action is replaced by another"""
    gamma: float = 0.9
    """discount factor"""
    train_layouts: int = 10
    """layouts with the fish in the bottom-right corner"""
    test_layouts: int = 10
    """layouts with the fish elsewhere"""
    agents: int = 4
    """Q-learners per test layout"""
    steps: int = 40_000
    """Q-learning environment steps per learner"""
    lr: float = 1.0
    """Q-learning step-size scale: α = lr · N(s, a)^−lr_power (chapter 19's tabular-control recipe)"""
    lr_power: float = 0.7
    """Q-learning step-size decay power"""
    tolerance: float = 0.1
    """the Q-learner 'maximizes the proxy' when its proxy value is within this of the proxy optimum"""
    seed: int = 0
    """seed of the layouts and the learners"""

    def __post_init__(self) -> None:
        in_range(self, slip=(0, 1), gamma=(0, 1), tolerance=(0, 10), lr=(0, 1), lr_power=(0, 1))
        if self.size < 3 or not 0 <= self.holes <= self.size**2 - 4:
            raise ValueError(f"need size >= 3 and 0 <= holes <= size² − 4, got {self.size}, {self.holes}")
        if min(self.train_layouts, self.test_layouts, self.agents, self.steps) < 1 or not self.gamma < 1:
            raise ValueError("need train_layouts, test_layouts, agents, steps >= 1 and gamma < 1")


PRESETS = {
    "smoke": Config(size=4, holes=2, train_layouts=2, test_layouts=2, agents=2, steps=2000),
    "quick": Config(),
    "full": Config(size=6, holes=5, train_layouts=50, test_layouts=50, agents=10, steps=100_000),
}


def alignment_gap_verdict(
    true_optimum: Sequence[float], proxy_policy_true: Sequence[float]
) -> tuple[Verdict, Comparison]:
    """The true value of the proxy-optimal policy falls short of the true optimum: paired over layouts, > 2 SE."""
    c = paired_difference(true_optimum, proxy_policy_true)
    return c.verdict, c


def learner_verdict(
    proxy_gaps: Sequence[float],
    true_optimum: Sequence[float],
    learner_true: Sequence[float],
    tolerance: float,
) -> tuple[Verdict, Comparison]:
    """The learner reaches the proxy optimum (``near_optimal_verdict`` of its proxy gaps) and its true value falls
    short of the true optimum (paired over layouts, > 2 SE): both must hold."""
    c = paired_difference(true_optimum, learner_true)
    return all_of(near_optimal_verdict(proxy_gaps, tolerance), c.verdict), c


def _layout(cfg: Config, g: torch.Generator, fish_in_corner: bool) -> PenguinOnIce:
    n, corner = cfg.size**2, cfg.size**2 - 1
    free = torch.randperm(n - 2, generator=g) + 1  # cells other than the start (0) and the corner
    if fish_in_corner:
        fish, holes = corner, free[: cfg.holes]
    else:
        fish, holes = int(free[0]), free[1 : 1 + cfg.holes]
    return PenguinOnIce(
        slip=cfg.slip, shape=(cfg.size, cfg.size), holes=tuple(int(h) for h in holes), fish=fish
    )


def proxy_mdp(env: PenguinOnIce, gamma: float) -> TabularMDP:
    """The designer's reward: the penguin with its fish moved to the bottom-right corner (same dynamics)."""
    corner = env.num_states - 1
    holes = tuple(h for h in env.holes if h != corner)
    proxy = PenguinOnIce(slip=env.slip, shape=env.shape, holes=holes, fish=corner, start=env.start)
    return proxy.mdp(gamma)


def run(cfg: Config, run: Run) -> None:
    g = torch.Generator().manual_seed(cfg.seed)  # the layouts
    learners = torch.Generator().manual_seed(cfg.seed + 1)  # the Q-learners' draws, apart from the layouts'
    train_error = 0.0
    for _ in range(cfg.train_layouts):
        env = _layout(cfg, g, fish_in_corner=True)
        true, proxy = env.mdp(cfg.gamma), proxy_mdp(env, cfg.gamma)
        start = env.start
        v_true = float(value_iteration(true).values[start])
        v_proxy_policy = float(solve_policy_value(true, value_iteration(proxy).policy)[start])
        train_error = max(train_error, abs(v_true - v_proxy_policy))
    run.check(
        "proxy-is-exact-on-training-layouts",
        f"On {cfg.train_layouts} training layouts (fish in the corner) the proxy-optimal policy attains the true "
        "optimum (|v*(s0) − v_true^π_proxy(s0)|)",
        error=train_error,
        tolerance=1e-9,
    )

    rows: dict[str, list[float]] = {
        k: [] for k in ("true_opt", "proxy_opt_true", "proxy_opt", "ql_proxy", "ql_true")
    }
    shown = None
    with run.progress(cfg.test_layouts, "test layouts") as bar:
        for i in range(cfg.test_layouts):
            env = _layout(cfg, g, fish_in_corner=False)
            true, proxy = env.mdp(cfg.gamma), proxy_mdp(env, cfg.gamma)
            s0 = env.start
            best_true, best_proxy = value_iteration(true), value_iteration(proxy)
            learned = greedy_policy(
                q_learning(
                    proxy,
                    agents=cfg.agents,
                    steps=cfg.steps,
                    lr=cfg.lr,
                    lr_power=cfg.lr_power,
                    generator=learners,
                ).q
            )  # (B, S, A)
            rows["true_opt"].append(float(best_true.values[s0]))
            rows["proxy_opt_true"].append(float(solve_policy_value(true, best_proxy.policy)[s0]))
            rows["proxy_opt"].append(float(best_proxy.values[s0]))
            rows["ql_proxy"].append(float(solve_policy_value(proxy, learned)[:, s0].mean()))
            rows["ql_true"].append(float(solve_policy_value(true, learned)[:, s0].mean()))
            run.log(i + 1, **{k: v[-1] for k, v in rows.items()})
            if shown is None:
                shown = (env, best_true, best_proxy, solve_policy_value(true, best_proxy.policy))
            bar.update(i + 1)

    verdict, c = alignment_gap_verdict(rows["true_opt"], rows["proxy_opt_true"])
    run.claim(
        "proxy-diverges-off-training",
        f"On {cfg.test_layouts} layouts with the fish elsewhere, the proxy-optimal policy's true value falls short of "
        "the true optimum (paired over layouts, > 2 SE)",
        holds=verdict,
        measured={
            "gap": c.to_json(),
            "described": c.describe(digits=3),
            "proxy_value_of_proxy_policy": sum(rows["proxy_opt"]) / cfg.test_layouts,
        },
        expected="a positive gap beyond 2 SE",
    )
    gaps = [a - b for a, b in zip(rows["proxy_opt"], rows["ql_proxy"], strict=True)]
    ql_verdict, ql_gap = learner_verdict(gaps, rows["true_opt"], rows["ql_true"], cfg.tolerance)
    run.claim(
        "learner-maximizes-proxy-not-goal",
        f"Q-learning on the proxy ({cfg.agents} learners × {cfg.steps} steps per layout) reaches the proxy optimum "
        f"(within {cfg.tolerance:g}, mean + 2 SE over layouts) while its true value stays below the true optimum "
        "(> 2 SE)",
        holds=ql_verdict,
        measured={
            "proxy_gaps": [round(x, 4) for x in gaps],
            "true_gap": ql_gap.to_json(),
            "true_gap_described": ql_gap.describe(digits=3),
        },
        expected=f"proxy gap ≤ {cfg.tolerance:g}, true gap > 2 SE",
    )
    run.summary(**{k: v for k, v in rows.items()})

    assert shown is not None
    env, best_true, best_proxy, v_proxy_true = shown
    fig, axes = subplots(1, 2, width=4.2)
    plot_grid_values(
        axes[0, 0],
        best_true.values,
        env.shape,
        policy=best_true.policy,
        holes=env.holes,
        goal=env.fish,
        title="true objective: optimal policy",
    )
    plot_grid_values(
        axes[0, 1],
        v_proxy_true,
        env.shape,
        policy=best_proxy.policy,
        holes=env.holes,
        goal=env.fish,
        title="proxy-optimal policy, true values",
    )
    run.figure("outer-alignment", fig)
