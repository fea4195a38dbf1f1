"""The replay buffer: ring semantics against a deque, safetensors round trip, and a killed DQN run resuming to
the same network."""

from __future__ import annotations

from collections import deque

import pytest
import torch

from udl.rl import DQNConfig, ReplayBuffer, VectorCartPole, dqn

from ._memory_run import assert_kill_and_resume_match


def _batch(start: int, n: int) -> tuple[torch.Tensor, ...]:
    i = torch.arange(start, start + n, dtype=torch.float32)
    return (
        i.unsqueeze(1).repeat(1, 3),
        (i % 2).long(),
        i * 10,
        i.unsqueeze(1).repeat(1, 3) + 0.5,
        (i % 3 == 0).float(),
    )


def test_ring_keeps_the_last_capacity_transitions() -> None:
    buffer = ReplayBuffer(7, (3,))
    reference: deque[float] = deque(maxlen=7)
    start = 0
    for n in (3, 4, 2, 5, 1, 7):
        buffer.add(*_batch(start, n))
        reference.extend(range(start, start + n))
        start += n
        assert len(buffer) == len(reference)
        assert sorted(buffer.obs[: len(buffer), 0].tolist()) == sorted(reference)
        assert torch.equal(buffer.reward[: len(buffer)], buffer.obs[: len(buffer), 0] * 10)
    sample = buffer.sample(500, torch.Generator().manual_seed(0))
    assert set(sample.obs[:, 0].tolist()) == set(reference)  # uniform over what is kept: all 7 get drawn
    assert torch.equal(sample.next_obs, sample.obs + 0.5) and torch.equal(
        sample.action, sample.obs[:, 0].long() % 2
    )


def test_save_load_round_trip(tmp_path) -> None:
    buffer = ReplayBuffer(5, (3,))
    buffer.add(*_batch(0, 4))
    buffer.add(*_batch(4, 4))
    buffer.save(tmp_path / "buffer.safetensors")
    restored = ReplayBuffer(5, (3,))
    restored.load(tmp_path / "buffer.safetensors")
    assert (restored.pos, restored.size) == (buffer.pos, buffer.size) == (3, 5)
    for k in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(restored, k), getattr(buffer, k))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(buffer.sample(9, g1).obs, restored.sample(9, g2).obs)
    with pytest.raises(ValueError, match="shape"):
        ReplayBuffer(6, (3,)).load(tmp_path / "buffer.safetensors")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, (3,))
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, (3,)).sample(2)
    with pytest.raises(ValueError, match="cannot add"):
        ReplayBuffer(3, (3,)).add(*_batch(0, 4))


CFG = DQNConfig(
    total_steps=1200, learning_starts=200, buffer_size=500, target_network_frequency=100, batch_size=32
)


def test_killed_dqn_run_resumes_to_the_same_network(tmp_path) -> None:
    # killed after the checkpoint at vector step 100, before the end (300)
    kwargs = {"cfg": CFG, "seed": 3, "log_every": 10, "checkpoint_every": 50}
    assert_kill_and_resume_match(
        lambda **kw: dqn(VectorCartPole(4), **kw), tmp_path, kill_at=150, resumed_from=100, **kwargs
    )
