"""train_members_full_batch: members trained together end where each trained alone ends; a kill resumes."""

from __future__ import annotations

import pytest
import torch

from reference import DirRun
from udl.nn import BatchedShallowNetwork
from udl.optim import Adam
from udl.train import train_members_full_batch


def _problem(members: int = 3):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(members, 12, 1, generator=g, dtype=torch.float64)
    y = torch.sin(6 * x) + 0.1 * torch.randn(members, 12, 1, generator=g, dtype=torch.float64)
    nets = BatchedShallowNetwork(1, [5, 3, 7][:members], 1, init="he", generator=g, dtype=torch.float64)
    return x, y, nets


def test_members_train_as_alone_float64() -> None:
    x, y, nets = _problem()
    alone = [nets.member(b) for b in range(len(nets))]
    last = train_members_full_batch(
        nets, lambda: (nets(x) - y).pow(2).mean(dim=(1, 2)), Adam(nets.parameters(), lr=0.01), steps=60
    )
    assert last is not None and last.shape == (3,)
    for b, net in enumerate(alone):
        xb, yb = x[b], y[b]
        opt = Adam(net.parameters(), lr=0.01)
        for _ in range(60):
            opt.zero_grad()
            (net(xb) - yb).pow(2).mean().backward()
            opt.step()
        with torch.no_grad():
            torch.testing.assert_close(nets(x)[b], net(xb), rtol=0, atol=1e-12)


def test_resume_after_a_kill_is_bit_for_bit(tmp_path) -> None:
    def train(run) -> torch.Tensor:
        x, y, nets = _problem()
        train_members_full_batch(
            nets,
            lambda: (nets(x) - y).pow(2).mean(dim=(1, 2)),
            Adam(nets.parameters(), lr=0.01),
            steps=40,
            run=run,
            name="members",
            metric="mse",
        )
        with torch.no_grad():
            return nets(x)

    whole = DirRun(tmp_path / "a")
    expected = train(whole)
    assert [s for s, _ in whole.logged] == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert set(whole.logged[0][1]) == {"mse"}
    with pytest.raises(KeyboardInterrupt):
        train(
            DirRun(tmp_path / "b", stop_after_epoch=20)
        )  # killed after logging step 20, before its checkpoint
    resumed = DirRun(tmp_path / "b")
    torch.testing.assert_close(train(resumed), expected, rtol=0, atol=0)
    assert resumed.logged[0][0] == 20  # restarted from the step-16 checkpoint


def test_rejects_bad_steps() -> None:
    x, _, nets = _problem()
    with pytest.raises(ValueError):
        train_members_full_batch(nets, lambda: nets(x).sum(dim=(1, 2)), Adam(nets.parameters()), steps=0)
