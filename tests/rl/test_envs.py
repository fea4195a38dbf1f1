"""The penguin-on-ice environment and the gymnasium toy-text model extraction, against sampled frequencies."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from scipy import stats

import udl.rl as rl
from udl.rl import PENGUIN_ENV_ID, PenguinOnIce, tabular_mdp


def _chi_square_p_value(env, P: torch.Tensor, samples: int, seed: int, states=None) -> float:
    """Step the real environment ``samples`` times from every (s, a) (s in ``states``, default all) and pool a
    Pearson chi-square test of the counts against P[s, a, :] over all pairs (df = Σ (support − 1))."""
    base = env.unwrapped
    base.reset(seed=seed)
    S, A = P.shape[:2]
    statistic, df = 0.0, 0
    for s in range(S) if states is None else states:
        for a in range(A):
            counts = np.zeros(S)
            for _ in range(samples):
                base.s = s
                counts[base.step(a)[0]] += 1
            p = P[s, a].numpy()
            support = p > 0
            assert counts[~support].sum() == 0, (s, a)  # never a transition of probability 0
            expected = samples * p[support]
            statistic += float(((counts[support] - expected) ** 2 / expected).sum())
            df += int(support.sum()) - 1
    return float(stats.chi2.sf(statistic, df)) if df else 1.0


def test_registered_and_passes_env_checker():
    rl.register_envs()  # idempotent: already registered on import
    env = gymnasium.make(PENGUIN_ENV_ID)
    assert env.spec is not None and env.spec.max_episode_steps == 100
    check_env(env.unwrapped)
    check_env(PenguinOnIce(slip=0.0), skip_render_check=True)
    assert env.observation_space == gymnasium.spaces.Discrete(16)
    assert env.action_space == gymnasium.spaces.Discrete(4)


def test_transition_tensor_matches_the_slip_model():
    P = PenguinOnIce(slip=0.5).transition_tensor()
    assert P.dtype == torch.float64 and P.shape == (16, 4, 16)
    assert torch.allclose(P.sum(-1), torch.ones(16, 4, dtype=torch.float64), atol=1e-15)
    # interior cell 5: intended move with 1/2, each other neighbour with 1/6 (the book's fig. 19.3c)
    assert P[5, 1, 6] == 0.5 and torch.allclose(P[5, 1, [1, 4, 9]], torch.full((3,), 1 / 6).double())
    # corner 0, action up: the wall keeps the penguin (up with 1/2, left with 1/6), right and down 1/6 each
    assert torch.allclose(P[0, 0, [0, 1, 4]], torch.tensor([0.5 + 1 / 6, 1 / 6, 1 / 6]).double())
    assert torch.equal(P[15], torch.nn.functional.one_hot(torch.full((4,), 15), 16).double())  # absorbing
    deterministic = PenguinOnIce(slip=0.0).transition_tensor()
    assert deterministic[6, 2].argmax() == 10 and deterministic[6, 3].argmax() == 5
    assert torch.equal(deterministic.amax(-1), torch.ones(16, 4, dtype=torch.float64))


@pytest.mark.parametrize("slip", [0.5, 0.2])
def test_exact_P_matches_sampled_frequencies(slip):
    # the fish cell is terminal: an episode never steps from it
    env = PenguinOnIce(slip=slip)
    p_value = _chi_square_p_value(env, env.transition_tensor(), samples=600, seed=0, states=range(15))
    assert p_value > 1e-3, p_value


def test_model_differs_detectably_from_a_wrong_slip():
    # the test above has power: the same counts judged against the P of another slip are rejected
    env = PenguinOnIce(slip=0.5)
    wrong = PenguinOnIce(slip=0.4).transition_tensor()
    assert _chi_square_p_value(env, wrong, samples=600, seed=0, states=range(15)) < 1e-6


def test_rewards_and_termination():
    env = PenguinOnIce(slip=0.0)
    env.reset(seed=0)
    env.s = 13
    s, r, terminated, truncated, _ = env.step(0)  # up into the hole at 9: −2, the episode goes on
    assert (s, r, terminated, truncated) == (9, -2.0, False, False)
    env.s = 11
    s, r, terminated, _, _ = env.step(2)  # down onto the fish: +3 and the end
    assert (s, r, terminated) == (15, 3.0, True)
    R = env.reward_table()
    assert R[0, 0, 14] == -2 and R[11, 2, 15] == 3 and R[15].abs().sum() == 0
    assert env.mdp().gamma == 0.9


def test_tabular_mdp_reads_the_penguin_table():
    env = gymnasium.make(PENGUIN_ENV_ID, slip=0.3)
    exact, read = env.unwrapped.mdp(), tabular_mdp(env, gamma=0.9)
    assert torch.allclose(read.P, exact.P, atol=1e-15)
    support = exact.P > 0
    assert torch.allclose(read.R[support], exact.R[support], rtol=1e-15, atol=0)
    assert torch.equal(read.terminal, exact.terminal) and torch.equal(read.initial, exact.initial)


def test_tabular_mdp_of_frozen_lake_matches_its_sampled_frequencies():
    env = gymnasium.make("FrozenLake-v1")  # slippery 4×4
    mdp = tabular_mdp(env, gamma=0.99)
    assert mdp.terminal.nonzero().squeeze(1).tolist() == [5, 7, 11, 12, 15]  # holes and goal
    assert mdp.initial[0] == 1 and mdp.R[14, 2, 15] == 1 and mdp.R[14, 2, 10] == 0
    # stepping the environment from a terminal cell is not part of an episode: sample the other states
    states = (~mdp.terminal).nonzero().squeeze(1).tolist()
    assert _chi_square_p_value(env, mdp.P, samples=600, seed=1, states=states) > 1e-3


def test_tabular_mdp_of_cliff_walking():
    mdp = tabular_mdp(gymnasium.make("CliffWalking-v1"), gamma=1.0)
    assert mdp.terminal.nonzero().squeeze(1).tolist() == [47]
    assert mdp.P[36, 1, 36] == 1 and mdp.R[36, 1, 36] == -100  # stepping into the cliff: back to the start
    assert mdp.R[36, 0, 24] == -1


def test_tabular_mdp_of_taxi():
    mdp = rl.tabular_mdp(gymnasium.make("Taxi-v4"), gamma=0.9)
    assert mdp.P.shape == (500, 6, 500) and mdp.terminal.sum() > 0
    assert torch.allclose(mdp.initial.sum(), torch.ones((), dtype=torch.float64))
    assert mdp.expected_reward.min() == -10  # an illegal pick-up or drop-off


def test_bad_input():
    with pytest.raises(ValueError, match="slip"):
        PenguinOnIce(slip=1.5)
    with pytest.raises(ValueError, match="fish"):
        PenguinOnIce(holes=(15,))
    with pytest.raises(ValueError, match="cells"):
        PenguinOnIce(holes=(16,))
    env = PenguinOnIce()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(4)
    with pytest.raises(TypeError, match="transition table"):
        tabular_mdp(gymnasium.make("CartPole-v1"), gamma=0.9)


def test_render_ansi():
    env = PenguinOnIce(render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "P...\n....\n.HH.\n..HF\n"
