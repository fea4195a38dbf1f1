"""The torch-vectorized CartPole against gymnasium's CartPole-v1 from the same states under the same actions."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

from udl.rl import VectorCartPole


def _gym_envs(n: int) -> list[gymnasium.Env]:
    envs = [gymnasium.make("CartPole-v1") for _ in range(n)]
    for i, e in enumerate(envs):
        e.reset(seed=i)
    return envs


def test_trajectories_match_gymnasium_from_the_same_states() -> None:
    n, steps = 32, 300
    ours = VectorCartPole(n)
    ours.reset(seed=0)
    gyms = _gym_envs(n)
    for i, e in enumerate(gyms):  # start gymnasium's envs in our states
        e.unwrapped.state = ours.state[i].numpy().copy()
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        actions = rng.integers(0, 2, n)
        obs, reward, terminated, truncated, info = ours.step(torch.as_tensor(actions))
        for i, e in enumerate(gyms):
            g_obs, g_reward, g_term, g_trunc, _ = e.step(int(actions[i]))
            assert g_reward == reward[i].item()
            assert (g_term, g_trunc) == (bool(terminated[i]), bool(truncated[i]))
            if g_term or g_trunc:  # our env reset itself: the final obs is gymnasium's last obs
                ends += 1
                assert info["_final_obs"][i] and info["_episode"][i]
                np.testing.assert_allclose(info["final_obs"][i].numpy(), g_obs, rtol=0, atol=1e-6)
                e.reset()
                e.unwrapped.state = ours.state[i].numpy().copy()  # continue from our new episode's state
                assert torch.all(ours.state[i].abs() <= 0.05) and ours.elapsed[i] == 0
            else:
                assert not info["_final_obs"][i]
                np.testing.assert_allclose(obs[i].numpy(), g_obs, rtol=0, atol=1e-6)
                np.testing.assert_allclose(ours.state[i].numpy(), e.unwrapped.state, rtol=1e-12, atol=1e-12)
    assert ends > n  # random actions end episodes within ~20 steps: autoreset was exercised many times


def test_episode_statistics_and_truncation() -> None:
    assert VectorCartPole(1).max_episode_steps == gymnasium.spec("CartPole-v1").max_episode_steps
    env = VectorCartPole(3, max_episode_steps=7)
    env.reset(seed=1)
    env.state.zero_()  # upright and still: alternating pushes keep it up for 7 steps
    for t in range(7):
        _, _, terminated, truncated, info = env.step(torch.full((3,), t % 2))
    assert truncated.all() and not terminated.any()
    assert info["episode"]["r"].tolist() == [7.0] * 3 and info["episode"]["l"].tolist() == [7] * 3
    assert (env.elapsed == 0).all() and (env.returns == 0).all()


def test_reset_is_seeded_and_state_dict_resumes() -> None:
    a, b = VectorCartPole(4), VectorCartPole(4)
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert torch.equal(oa, ob) and oa.dtype == torch.float32 and oa.abs().max() <= 0.05
    actions = torch.tensor([0, 1, 1, 0])
    for _ in range(30):
        a.step(actions)
    saved = a.state_dict()
    ahead = [a.step(actions)[0] for _ in range(30)]
    b.load_state_dict(saved)
    again = [b.step(actions)[0] for _ in range(30)]
    assert all(torch.equal(x, y) for x, y in zip(ahead, again, strict=True))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        VectorCartPole(0)
    env = VectorCartPole(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(3, dtype=torch.long))
