"""REINFORCE against the exact policy gradient of a tiny MDP (float64), baselines, reward to go, GAE, A2C."""

from __future__ import annotations

import pytest
import torch
from torch.func import grad, vmap

from udl.rl import VectorCartPole, episode_returns
from udl.rl.policy_gradient import (
    A2CConfig,
    ReinforceConfig,
    a2c,
    gae,
    reinforce,
    reinforce_loss,
    reward_to_go,
)

from ._memory_run import assert_kill_and_resume_match

# a 2-state, 2-action MDP with horizon 3 and a tabular softmax policy π[a|s] = softmax(θ[s])
P = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.1, 0.9]]], dtype=torch.float64)  # P[s, a, s']
R = torch.tensor([[1.0, 0.0], [-1.0, 2.0]], dtype=torch.float64)  # r[s, a]
T, GAMMA = 3, 0.9
THETA = torch.tensor([[0.3, -0.2], [0.1, 0.5]], dtype=torch.float64)


def exact_values(theta: torch.Tensor) -> list[torch.Tensor]:
    """V_t(s) for t = 0..T (V_T = 0) by backward induction: differentiable in θ."""
    pi = theta.softmax(-1)
    values = [torch.zeros(2, dtype=torch.float64)]
    for _ in range(T):
        q = R + GAMMA * P @ values[0]  # (s, a)
        values.insert(0, (pi * q).sum(-1))
    return values


def sample_episodes(theta: torch.Tensor, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    pi = theta.softmax(-1)
    s = torch.zeros(n, dtype=torch.long)
    states, actions, rewards = [], [], []
    for _ in range(T):
        a = torch.multinomial(pi[s], 1, generator=generator).squeeze(1)
        states.append(s)
        actions.append(a)
        rewards.append(R[s, a])
        s = torch.multinomial(P[s, a], 1, generator=generator).squeeze(1)
    return torch.stack(states), torch.stack(actions), torch.stack(rewards)  # (T, n)


def per_episode_gradients(baseline: bool) -> tuple[torch.Tensor, torch.Tensor]:
    states, actions, rewards = sample_episodes(THETA, 40_000, torch.Generator().manual_seed(0))
    returns = reward_to_go(rewards, GAMMA)
    values = torch.stack(exact_values(THETA)[:T])  # (T, 2)
    b = values.gather(1, states) if baseline else None  # the exact state value v_t[s_t]: action-independent

    def loss(theta, s, a, g, bb):
        log_prob = theta.log_softmax(-1)[s, a].unsqueeze(1)  # (T, 1): one episode
        return reinforce_loss(
            log_prob,
            g.unsqueeze(1),
            torch.ones_like(log_prob),
            None if bb is None else bb.unsqueeze(1),
            GAMMA,
        )

    in_dims = (None, 1, 1, 1, 1 if b is not None else None)
    grads = -vmap(grad(loss), in_dims=in_dims)(
        THETA, states, actions, returns, b
    )  # (n, 2, 2): ascent direction
    exact = torch.func.grad(lambda th: exact_values(th)[0][0])(THETA)
    return grads.flatten(1), exact.flatten()


@pytest.mark.parametrize("baseline", [False, True])
def test_reinforce_is_unbiased(baseline: bool) -> None:
    grads, exact = per_episode_gradients(baseline)
    mean, se = grads.mean(0), grads.std(0) / grads.shape[0] ** 0.5
    assert torch.all((mean - exact).abs() < 4 * se), (mean, exact, se)
    assert (
        exact.abs().min() > 4 * se.max()
    )  # the test has the power to tell a wrong gradient from the right one


def test_baseline_lowers_the_variance() -> None:
    plain, _ = per_episode_gradients(False)
    based, _ = per_episode_gradients(True)
    assert based.var(0).sum() < 0.5 * plain.var(0).sum()


def test_reward_to_go_and_gae_against_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    r, v, nv = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    term = torch.rand(6, 3, generator=g) < 0.2
    done = term | (torch.rand(6, 3, generator=g) < 0.1)
    gamma, lam = 0.9, 0.7
    G = reward_to_go(r, gamma)
    brute = torch.stack([sum(gamma ** (k - t) * r[k] for k in range(t, 6)) for t in range(6)])
    torch.testing.assert_close(G, brute)
    delta = r + gamma * (~term) * nv - v
    expected = torch.zeros_like(r)
    for i in range(3):
        for t in range(6):
            total, scale = 0.0, 1.0
            for k in range(t, 6):
                total = total + scale * delta[k, i]
                if done[k, i]:
                    break
                scale *= gamma * lam
            expected[t, i] = total
    torch.testing.assert_close(gae(r, v, nv, term, done, gamma, lam), expected)
    torch.testing.assert_close(gae(r, v, nv, term, done, gamma, 0.0), delta)


def test_a2c_learns_cartpole_and_resumes(tmp_path) -> None:
    cfg = A2CConfig(total_steps=40_960)
    model, _ = a2c(VectorCartPole(16), cfg, seed=0, log_every=20)
    g = torch.Generator().manual_seed(1)
    returns = episode_returns(VectorCartPole(50), lambda o: model.act(o, g), seed=7)
    assert returns.mean() > 60  # a uniformly random policy averages about 22
    small = A2CConfig(total_steps=16 * 16 * 30)
    kwargs = {"cfg": small, "seed": 2, "log_every": 5, "checkpoint_every": 10}
    assert_kill_and_resume_match(
        lambda **kw: a2c(VectorCartPole(16), **kw), tmp_path, kill_at=15, resumed_from=10, **kwargs
    )


def test_reinforce_runs_both_ways() -> None:
    for baseline in ("none", "value"):
        _, result = reinforce(
            VectorCartPole(8), ReinforceConfig(iterations=4, baseline=baseline), seed=0, log_every=2
        )
        assert len(result.history) == 2 and all(
            torch.isfinite(torch.tensor(h["policy_loss"])) for h in result.history
        )


def test_configs_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="baseline"):
        ReinforceConfig(baseline="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gae_lambda"):
        A2CConfig(gae_lambda=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        a2c(VectorCartPole(4), A2CConfig(total_steps=10), seed=0)


def test_per_episode_gradients_average_to_the_batch_gradient() -> None:
    from udl.rl import collect_episodes
    from udl.rl.policy_gradient import ActorCritic, per_episode_gradients

    torch.manual_seed(0)
    model = ActorCritic(4, 2, (16,))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        ep = collect_episodes(VectorCartPole(6), lambda o: model.act(o, g), seed=0)
    baseline = model.value(ep.obs).detach()
    rows = per_episode_gradients(model, ep, 0.99, baseline)
    log_prob = model.policy(ep.obs).log_prob(ep.action)
    loss = reinforce_loss(log_prob, reward_to_go(ep.reward, 0.99), ep.alive.float(), baseline)
    batch = torch.autograd.grad(-loss, list(model.actor.parameters()))
    torch.testing.assert_close(rows.mean(0), torch.cat([b.flatten() for b in batch]), atol=1e-5, rtol=1e-4)
