"""Offline RL on CartPole-v1 (UDL section 19.7): conservative Q-learning beats behaviour cloning and naive
off-policy Q-learning on a fixed data set from a mediocre behaviour policy.

Protocol. The behaviour policy pushes the cart towards the side the pole leans to (a = 1 iff θ > 0: it
ignores the velocities and averages about 43 steps), with each action replaced by a uniformly random one with
probability ``behaviour_epsilon``; it logs ``dataset_size`` transitions once (``udl.rl.offline.log_dataset``,
10 environments). From that data alone, for each seed: behaviour cloning (cross-entropy on the logged
actions), naive off-policy Q-learning (DQN's TD loss with a target network, no interaction) and CQL(H)
(the same plus α · (log Σ_a exp q[s, a] − q[s, a_data]), Kumar et al., 2020), each for ``steps`` gradient steps
with the same 120-84 MLP, Adam at 2.5e-4 and batches of 128. The greedy policy of each plays
``test_episodes`` test episodes (the same start states for all). CQL's α is fixed in advance at 1 (no
selection).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from udl.checks import in_range
from udl.experiments._recipes import seed_range
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import VectorCartPole, episode_returns, greedy_actor
from udl.rl.offline import OfflineConfig, behaviour_cloning, log_dataset, noisy_policy, offline_q_learning
from udl.stats import Verdict, all_of, mean_se, paired_difference

CHAPTER = 19
SECTION = "19.7"
SUMMARY = (
    "Offline RL: CQL beats behaviour cloning and naive off-policy Q-learning on a fixed CartPole data set"
)
CONTEXT = (
    "Section 19.7: offline RL learns from logged data without acting. Cloning the behaviour copies its "
    "mediocrity; off-policy Q-learning can improve on it in principle, but its max over actions queries "
    "values the data never corrects, and a conservative penalty keeps the values where the data has evidence."
)


@dataclass(frozen=True)
class Config:
    seeds: int = 3
    """seeds of the learners (initialization and mini-batches), paired across methods"""
    seed: int = 0
    """first seed"""
    dataset_seed: int = 0
    """seed of the logged data set (one data set for every learner)"""
    dataset_size: int = 50_000
    """logged transitions"""
    behaviour_epsilon: float = 0.3
    """probability that the behaviour policy's action is replaced by a random one"""
    steps: int = 20_000
    """gradient steps per learner"""
    cql_alpha: float = 1.0
    """CQL's penalty weight α"""
    test_episodes: int = 100
    """test episodes per policy"""

    def __post_init__(self) -> None:
        in_range(self, seeds=(0, 100), dataset_size=(0, 10**8), steps=(0, 10**8), test_episodes=(0, 4096))
        in_range(self, behaviour_epsilon=(0, 1), cql_alpha=(0, 1000), closed_low=True)


PRESETS = {
    "smoke": Config(seeds=1, dataset_size=2000, steps=100, test_episodes=8),
    "quick": Config(steps=4000),
    "full": Config(seeds=5),
}


def offline_verdict(cql: list[float], bc: list[float], naive: list[float]) -> Verdict:
    """CQL's test return exceeds both behaviour cloning's and naive Q-learning's, paired by seed (> 2 SE)."""
    return all_of(paired_difference(cql, bc).verdict, paired_difference(cql, naive).verdict)


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    g = torch.Generator(device=dev).manual_seed(cfg.dataset_seed)
    heuristic = lambda obs: (obs[:, 2] > 0).long()  # noqa: E731 - push towards the lean
    behaviour = noisy_policy(heuristic, cfg.behaviour_epsilon, 2, g)
    data = log_dataset(VectorCartPole(10, device=dev), behaviour, cfg.dataset_size, seed=cfg.dataset_seed)
    test_env = VectorCartPole(cfg.test_episodes, device=dev)
    test_seed = 10**6 + cfg.dataset_seed
    behaviour_return = float(episode_returns(test_env, behaviour, seed=test_seed).mean())
    logged_return = float(data.reward.sum() / data.terminated.sum().clamp_min(1))
    ocfg = OfflineConfig(steps=cfg.steps)
    returns: dict[str, list[float]] = {"bc": [], "naive_q": [], "cql": []}
    for seed in seed_range(cfg):
        bc, _ = behaviour_cloning(data, ocfg, num_actions=2, seed=seed, run=run, name=f"bc-seed{seed}")
        naive, _ = offline_q_learning(data, ocfg, num_actions=2, seed=seed, run=run, name=f"naive-seed{seed}")
        cql, _ = offline_q_learning(
            data, ocfg, num_actions=2, seed=seed, cql_alpha=cfg.cql_alpha, run=run, name=f"cql-seed{seed}"
        )
        for key, net in (("bc", bc), ("naive_q", naive), ("cql", cql)):
            returns[key].append(float(episode_returns(test_env, greedy_actor(net), seed=test_seed).mean()))
        run.log(seed, **{f"{k}_test_return": v[-1] for k, v in returns.items()})
    run.check(
        "dataset-size",
        "The logged data set holds the requested number of transitions (rounded up to whole vector steps)",
        error=len(data) - cfg.dataset_size,
        tolerance=9,
    )
    run.claim(
        "offline-beats-bc-and-naive",
        f"From {len(data)} transitions of a mediocre behaviour policy, CQL's greedy policy has a higher test "
        f"return than behaviour cloning's and than naive off-policy Q-learning's ({cfg.seeds} seeds, paired, "
        "> 2 SE each)",
        holds=offline_verdict(returns["cql"], returns["bc"], returns["naive_q"]),
        measured={
            **{f"{k}_per_seed": v for k, v in returns.items()},
            "cql_minus_bc": paired_difference(returns["cql"], returns["bc"]).to_json(),
            "cql_minus_naive": paired_difference(returns["cql"], returns["naive_q"]).to_json(),
            "behaviour_return": behaviour_return,
        },
        expected="CQL − BC > 2 SE and CQL − naive > 2 SE",
    )
    run.summary(
        behaviour_return=behaviour_return,
        logged_episode_return=logged_return,
        **{f"{k}_mean": mean_se(v).mean for k, v in returns.items()},
    )

    fig, axes = subplots(1, 1, width=5.5)
    ax = axes[0, 0]
    names = list(returns)
    for k, name in enumerate(names):
        ax.plot([k] * cfg.seeds, returns[name], "o", alpha=0.7)
        ax.plot([k - 0.2, k + 0.2], [mean_se(returns[name]).mean] * 2, color="black")
    ax.axhline(
        behaviour_return, color="#e07b39", linestyle=":", label=f"behaviour policy ({behaviour_return:.0f})"
    )
    ax.set_xticks(range(len(names)), ["behaviour cloning", "naive offline DQN", "CQL"])
    ax.set(
        ylabel=f"mean test return ({cfg.test_episodes} episodes)",
        title="Offline RL on a fixed CartPole data set",
    )
    ax.legend(fontsize=8)
    run.figure("offline-rl", fig)
