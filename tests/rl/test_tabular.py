"""Tabular RL against exact references: linear solves, brute force over policies, independent loops, and the
ε-soft Bellman fixed point for the learners."""

from __future__ import annotations

import itertools

import gymnasium
import pytest
import torch

import udl.rl as rl
from udl.rl import TabularMDP

GAMMA = 0.9


def random_mdp(S: int, A: int, seed: int, *, terminal_prob: float = 0.0, gamma: float = GAMMA) -> TabularMDP:
    """A random MDP; with ``terminal_prob`` > 0 the last state is terminal and every other (s, a) reaches it
    with at least that probability (episodes end)."""
    g = torch.Generator().manual_seed(seed)
    P = -torch.rand(S, A, S, generator=g, dtype=torch.float64).log()  # Dirichlet(1, ..., 1) rows
    P = P / P.sum(-1, keepdim=True)
    # rewards mostly set by (s, a), a little by s': learners see some reward noise, not much
    R = (
        torch.randn(S, A, 1, generator=g, dtype=torch.float64)
        + 0.2 * torch.randn(S, A, S, generator=g).double()
    )
    terminal = torch.zeros(S, dtype=torch.bool)
    if terminal_prob > 0:
        terminal[-1] = True
        P = (1 - terminal_prob) * P
        P[..., -1] += terminal_prob
        P[-1], R[-1] = 0.0, 0.0
        P[-1, :, -1] = 1.0
    initial = (~terminal).double() / (~terminal).sum()
    return TabularMDP(P, R, terminal, initial, gamma)


def random_policy(S: int, A: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(S, A, generator=g, dtype=torch.float64), -1)


def penguin() -> TabularMDP:
    return rl.PenguinOnIce(slip=0.5).mdp()


def frozen_lake() -> TabularMDP:
    return rl.tabular_mdp(gymnasium.make("FrozenLake-v1"), gamma=0.95)


# -- returns -------------------------------------------------------------------------------------------------
def test_discounted_returns_equal_the_direct_sum():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(3, 12, generator=g, dtype=torch.float64)
    G = rl.discounted_returns(r, 0.9)
    direct = torch.stack([(r[:, t:] * 0.9 ** torch.arange(12 - t).double()).sum(1) for t in range(12)], 1)
    torch.testing.assert_close(G, direct, rtol=1e-14, atol=1e-14)
    # episodes laid end to end: the return restarts after a done step
    dones = torch.zeros(3, 12, dtype=torch.bool)
    dones[:, 4] = True
    G = rl.discounted_returns(r, 0.9, dones)
    torch.testing.assert_close(G[:, 5:], rl.discounted_returns(r[:, 5:], 0.9), rtol=0, atol=0)
    torch.testing.assert_close(G[:, :5], rl.discounted_returns(r[:, :5], 0.9), rtol=0, atol=0)


def test_the_notebook_return():
    # notebook 19.1: the reward sequence [0 0 1 0 1 0 1 0 0 0] with γ = 0.9 has return 1.998 at time 0
    r = torch.tensor([0, 0, 1, 0, 1, 0, 1, 0, 0, 0], dtype=torch.float64)
    G = rl.discounted_returns(r, 0.9)
    assert G[0].item() == pytest.approx(0.9**2 + 0.9**4 + 0.9**6, rel=1e-14)
    assert G[0].item() == pytest.approx(1.998, abs=5e-4)


# -- evaluation ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [penguin, frozen_lake, lambda: random_mdp(6, 3, 1)])
def test_iterative_evaluation_equals_the_linear_solve(make):
    mdp = make()
    policy = random_policy(mdp.num_states, mdp.num_actions, 2)
    v_iter, sweeps = rl.policy_evaluation(mdp, policy, tol=1e-13)
    v_exact = rl.solve_policy_value(mdp, policy)
    assert (v_iter - v_exact).abs().max() < 1e-10 and sweeps > 10
    # and the solve satisfies the Bellman equation (UDL eq. 19.9) at every state
    q = rl.action_values(mdp, v_exact)
    assert ((policy * q).sum(-1) - v_exact).abs().max() < 1e-12


def test_evaluation_is_batched_over_policies():
    mdp = penguin()
    policies = torch.stack([random_policy(16, 4, k) for k in range(5)])
    batched = rl.solve_policy_value(mdp, policies)
    single = torch.stack([rl.solve_policy_value(mdp, p) for p in policies])
    torch.testing.assert_close(batched, single, rtol=1e-12, atol=1e-12)


def test_monte_carlo_returns_average_to_the_value():
    mdp = random_mdp(5, 2, 3, terminal_prob=0.3)
    policy = random_policy(5, 2, 4)
    g = torch.Generator().manual_seed(0)
    n = 4000
    _, _, r, alive = rl.rollout(mdp, policy.expand(n, -1, -1), 60, g)
    assert not alive[:, -1].any()  # every episode ended (0.7^60 is negligible)
    assert (r[~alive] == 0).all()
    G = rl.discounted_returns(r, GAMMA)[:, 0]
    v = rl.solve_policy_value(mdp, policy)
    expected = (mdp.initial * v).sum()
    se = G.std() / n**0.5
    assert abs(G.mean() - expected) < 4 * se


# -- planning ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [penguin, frozen_lake, lambda: random_mdp(7, 3, 5)])
def test_policy_and_value_iteration_agree(make):
    mdp = make()
    pi, vi = rl.policy_iteration(mdp), rl.value_iteration(mdp)
    assert (pi.values - vi.values).abs().max() < 1e-9
    q = rl.action_values(mdp, pi.values)
    # the two policies choose actions that are both optimal (they can only differ where actions tie)
    assert ((q.max(-1).values - (vi.policy * q).sum(-1)).abs().max()) < 1e-9
    assert ((q.max(-1).values - (pi.policy * q).sum(-1)).abs().max()) < 1e-9
    assert len(pi.history) < 20


def test_optimum_equals_brute_force_over_all_deterministic_policies():
    mdp = random_mdp(5, 3, 7)
    every = torch.tensor(list(itertools.product(range(3), repeat=5)))  # (243, S)
    values = rl.solve_policy_value(mdp, rl.deterministic_policy(every, 3))  # (243, S), one batched solve
    best = values.max(0).values
    vi = rl.value_iteration(mdp)
    assert (vi.values - best).abs().max() < 1e-9
    # one policy is optimal at every state at once, and it is the one value iteration returns
    dominant = ((values - best).abs().max(1).values < 1e-9).nonzero().squeeze(1)
    assert torch.equal(every[dominant[0]], vi.policy.argmax(-1))


def test_policy_improvement_theorem():
    for make in (penguin, frozen_lake, lambda: random_mdp(6, 4, 8)):
        mdp = make()
        for seed in range(5):
            old = random_policy(mdp.num_states, mdp.num_actions, seed)
            v_old = rl.solve_policy_value(mdp, old)
            v_new = rl.solve_policy_value(mdp, rl.policy_improvement(mdp, v_old))
            assert (v_new - v_old).min() > -1e-12
    # policy iteration's successive values rise monotonically
    history = rl.policy_iteration(penguin()).history
    assert all((b - a).min() > -1e-12 for a, b in itertools.pairwise(history))


def test_value_iteration_matches_a_plain_loop_over_the_gymnasium_table():
    env = gymnasium.make("FrozenLake-v1")
    table, gamma = env.unwrapped.P, 0.95
    v = [0.0] * 16
    for _ in range(2000):  # textbook value iteration written directly on the env's P dict
        v = [
            max(
                sum(p * (r + (0.0 if done else gamma * v[t])) for p, t, r, done in table[s][a])
                for a in range(4)
            )
            for s in range(16)
        ]
    ours = rl.value_iteration(rl.tabular_mdp(env, gamma)).values
    # the terminal cells have value 0 in both (the loop's "done" cut)
    assert (ours - torch.tensor(v, dtype=torch.float64)).abs().max() < 1e-10


def test_finite_horizon_dp():
    mdp = random_mdp(3, 2, 9)
    values, policies = rl.finite_horizon_dp(mdp, 2)
    # brute force over every non-stationary deterministic policy (π_0, π_1): 8 × 8 pairs
    r, M = mdp.expected_reward, mdp.continuation
    best = torch.full((3,), -float("inf"), dtype=torch.float64)
    for p0 in itertools.product(range(2), repeat=3):
        for p1 in itertools.product(range(2), repeat=3):
            s = torch.arange(3)
            v1 = r[s, torch.tensor(p1)]
            v0 = r[s, torch.tensor(p0)] + mdp.gamma * (M[s, torch.tensor(p0)] * v1).sum(-1)
            best = torch.maximum(best, v0)
    assert (values[0] - best).abs().max() < 1e-12
    assert torch.equal(values[-1], torch.zeros(3, dtype=torch.float64))
    # following the returned non-stationary policy (π_0 then π_1) earns exactly values[0]
    v1 = (policies[1] * r).sum(-1)
    v0 = (policies[0] * (r + mdp.gamma * torch.einsum("sat,t->sa", M, v1))).sum(-1)
    assert (v0 - values[0]).abs().max() < 1e-12
    # the horizon-H value converges to the infinite-horizon optimum: ‖v_0 − v*‖ ≤ γ^H ‖v*‖
    star = rl.value_iteration(penguin()).values
    for H in (1, 5, 20, 60):
        v0 = rl.finite_horizon_dp(penguin(), H)[0][0]
        assert (v0 - star).abs().max() <= 0.9**H * star.abs().max() + 1e-12
    with pytest.raises(ValueError, match="horizon"):
        rl.finite_horizon_dp(mdp, 0)


def test_estimate_mdp():
    mdp = penguin()
    g = torch.Generator().manual_seed(0)
    n = 400
    s = torch.arange(15).repeat_interleave(4 * n)
    a = torch.arange(4).repeat_interleave(n).repeat(15)
    nxt, r, done = rl.sample_transitions(mdp, s, a, g)
    est, counts = rl.estimate_mdp(s, a, r, nxt, done, num_states=16, num_actions=4, gamma=0.9)
    assert torch.equal(counts[:15], torch.full((15, 4), float(n), dtype=torch.float64))
    # binomial bound on every estimated probability: |P̂ − P| ≤ 5 sqrt(P(1−P)/n)
    p = mdp.P[:15]
    assert ((est.P[:15] - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-12).all()
    assert torch.equal(est.terminal, mdp.terminal)
    assert torch.equal(est.P[15], torch.nn.functional.one_hot(torch.full((4,), 15), 16).double())  # unseen
    support = est.P[:15] > 0
    torch.testing.assert_close(est.R[:15][support], mdp.R[:15][support])  # deterministic rewards, exact
    # planning on the estimate: its greedy policy is near-optimal in the true MDP
    plan = rl.value_iteration(est).policy
    v_star = rl.value_iteration(mdp).values
    assert (v_star - rl.solve_policy_value(mdp, plan)).max() < 0.05


# -- model-free control --------------------------------------------------------------------------------------
def test_epsilon_greedy_frequencies():
    q = torch.tensor([[0.0, 1.0, 1.0, -1.0]], dtype=torch.float64).expand(20000, -1)
    g = torch.Generator().manual_seed(0)
    a = rl.epsilon_greedy(q, 0.2, g)
    freq = torch.bincount(a, minlength=4).double() / 20000
    p = rl.epsilon_greedy_policy(q[:1], 0.2)[0]
    torch.testing.assert_close(p, torch.tensor([0.05, 0.45, 0.45, 0.05], dtype=torch.float64))
    assert ((freq - p).abs() <= 5 * (p * (1 - p) / 20000).sqrt()).all()


def soft_optimal_q(mdp: TabularMDP, epsilon: float) -> torch.Tensor:
    """The fixed point of q = r + γ P Σ_a' π_ε(q)[a'|s'] q(s', a'): what on-policy control with a fixed ε
    converges to (a contraction, iterated to machine precision)."""
    q = torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64)
    for _ in range(3000):
        v = (rl.epsilon_greedy_policy(q, epsilon) * q).sum(-1)
        q = rl.action_values(mdp, v)
    return q


def test_mc_first_and_every_visit_averages_by_hand():
    # a deterministic two-state cycle 0 → 1 → 0 → 1, reward 1 per step, one action, cut after 4 steps, γ = 1/2:
    # returns G_0..G_3 = 1.875, 1.75, 1.5, 1
    P = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]], dtype=torch.float64)
    mdp = TabularMDP(
        P, torch.ones(2, 1, 2).double(), torch.zeros(2).bool(), torch.tensor([1.0, 0.0]).double(), 0.5
    )
    first = rl.mc_control(mdp, updates=1, episodes_per_update=1, max_episode_steps=4, first_visit=True).q[0]
    every = rl.mc_control(mdp, updates=1, episodes_per_update=1, max_episode_steps=4, first_visit=False).q[0]
    torch.testing.assert_close(
        first[:, 0], torch.tensor([1.875, 1.75], dtype=torch.float64), rtol=0, atol=1e-15
    )
    torch.testing.assert_close(
        every[:, 0], torch.tensor([1.6875, 1.375], dtype=torch.float64), rtol=0, atol=1e-15
    )


def test_q_learning_converges_to_the_optimum():
    mdp = random_mdp(4, 2, 10)
    g = torch.Generator().manual_seed(0)
    res = rl.q_learning(mdp, agents=8, steps=10000, epsilon=0.5, lr=1.0, lr_power=0.5, generator=g)
    q_star = rl.action_values(mdp, rl.value_iteration(mdp).values)
    err = (res.q - q_star).abs().amax((1, 2))
    assert err.max() < 0.05 * q_star.abs().max(), err  # tolerance: 5% of the largest |q*|, every agent
    assert (rl.greedy_policy(res.q) == rl.greedy_policy(q_star)).all()
    assert res.snapshots.shape == (11, 8, 4, 2) and res.snapshot_steps[-1] == 10000


def test_sarsa_converges_to_the_epsilon_soft_fixed_point():
    mdp = random_mdp(4, 2, 10)
    g = torch.Generator().manual_seed(1)
    res = rl.sarsa(mdp, agents=8, steps=10000, epsilon=0.2, lr=1.0, lr_power=0.5, generator=g)
    target = soft_optimal_q(mdp, 0.2)
    err = (res.q - target).abs().amax((1, 2))
    assert err.max() < 0.05 * target.abs().max(), err
    # ... which differs from q*: SARSA learns the value of the exploring policy, not the greedy one
    q_star = rl.action_values(mdp, rl.value_iteration(mdp).values)
    assert (target - q_star).abs().max() > 0.3


@pytest.mark.parametrize("first_visit", [True, False])
def test_mc_control_converges_to_the_epsilon_soft_fixed_point(first_visit):
    mdp = random_mdp(4, 2, 11, terminal_prob=0.25)
    g = torch.Generator().manual_seed(2)
    res = rl.mc_control(
        mdp, agents=8, updates=150, episodes_per_update=40, epsilon=0.3, first_visit=first_visit, generator=g
    )
    target = soft_optimal_q(mdp, 0.3)[:3]
    err = (res.q[:, :3] - target).abs().amax((1, 2))
    # tolerance 10% of the largest |q|: the averages include returns of earlier, worse policies
    assert err.max() < 0.1 * target.abs().max(), err
    assert res.episode_returns.shape == (8, 150 * 40)


@pytest.mark.slow
def test_q_learning_reaches_the_penguin_optimum():
    mdp = penguin()
    g = torch.Generator().manual_seed(3)
    res = rl.q_learning(mdp, agents=8, steps=20000, epsilon=0.5, lr=1.0, lr_power=0.7, generator=g)
    v_star = rl.value_iteration(mdp).values
    gap = v_star[0] - rl.solve_policy_value(mdp, rl.greedy_policy(res.q))[:, 0]
    assert gap.max() < 0.05  # the start value of every agent's greedy policy within 0.05 of v*(0) = 0.080


def test_learner_bad_input():
    mdp = penguin()
    with pytest.raises(ValueError, match="epsilon"):
        rl.sarsa(mdp, epsilon=1.5)
    with pytest.raises(ValueError, match="lr"):
        rl.q_learning(mdp, lr=0.0)
    with pytest.raises(ValueError, match="policy"):
        rl.solve_policy_value(mdp, torch.ones(3, 4))
    with pytest.raises(ValueError, match="gamma"):
        rl.discounted_returns(torch.zeros(3), 1.5)
    with pytest.raises(ValueError, match="method"):
        rl.td_control(mdp, "td0")
