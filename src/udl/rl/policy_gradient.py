"""Policy gradients (UDL section 19.5): REINFORCE with and without a baseline, and advantage actor-critic.

REINFORCE (UDL section 19.5.2; Williams, 1992) ascends the expected return with the Monte Carlo estimate

    ∇θ E[r[τ]] ≈ (1/I) Σ_i Σ_t ∇θ log π[a_it | s_it, θ] · (G_it − b[s_it]),

where G_it = Σ_{k≥t} γ^{k−t} r_ik is the return from step t (reward to go) and b a baseline that does not
depend on the action (UDL sections 19.5.3-19.5.4): any such b leaves the estimate unbiased and a good one (the
state value v[s]) lowers its variance. :func:`reinforce_loss` is the surrogate whose gradient is this estimate.

Advantage actor-critic (A2C; Mnih et al., 2016; UDL section 19.6) replaces the Monte Carlo return by a
bootstrapped one from a learned critic v[s, φ]: n-step rollouts of every environment, advantages by generalized
advantage estimation (Schulman et al., 2016), A_t = Σ_k (γλ)^k δ_{t+k}, δ_t = r_t + γ v[s_{t+1}] − v[s_t]
(λ = 1: the n-step return minus v; λ = 0: the one-step TD error), the actor loss −A_t log π[a_t|s_t], the
critic loss (v[s_t] − (A_t + v[s_t]))² and an entropy bonus.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from torch.func import functional_call, grad, vmap

from udl.checks import at_least, in_unit_interval
from udl.optim import Adam
from udl.rl.episodes import Episodes, collect_episodes, successor_obs
from udl.train import OptimizerStep, TrainResult, train

__all__ = [
    "A2CConfig",
    "ActorCritic",
    "ReinforceConfig",
    "a2c",
    "fit_value",
    "gae",
    "per_episode_gradients",
    "reinforce",
    "reinforce_loss",
    "reward_to_go",
]


def _mlp(sizes: tuple[int, ...], out: int, gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.Tanh()]
    last = nn.Linear(sizes[-1], out)
    nn.init.orthogonal_(last.weight, gain)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class ActorCritic(nn.Module):
    """A categorical policy π[a | s, θ] (``actor``) and a state value v[s, φ] (``critic``), separate tanh MLPs."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.actor = _mlp((obs_dim, *hidden), num_actions, gain=0.01)
        self.critic = _mlp((obs_dim, *hidden), 1, gain=1.0)

    def policy(self, obs: Tensor) -> Categorical:
        return Categorical(logits=self.actor(obs))

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Sample a ~ π[· | s] with ``generator`` (Gumbel-max on the logits: one draw per row)."""
        logits = self.actor(obs)
        u = torch.rand(logits.shape, device=logits.device, generator=generator).clamp_min(1e-20)
        return (logits - torch.log(-torch.log(u))).argmax(-1)


def reward_to_go(reward: Tensor, gamma: float, done: Tensor | None = None) -> Tensor:
    """G_t = r_t + γ G_{t+1} along the time axis 0 (the return of UDL section 19.2), cut where ``done[t]``
    (G_{t+1} not added)."""
    out = torch.zeros_like(reward)
    running = torch.zeros_like(reward[0])
    for t in range(reward.shape[0] - 1, -1, -1):
        if done is not None:
            running = running * (~done[t]).to(reward.dtype)
        running = reward[t] + gamma * running
        out[t] = running
    return out


def reinforce_loss(
    log_prob: Tensor,
    returns: Tensor,
    mask: Tensor,
    baseline: Tensor | None = None,
    gamma: float | None = None,
) -> Tensor:
    """The surrogate −(1/I) Σ_i Σ_t γ^t log π[a_it | s_it] (G_it − b_it) (UDL sections 19.5.2-19.5.3), time-major
    (T, I) tensors, ``mask`` selecting the steps of each episode; its gradient is REINFORCE's estimate.

    With ``gamma`` the factor γ^t is kept and the estimate is unbiased for the gradient of the discounted
    return E[Σ_t γ^t r_t] (Sutton & Barto eq. 13.8); with ``gamma=None`` it is dropped, as implementations
    usually do (later steps then weigh as much as early ones: a biased but better-scaled direction)."""
    weight = returns if baseline is None else returns - baseline
    if gamma is not None:
        discount = gamma ** torch.arange(log_prob.shape[0], device=log_prob.device, dtype=log_prob.dtype)
        weight = weight * discount.unsqueeze(1)
    return -(log_prob * weight.detach() * mask).sum(0).mean()


@dataclass(frozen=True)
class ReinforceConfig:
    iterations: int = 200
    """policy updates, each on one episode per environment"""
    learning_rate: float = 1e-2
    """Adam's learning rate of the policy"""
    value_learning_rate: float = 1e-2
    """Adam's learning rate of the value baseline"""
    gamma: float = 0.99
    """discount factor γ"""
    baseline: Literal["none", "value"] = "value"
    """'value': a learned state value v[s] as baseline; 'none': plain REINFORCE"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of the policy and value networks"""

    def __post_init__(self) -> None:
        at_least(self, 1, "iterations")
        in_unit_interval(self, "learning_rate", "value_learning_rate", open_low=True)
        in_unit_interval(self, "gamma")
        if self.baseline not in ("none", "value"):
            raise ValueError(f"baseline must be 'none' or 'value', got {self.baseline!r}")


def _init(env: Any, hidden: tuple[int, ...], seed: int) -> ActorCritic:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ActorCritic(
            int(env.single_observation_space.shape[0]), int(env.single_action_space.n), hidden
        ).to(env.device)


def reinforce(
    env: Any,
    cfg: ReinforceConfig,
    *,
    seed: int = 0,
    run: Any = None,
    name: str = "reinforce",
    log_every: int = 10,
) -> tuple[ActorCritic, TrainResult]:
    """Train a policy by REINFORCE on ``env`` (a torch vector environment): each iteration plays one episode in
    every environment, then one policy step on :func:`reinforce_loss` and (with the value baseline) one step
    of the critic's regression on the returns. The baseline is evaluated before the critic's step on these
    episodes, so it does not depend on their actions. ``ActorCritic.critic`` is unused without a baseline."""
    model = _init(env, cfg.hidden, seed)
    generator = torch.Generator(device=env.device).manual_seed(seed)
    actor_opt = Adam(model.actor.parameters(), lr=cfg.learning_rate)
    critic_opt = Adam(model.critic.parameters(), lr=cfg.value_learning_rate)
    state: dict[str, Any] = {
        "model": model,
        "actor_opt": actor_opt,
        "critic_opt": critic_opt,
        "generator": generator,
        "reset": 0,
    }

    def step(_: Any) -> dict[str, Tensor | float]:
        state["reset"] = int(state["reset"]) + 1
        with torch.no_grad():
            ep = collect_episodes(
                env, lambda o: model.act(o, generator), seed=seed * 100_003 + state["reset"]
            )
        mask = ep.alive.to(ep.reward.dtype)
        returns = reward_to_go(ep.reward, cfg.gamma)
        log_prob = model.policy(ep.obs).log_prob(ep.action)  # (T, I)
        baseline = model.value(ep.obs) if cfg.baseline == "value" else None
        loss = reinforce_loss(log_prob, returns, mask, baseline)
        actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        actor_opt.step()
        metrics: dict[str, Tensor | float] = {
            "episodic_return": ep.returns.mean(),
            "policy_loss": loss.detach(),
        }
        if baseline is not None:
            value_loss = ((model.value(ep.obs) - returns).square() * mask).sum() / mask.sum()
            critic_opt.zero_grad(set_to_none=True)
            value_loss.backward()
            critic_opt.step()
            metrics["value_loss"] = value_loss.detach()
        return metrics

    result = train(
        step,
        itertools.repeat(None),
        steps=cfg.iterations,
        state=state,
        run=run,
        name=name,
        log_every=log_every,
    )
    return model, result


def per_episode_gradients(
    model: ActorCritic, episodes: Episodes, gamma: float, baseline: Tensor | None = None
) -> Tensor:
    """REINFORCE's gradient estimate of each episode alone, flattened over the actor's parameters: (I, P).

    Row i is ∇θ Σ_t log π[a_it | s_it, θ] (G_it − b_it) (the ascent direction; :func:`reinforce_loss` on one
    episode, negated), computed for all episodes at once with ``torch.func.vmap``. Their mean is the batch
    estimate and their spread its variance (UDL section 19.5.3: what a baseline reduces).
    """
    params = {k: v.detach() for k, v in model.actor.named_parameters()}
    returns = reward_to_go(episodes.reward, gamma)
    mask = episodes.alive.to(returns.dtype)
    weight = returns if baseline is None else returns - baseline

    def one(p: dict[str, Tensor], obs: Tensor, action: Tensor, w: Tensor, m: Tensor) -> Tensor:
        logits = functional_call(model.actor, p, (obs,))  # (T, A)
        log_prob = torch.log_softmax(logits, -1).gather(1, action.unsqueeze(1)).squeeze(1)
        return -reinforce_loss(log_prob.unsqueeze(1), w.unsqueeze(1), m.unsqueeze(1))

    grads = vmap(grad(one), in_dims=(None, 1, 1, 1, 1))(
        params, episodes.obs, episodes.action, weight.detach(), mask
    )
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def fit_value(
    model: ActorCritic, episodes: Episodes, gamma: float, *, steps: int = 300, lr: float = 1e-2
) -> list[float]:
    """Regress the critic v[s] on the reward to go of ``episodes`` (full-batch Adam); returns the losses."""
    optimizer = Adam(model.critic.parameters(), lr=lr)
    returns = reward_to_go(episodes.reward, gamma)
    mask = episodes.alive.to(returns.dtype)
    losses = []
    for _ in range(steps):
        loss = ((model.value(episodes.obs) - returns).square() * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def gae(
    reward: Tensor,
    value: Tensor,
    next_value: Tensor,
    terminated: Tensor,
    done: Tensor,
    gamma: float,
    lam: float,
) -> Tensor:
    """Generalized advantage estimates, time-major (T, N).

    δ_t = r_t + γ (1 − terminated_t) v[s′_t] − v[s_t] (``next_value`` is v of the step's own successor: the
    final observation where an episode ended, so a truncated episode still bootstraps), and
    A_t = δ_t + γλ (1 − done_t) A_{t+1}, the trace cut where an episode ended (terminated or truncated).
    """
    delta = reward + gamma * (1.0 - terminated.to(reward.dtype)) * next_value - value
    return reward_to_go(delta, gamma * lam, done)


@dataclass(frozen=True)
class A2CConfig:
    total_steps: int = 500_000
    """environment steps (summed over the environments)"""
    n_steps: int = 16
    """rollout length per environment between updates"""
    learning_rate: float = 1e-3
    """Adam's learning rate (actor and critic)"""
    gamma: float = 0.99
    """discount factor γ"""
    gae_lambda: float = 0.95
    """GAE's λ (1: n-step returns; 0: one-step TD errors)"""
    value_coef: float = 0.5
    """weight of the critic's loss"""
    entropy_coef: float = 0.01
    """weight of the entropy bonus"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden widths of actor and critic"""

    def __post_init__(self) -> None:
        at_least(self, 1, "total_steps", "n_steps")
        in_unit_interval(self, "learning_rate", open_low=True)
        in_unit_interval(self, "gamma", "gae_lambda")
        at_least(self, 0, "value_coef", "entropy_coef")
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")


def a2c(
    env: Any,
    cfg: A2CConfig,
    *,
    seed: int = 0,
    run: Any = None,
    name: str = "a2c",
    log_every: int | None = None,
    checkpoint_every: int | None = None,
) -> tuple[ActorCritic, TrainResult]:
    """Train an advantage actor-critic on the torch vector environment ``env`` (one update per n-step rollout
    of all environments), with :func:`udl.train.train` over a stream of rollouts; checkpoints resume exactly."""
    model = _init(env, cfg.hidden, seed)
    generator = torch.Generator(device=env.device).manual_seed(seed)
    optimizer = Adam(model.parameters(), lr=cfg.learning_rate)
    update = OptimizerStep(optimizer, clip_norm=cfg.max_grad_norm)
    obs, _ = env.reset(seed=seed)
    state = {"model": model, "optimizer": optimizer, "generator": generator, "env": env, "obs": obs}
    updates = cfg.total_steps // (cfg.n_steps * env.num_envs)
    if updates < 1:
        raise ValueError(f"total_steps ({cfg.total_steps}) is less than one rollout of n_steps x num_envs")

    def step(_: Any) -> dict[str, Tensor | float]:
        rows: list[tuple[Tensor, ...]] = []
        obs = state["obs"]
        finished = []
        with torch.no_grad():
            for _ in range(cfg.n_steps):
                action = model.act(obs, generator)
                next_obs, reward, terminated, truncated, info = env.step(action)
                successor = successor_obs(next_obs, info)
                rows.append((obs, action, reward, successor, terminated, terminated | truncated))
                finished.append(torch.where(info["_episode"], info["episode"]["r"], torch.nan))
                obs = next_obs
        state["obs"] = obs
        b_obs, b_action, b_reward, b_next, b_term, b_done = (torch.stack(c) for c in zip(*rows, strict=True))
        value = model.value(b_obs)  # (T, N)
        with torch.no_grad():
            advantage = gae(b_reward, value, model.value(b_next), b_term, b_done, cfg.gamma, cfg.gae_lambda)
            target = advantage + value
        dist = model.policy(b_obs)
        policy_loss = -(dist.log_prob(b_action) * advantage).mean()
        value_loss = (value - target).square().mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        update(loss)
        returns = torch.stack(finished)
        metrics: dict[str, Tensor | float] = {"loss": loss.detach(), "value_loss": value_loss.detach()}
        done_returns = returns[~returns.isnan()]
        if done_returns.numel():
            metrics["episodic_return"] = done_returns.mean()
        return metrics

    result = train(
        step,
        itertools.repeat(None),
        steps=updates,
        state=state,
        run=run,
        name=name,
        log_every=log_every,
        checkpoint_every=checkpoint_every,
    )
    return model, result
