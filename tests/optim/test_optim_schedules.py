"""Learning-rate schedules: equal to torch's schedulers at every step, and resumable from state_dict."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import pytest
import torch
from torch.optim import lr_scheduler as tls

import udl.optim

BASE_LRS = (0.1, 0.03)
Schedule = Callable[[torch.optim.Optimizer], tls.LRScheduler]


def _optimizer(lrs: tuple[float, ...] = BASE_LRS) -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return udl.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def lr_sequence(schedule: Schedule, steps: int, lrs: tuple[float, ...] = BASE_LRS) -> torch.Tensor:
    """(steps+1, groups): the learning rate of every group before the first step and after each scheduler step."""
    opt = _optimizer(lrs)
    sched = schedule(opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        rows.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == rows[-1]
    return torch.tensor(rows, dtype=torch.float64)


def assert_same_lrs(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)


def test_step_decay_equals_step_lr() -> None:
    ours = lr_sequence(lambda o: udl.optim.StepDecay(o, step_size=7, gamma=0.5), 60)
    assert_same_lrs(ours, lr_sequence(lambda o: tls.StepLR(o, step_size=7, gamma=0.5), 60))
    assert ours[6, 0] == 0.1 and ours[7, 0] == 0.05 and ours[14, 0] == 0.025


def test_exponential_decay_equals_exponential_lr() -> None:
    ours = lr_sequence(lambda o: udl.optim.ExponentialDecay(o, gamma=0.98), 300)
    assert_same_lrs(ours, lr_sequence(lambda o: tls.ExponentialLR(o, gamma=0.98), 300))
    torch.testing.assert_close(ours[:, 1], 0.03 * 0.98 ** torch.arange(301, dtype=torch.float64))


@pytest.mark.parametrize("min_lr", [0.0, 1e-3])
def test_cosine_decay_equals_cosine_annealing_then_holds_the_floor(min_lr: float) -> None:
    total = 50
    ours = lr_sequence(lambda o: udl.optim.CosineDecay(o, total_steps=total, min_lr=min_lr), total + 20)
    theirs = lr_sequence(lambda o: tls.CosineAnnealingLR(o, T_max=total, eta_min=min_lr), total)
    assert_same_lrs(ours[: total + 1], theirs)
    torch.testing.assert_close(ours[total:], torch.full_like(ours[total:], min_lr), rtol=0, atol=1e-15)
    # halfway, the rate is the mean of the base rate and the floor
    torch.testing.assert_close(ours[total // 2], (torch.tensor(BASE_LRS, dtype=torch.float64) + min_lr) / 2)


@pytest.mark.parametrize("decay", ["cosine", "linear"])
def test_warmup_then_decay_equals_torchs_sequential_schedule(decay: str) -> None:
    warmup, total, start = 10, 40, 0.1
    # torch's LinearLR decays to a fraction of each group's rate; a floor of 0 is the same for all groups
    min_lr = 1e-3 if decay == "cosine" else 0.0

    def torch_schedule(o: torch.optim.Optimizer) -> tls.LRScheduler:
        ramp = tls.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=warmup)
        if decay == "cosine":
            after: tls.LRScheduler = tls.CosineAnnealingLR(o, T_max=total - warmup, eta_min=min_lr)
        else:
            after = tls.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=total - warmup)
        return tls.SequentialLR(o, [ramp, after], milestones=[warmup])

    ours = lr_sequence(
        lambda o: udl.optim.WarmupThenDecay(o, warmup, total, decay=decay, min_lr=min_lr, start_factor=start),
        total + 5,
    )
    assert_same_lrs(ours[: total + 1], lr_sequence(torch_schedule, total))
    assert torch.all(ours[total:] == min_lr)


def test_warmup_from_zero_has_the_closed_form() -> None:
    warmup, total, min_lr = 8, 24, 0.002
    ours = lr_sequence(lambda o: udl.optim.WarmupThenDecay(o, warmup, total, min_lr=min_lr), total + 3)
    base = torch.tensor(BASE_LRS, dtype=torch.float64)
    for t in range(total + 4):
        if t <= warmup:
            expected = base * t / warmup
        elif t <= total:
            expected = (
                min_lr + (base - min_lr) * (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) / 2
            )
        else:
            expected = torch.full_like(base, min_lr)
        torch.testing.assert_close(ours[t], expected, rtol=1e-14, atol=1e-16)
    assert torch.all(ours[1 : warmup + 1].diff(dim=0) > 0)
    assert torch.all(ours[warmup : total + 1].diff(dim=0) < 0)


def test_no_warmup_is_cosine_decay() -> None:
    ours = lr_sequence(lambda o: udl.optim.WarmupThenDecay(o, 0, 30, min_lr=0.01), 35)
    assert_same_lrs(ours, lr_sequence(lambda o: udl.optim.CosineDecay(o, 30, min_lr=0.01), 35))


SCHEDULES: dict[str, Schedule] = {
    "step": lambda o: udl.optim.StepDecay(o, step_size=4, gamma=0.7),
    "exponential": lambda o: udl.optim.ExponentialDecay(o, gamma=0.9),
    "cosine": lambda o: udl.optim.CosineDecay(o, total_steps=30, min_lr=1e-3),
    "warmup-cosine": lambda o: udl.optim.WarmupThenDecay(o, 6, 30, min_lr=1e-3, start_factor=0.2),
    "warmup-linear": lambda o: udl.optim.WarmupThenDecay(o, 6, 30, decay="linear"),
}


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("restore_optimizer", [True, False])
def test_resume_from_state_dict_continues_the_schedule(name: str, restore_optimizer: bool) -> None:
    schedule, stop, total = SCHEDULES[name], 13, 35
    uninterrupted = lr_sequence(schedule, total)

    opt = _optimizer()
    sched = schedule(opt)
    for _ in range(stop):
        opt.step()
        sched.step()
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    opt2 = _optimizer()
    sched2 = schedule(opt2)  # sets the fresh optimizer's lr to the schedule's start
    if restore_optimizer:
        opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    rows = []
    for _ in range(stop, total):
        opt2.step()
        sched2.step()
        rows.append([g["lr"] for g in opt2.param_groups])
    # closed forms in the step count: even without the optimizer's saved lr, the next rates are exact
    torch.testing.assert_close(
        torch.tensor(rows, dtype=torch.float64), uninterrupted[stop + 1 :], rtol=0, atol=0
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda o: udl.optim.StepDecay(o, step_size=0), "step_size"),
        (lambda o: udl.optim.StepDecay(o, step_size=2.5), "step_size"),
        (lambda o: udl.optim.StepDecay(o, step_size=3, gamma=0.0), "gamma"),
        (lambda o: udl.optim.ExponentialDecay(o, gamma=-0.5), "gamma"),
        (lambda o: udl.optim.ExponentialDecay(o, gamma=float("nan")), "gamma"),
        (lambda o: udl.optim.CosineDecay(o, total_steps=0), "total_steps"),
        (lambda o: udl.optim.CosineDecay(o, total_steps=10, min_lr=-1e-3), "min_lr"),
        (lambda o: udl.optim.WarmupThenDecay(o, 10, 10), "total_steps must exceed warmup_steps"),
        (lambda o: udl.optim.WarmupThenDecay(o, -1, 10), "warmup_steps"),
        (lambda o: udl.optim.WarmupThenDecay(o, 2, 10, decay="step"), "valid: cosine, linear"),
        (lambda o: udl.optim.WarmupThenDecay(o, 2, 10, start_factor=1.5), "start_factor"),
        (lambda o: udl.optim.WarmupThenDecay(o, 2, 10, min_lr=-0.1), "min_lr"),
    ],
)
def test_invalid_schedule_arguments_raise(make: Schedule, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(_optimizer())
