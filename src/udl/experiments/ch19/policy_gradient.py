"""Policy gradients on CartPole-v1 (UDL sections 19.5-19.6): a baseline lowers REINFORCE's variance; A2C learns.

Protocol.

1. *Variance* (sections 19.5.3-19.5.4). For each seed, a freshly initialized policy (``udl.rl.ActorCritic``, 64-64 tanh)
   plays ``fit_episodes`` episodes, on which its critic v[s] is regressed to the reward to go (γ = 0.99); then
   ``measure_episodes`` new episodes give one REINFORCE gradient estimate each
   (``udl.rl.policy_gradient.per_episode_gradients``), without and with b = v[s]. The baseline was fitted on other
   episodes, so it cannot depend on the measured actions and leaves the estimate unbiased (unit-tested against
   the exact gradient of a small MDP). Measured: the total variance Σ_params Var_i[g_i] of each, their ratio.
2. *Learning speed*. REINFORCE with and without the learned value baseline (``udl.rl.policy_gradient.reinforce``,
   Adam at ``learning_rate`` for both, one episode per environment per update) for ``iterations`` updates;
   measured: the mean training return over all updates (the area under the learning curve), paired by seed.
3. *A2C* (section 19.6): ``udl.rl.policy_gradient.a2c`` (n-step rollouts, GAE(λ = 0.95), entropy bonus),
   ``a2c_steps`` environment steps; its sampled policy plays ``test_episodes`` test episodes, compared with the
   initial policy on the same test episodes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from udl.checks import in_range
from udl.experiments._recipes import claim_comparison, seed_range
from udl.report import Run
from udl.report.figures import subplots
from udl.rl import VectorCartPole, collect_episodes, episode_returns
from udl.rl.policy_gradient import (
    A2CConfig,
    ActorCritic,
    ReinforceConfig,
    a2c,
    fit_value,
    per_episode_gradients,
    reinforce,
)
from udl.stats import Comparison, Verdict, mean_se, paired_difference

CHAPTER = 19
SECTION = "19.5"
SUMMARY = "A value baseline cuts REINFORCE's gradient variance and speeds learning; A2C learns CartPole"
CONTEXT = (
    "Section 19.5 derives the policy gradient (REINFORCE): an unbiased but noisy Monte Carlo estimate. "
    "Subtracting a baseline that does not depend on the action keeps it unbiased and lowers its variance; "
    "actor-critic methods go further and bootstrap the return from a learned value function."
)

GAMMA = 0.99


@dataclass(frozen=True)
class Config:
    seeds: int = 3
    """seeds (policies, trainings), paired across arms"""
    seed: int = 0
    """first seed"""
    fit_episodes: int = 64
    """episodes the variance baseline is fitted on"""
    measure_episodes: int = 256
    """episodes whose per-episode gradient estimates are measured"""
    iterations: int = 60
    """REINFORCE updates per training"""
    num_envs: int = 16
    """episodes per REINFORCE update, and A2C's environments"""
    learning_rate: float = 5e-3
    """Adam's learning rate of REINFORCE's policy (both arms)"""
    a2c_steps: int = 100_000
    """A2C's environment steps"""
    test_episodes: int = 100
    """episodes the A2C policy (and the initial one) are tested on"""

    def __post_init__(self) -> None:
        in_range(
            self, seeds=(0, 100), fit_episodes=(0, 4096), measure_episodes=(1, 4096), iterations=(0, 10**6)
        )
        in_range(
            self, num_envs=(0, 4096), learning_rate=(0, 1), a2c_steps=(0, 10**8), test_episodes=(0, 4096)
        )


PRESETS = {
    "smoke": Config(
        seeds=1,
        fit_episodes=8,
        measure_episodes=16,
        iterations=3,
        num_envs=4,
        a2c_steps=2048,
        test_episodes=8,
    ),
    "quick": Config(),
    "full": Config(seeds=5, iterations=200, a2c_steps=500_000),
}


def variance_verdict(plain: list[float], baseline: list[float]) -> Verdict:
    """The baseline's total gradient variance is below the plain estimate's, paired by seed (> 2 SE)."""
    return paired_difference(plain, baseline).verdict


def faster(with_baseline: list[float], without: list[float]) -> Comparison:
    """Does REINFORCE with the baseline have the higher mean training return? with − without, paired by seed; holds
    at > 2 SE."""
    return paired_difference(with_baseline, without)


def a2c_verdict(trained: list[float], initial: list[float]) -> Verdict:
    """A2C's test return exceeds its initial policy's, paired by seed (> 2 SE)."""
    return paired_difference(trained, initial).verdict


def run(cfg: Config, run: Run) -> None:
    dev = run.device
    seeds = list(seed_range(cfg))
    var_plain, var_base, ratios = [], [], []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ActorCritic(4, 2).to(dev)
        g = torch.Generator(device=dev).manual_seed(seed)
        policy = functools.partial(model.act, generator=g)
        with torch.no_grad():
            fit = collect_episodes(VectorCartPole(cfg.fit_episodes, device=dev), policy, seed=seed)
            measure = collect_episodes(
                VectorCartPole(cfg.measure_episodes, device=dev), policy, seed=10**6 + seed
            )
        fit_value(model, fit, GAMMA)
        baseline = model.value(measure.obs).detach()
        plain = per_episode_gradients(model, measure, GAMMA)
        based = per_episode_gradients(model, measure, GAMMA, baseline)
        var_plain.append(float(plain.var(0).sum()))
        var_base.append(float(based.var(0).sum()))
        ratios.append(var_plain[-1] / var_base[-1])
        run.log(seed, gradient_variance_plain=var_plain[-1], gradient_variance_baseline=var_base[-1])
    run.claim(
        "baseline-reduces-variance",
        f"A learned value baseline lowers the total variance of REINFORCE's per-episode gradient estimate on "
        f"CartPole ({cfg.measure_episodes} episodes per policy, {cfg.seeds} initial policies, paired, > 2 SE)",
        holds=variance_verdict(var_plain, var_base),
        measured={"variance_ratio_per_seed": ratios, "plain": var_plain, "baseline": var_base},
        expected="plain − baseline > 2 SE (ratio > 1)",
    )

    curves: dict[str, list[list[float]]] = {"value": [], "none": []}
    for seed in seeds:
        for kind in ("value", "none"):
            rcfg = ReinforceConfig(iterations=cfg.iterations, learning_rate=cfg.learning_rate, baseline=kind)
            _, result = reinforce(
                VectorCartPole(cfg.num_envs, device=dev),
                rcfg,
                seed=seed,
                run=run,
                name=f"reinforce-{kind}-seed{seed}",
                log_every=1,
            )
            curves[kind].append([h["episodic_return"] for h in result.history])
    auc = {k: [sum(c) / len(c) for c in v] for k, v in curves.items()}
    speedup = faster(auc["value"], auc["none"])
    claim_comparison(
        run,
        "baseline-speeds-learning",
        f"REINFORCE with a value baseline learns faster: higher mean training return over {cfg.iterations} "
        f"updates ({cfg.seeds} seeds, paired, > 2 SE)",
        speedup,
        expected="difference > 2 SE",
    )

    trained: list[float] = []
    initial: list[float] = []
    for seed in seeds:
        model, _ = a2c(
            VectorCartPole(cfg.num_envs, device=dev),
            A2CConfig(total_steps=cfg.a2c_steps),
            seed=seed,
            run=run,
            name=f"a2c-seed{seed}",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            start = ActorCritic(4, 2).to(dev)
        test_env = VectorCartPole(cfg.test_episodes, device=dev)
        for net, out in ((model, trained), (start, initial)):
            act = functools.partial(net.act, generator=torch.Generator(device=dev).manual_seed(seed))
            out.append(float(episode_returns(test_env, act, seed=2 * 10**6 + seed).mean()))
    run.claim(
        "a2c-learns",
        f"A2C learns CartPole: after {cfg.a2c_steps} environment steps its test return over {cfg.test_episodes} "
        f"episodes exceeds the initial policy's ({cfg.seeds} seeds, paired, > 2 SE)",
        holds=a2c_verdict(trained, initial),
        measured={"a2c_per_seed": trained, "initial_per_seed": initial, **mean_se(trained).to_json()},
        expected="difference > 2 SE",
    )
    run.summary(
        variance_ratio_mean=sum(ratios) / len(ratios),
        reinforce_value_mean_return=sum(auc["value"]) / len(seeds),
        reinforce_plain_mean_return=sum(auc["none"]) / len(seeds),
        a2c_test_return_mean=sum(trained) / len(trained),
    )

    fig, axes = subplots(1, 2, width=5.0)
    ax = axes[0, 0]
    ax.bar(["no baseline", "value baseline"], [sum(var_plain) / len(seeds), sum(var_base) / len(seeds)])
    ax.set(
        ylabel="total variance of per-episode gradient",
        title=f"REINFORCE variance (ratio {sum(ratios) / len(ratios):.1f}x)",
    )
    ax.set_yscale("log")
    ax = axes[0, 1]
    for kind, colour in (("value", "#3b5ba5"), ("none", "#e07b39")):
        for i, c in enumerate(curves[kind]):
            ax.plot(
                range(1, len(c) + 1),
                c,
                color=colour,
                alpha=0.6,
                label=f"baseline: {kind}" if i == 0 else None,
            )
    ax.set(xlabel="update", ylabel="mean training return", title="REINFORCE on CartPole-v1")
    ax.legend(fontsize=8)
    run.figure("policy-gradient", fig)
