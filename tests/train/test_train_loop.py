"""``udl.train.train`` and the helpers a step function calls.

Resume tests run a loop with a run object that checkpoints in the real format, "kill" it (KeyboardInterrupt right
after a log call), rebuild everything from scratch with the same seed, resume, and compare with an uninterrupted
run bit for bit (torch.equal on the weights, == on the metrics). ``fit`` is compared with a copy of its previous
implementation (kept below as the reference), which 33 experiments' numbers were produced with.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from udl.errors import CheckpointError, DivergenceError
from udl.train import (
    EarlyStopping,
    NonFiniteGuard,
    NullRun,
    OptimizerStep,
    autocast,
    checkpoint_exists,
    classification_metrics,
    fit,
    grad_scaler,
    load_checkpoint,
    micro_batches,
    minibatches,
    save_checkpoint,
    seed_everything,
    train,
)

F64 = torch.float64


class KillableRun:
    """A RunLike that checkpoints in the real format under ``directory``, records its log calls and raises
    KeyboardInterrupt right after its ``kill_after``-th log call (a kill before any later checkpoint)."""

    def __init__(self, directory, kill_after: int | None = None) -> None:
        self.directory, self.kill_after = directory, kill_after
        self.logged: list[tuple[int, dict[str, float]]] = []
        self.saved_after: list[int] = []  # how many log calls each checkpoint had seen

    def log(self, step: int, **metrics: float) -> None:
        self.logged.append((step, metrics))
        if len(self.logged) == self.kill_after:
            raise KeyboardInterrupt

    def progress(self, total: int, description: str):
        return NullRun().progress(total, description)

    def save_state(self, key: str, tree) -> None:
        save_checkpoint(self.directory / key, tree)
        self.saved_after.append(len(self.logged))

    def load_state(self, key: str):
        stem = self.directory / key
        return load_checkpoint(stem) if checkpoint_exists(stem) else None


def _equal_state(a: dict, b: dict) -> None:
    for key in a:
        if isinstance(a[key], nn.Module):
            for (n, p), (_, q) in zip(a[key].state_dict().items(), b[key].state_dict().items(), strict=True):
                assert torch.equal(p, q), f"{key}.{n}"
        elif isinstance(a[key], torch.Generator):
            assert torch.equal(a[key].get_state(), b[key].get_state())
        elif not hasattr(a[key], "state_dict"):
            assert a[key] == b[key]


def _kill_and_resume(build, tmp_path, kill_after: int, **kwargs):
    """(uninterrupted state, result, log) and (resumed state, result, killed log + resumed log)."""

    def run(log: KillableRun):
        step, data, state = build()  # everything built from scratch, as a new process would
        return state, train(step, data, state=state, run=log, **kwargs)

    straight, killed, resumed_run = (
        KillableRun(tmp_path / d, k) for d, k in [("a", None), ("b", kill_after), ("b", None)]
    )
    state, expected = run(straight)
    with pytest.raises(KeyboardInterrupt):
        run(killed)
    state2, resumed = run(resumed_run)
    kept = killed.saved_after[-1] if killed.saved_after else 0  # the log lines the last checkpoint had seen
    return (state, expected, straight.logged), (state2, resumed, killed.logged[:kept] + resumed_run.logged)


# -- a GAN-like step: two networks, two optimizers, noise from a generator, dropout from the global RNG ------------
def _gan(device: str = "cpu"):
    seed_everything(0)
    real = 2.0 + 0.5 * torch.randn(50, 1, generator=torch.Generator().manual_seed(1))
    real = real.to(device)
    gen = nn.Linear(2, 1).to(device)
    disc = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1)).to(device)
    g_opt = torch.optim.SGD(gen.parameters(), lr=0.05, momentum=0.9)
    d_opt = torch.optim.Adam(disc.parameters(), lr=0.01)
    g_sched = torch.optim.lr_scheduler.LambdaLR(g_opt, lambda t: min(1.0, (t + 1) / 10))
    state = {
        "gen": gen,
        "disc": disc,
        "g_opt": g_opt,
        "d_opt": d_opt,
        "g_sched": g_sched,
        "noise": torch.Generator().manual_seed(2),
        "order": torch.Generator().manual_seed(3),
        "updates": 0,
    }
    d_update = OptimizerStep(d_opt, clip_norm=1.0)
    g_update = OptimizerStep(g_opt, scheduler=g_sched)
    bce = nn.functional.binary_cross_entropy_with_logits

    def step(batch):
        (x,) = batch
        fake = gen(torch.randn(len(x), 2, generator=state["noise"]).to(device))
        d_loss = bce(disc(x), torch.ones_like(x)) + bce(disc(fake.detach()), torch.zeros_like(x))
        grad_norm = d_update(d_loss)
        g_loss = bce(disc(fake), torch.ones_like(x))  # also fills disc's gradients: d_update clears them
        g_update(g_loss)
        state["updates"] += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "d_grad_norm": grad_norm}

    return step, (lambda epoch: minibatches(real, batch_size=8, generator=state["order"])), state


@pytest.mark.parametrize(
    ("log_every", "checkpoint_every", "kill_after"),
    [
        (3, 6, 7),  # last checkpoint at step 18: inside epoch 2 (7 batches per epoch), replayed
        (7, 7, 3),  # last checkpoint at step 14: the last batch of epoch 1
        (4, 8, 1),  # killed before any checkpoint: starts over
    ],
)
def test_gan_step_resumes_bit_for_bit(
    tmp_path, log_every: int, checkpoint_every: int, kill_after: int
) -> None:
    (state, expected, log), (state2, resumed, log2) = _kill_and_resume(
        _gan, tmp_path, kill_after, steps=40, log_every=log_every, checkpoint_every=checkpoint_every
    )
    _equal_state(state, state2)
    assert state2["updates"] == 40 and state2["g_sched"].last_epoch == 40
    assert resumed.history == expected.history and resumed.at == expected.at and log2 == log
    assert expected.steps == resumed.steps == 40 and expected.epochs == 5  # 40 steps of 7 per epoch
    assert resumed.resumed_from == checkpoint_every * ((kill_after * log_every - 1) // checkpoint_every)


def test_epochs_resume_bit_for_bit(tmp_path) -> None:
    (state, expected, log), (state2, resumed, log2) = _kill_and_resume(
        _gan, tmp_path, 3, epochs=5, checkpoint_every=2
    )
    _equal_state(state, state2)
    assert resumed.resumed_from == 2 and resumed.history == expected.history and log2 == log
    assert expected.at == [1, 2, 3, 4, 5] and expected.steps == 35
    assert set(expected.history[0]) == {"d_loss", "g_loss", "d_grad_norm"}


# -- an RL-like stream: rollouts drawn by the current policy, forever ----------------------------------------------
def _reinforce():
    seed_everything(0)
    policy = nn.Linear(3, 2)
    opt = torch.optim.Adam(policy.parameters(), lr=0.05)
    state = {"policy": policy, "opt": opt, "env": torch.Generator().manual_seed(4)}

    def rollouts():
        while True:  # a two-armed contextual bandit: arm 1 pays when the first feature is positive
            obs = torch.randn(16, 3, generator=state["env"])
            with torch.no_grad():
                probs = policy(obs).softmax(-1)
            actions = torch.multinomial(probs, 1, generator=state["env"]).squeeze(1)
            yield obs, actions, (actions == (obs[:, 0] > 0).long()).float()

    update = OptimizerStep(opt)

    def step(batch):
        obs, actions, rewards = batch
        logp = policy(obs).log_softmax(-1).gather(1, actions[:, None]).squeeze(1)
        loss = -(logp * (rewards - rewards.mean())).mean()
        update(loss)
        return {"loss": loss.detach(), "reward": rewards.mean()}

    return step, rollouts(), state


def test_stream_with_steps_runs_and_resumes(tmp_path) -> None:
    (state, expected, log), (state2, resumed, log2) = _kill_and_resume(
        _reinforce, tmp_path, 4, steps=60, log_every=5, checkpoint_every=10
    )
    _equal_state(state, state2)
    assert expected.steps == 60 and expected.at == list(range(5, 61, 5)) and expected.epochs == 0
    assert resumed.resumed_from == 10 and resumed.history == expected.history and log2 == log
    assert expected.history[-1]["reward"] > expected.history[0]["reward"]  # it learns the bandit
    step, stream, state = _reinforce()
    with pytest.raises(ValueError, match="no epochs"):
        train(step, stream, state=state, epochs=1)


def test_plain_values_in_state_and_state_mismatch(tmp_path) -> None:
    state = {"count": 0, "trace": []}

    def step(batch):
        state["count"] += 1
        state["trace"] = [*state["trace"], float(batch)]
        return {"loss": float(batch)}

    run = KillableRun(tmp_path)
    train(step, [1.0, 2.0, 3.0], state=state, epochs=2, run=run)
    assert state == {"count": 6, "trace": [1.0, 2.0, 3.0] * 2}
    fresh = {"count": 0, "trace": []}
    result = train(step, [1.0], state=fresh, epochs=2, run=KillableRun(tmp_path))  # finished: returns at once
    assert fresh == {"count": 6, "trace": [1.0, 2.0, 3.0] * 2} and result.history == [{"loss": 2.0}] * 2
    with pytest.raises(CheckpointError, match="holds"):
        train(step, [1.0], state={"other": 0}, epochs=2, run=KillableRun(tmp_path))
    KillableRun(tmp_path).save_state("other", {"model": torch.zeros(2), "epoch": 1})  # another loop's tree
    with pytest.raises(CheckpointError, match=r"not written by udl\.train\.train"):
        train(step, [1.0], state=fresh, epochs=2, run=KillableRun(tmp_path), name="other")


# -- helpers: per-step schedule, clipping, accumulation, mixed precision -------------------------------------------
def test_per_step_schedule() -> None:
    seed_everything(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 5))
    update = OptimizerStep(opt, scheduler=sched)
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    lrs = []

    def step(batch):
        lrs.append(opt.param_groups[0]["lr"])
        loss = model(batch).pow(2).mean()
        update(loss)
        return {"loss": loss.detach()}

    train(step, lambda epoch: x.split(4), state={"model": model, "opt": opt, "sched": sched}, steps=9)
    assert lrs == pytest.approx([0.2 * min(1.0, s / 5) for s in range(1, 10)], rel=1e-15)
    assert sched.last_epoch == 9


def test_clipping_equals_torch_clip_grad_norm() -> None:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    models = [nn.Linear(4, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    update = OptimizerStep(opts[0], clip_norm=0.5)
    norm = update((models[0](x) * 10).pow(2).mean())
    opts[1].zero_grad()
    (models[1](x) * 10).pow(2).mean().backward()
    reference_norm = torch.nn.utils.clip_grad_norm_(models[1].parameters(), 0.5)
    opts[1].step()
    assert norm is not None and torch.equal(norm, reference_norm) and float(norm) > 0.5  # it did clip
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="clip_norm"):
        OptimizerStep(opts[0], clip_norm=0.0)


@pytest.mark.parametrize("parts", [1, 3, 4, 10])
def test_accumulated_micro_batches_equal_one_big_batch(parts: int) -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 4, generator=g, dtype=F64), torch.randint(3, (10,), generator=g)
    models = [nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double() for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.3, momentum=0.9) for m in models]
    big, small = OptimizerStep(opts[0]), OptimizerStep(opts[1])
    for _ in range(3):
        big(nn.functional.cross_entropy(models[0](x), y))
        sizes = []
        for (xm, ym), weight in micro_batches((x, y), parts):
            sizes.append(len(xm))
            small.backward(nn.functional.cross_entropy(models[1](xm), ym) * weight)
        small.step()
        assert sum(sizes) == 10 and len(sizes) == min(parts, 10)
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="first dimension"):
        list(micro_batches((x, y[:-1]), 2))


def test_gradients_cleared_at_the_next_backward_not_leaking_between_optimizers() -> None:
    a, b = nn.Parameter(torch.tensor(1.0)), nn.Parameter(torch.tensor(2.0))
    opt_a = torch.optim.SGD([a], lr=1.0)
    update_a = OptimizerStep(opt_a)
    update_a(a * b)  # fills b.grad too
    b.grad = torch.tensor(5.0)  # e.g. another loss's backward
    a.grad = torch.tensor(7.0)  # stale gradient on a from elsewhere
    update_a(a * 3.0)
    assert float(a.detach()) == pytest.approx(1.0 - 2.0 - 3.0)  # only d(a·3)/da = 3 in the second step


def test_autocast_bfloat16_on_cpu_is_close_to_float32() -> None:
    seed_everything(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    with autocast("cpu"):
        out = model(x)
        loss = out.float().pow(2).mean()
    assert out.dtype == torch.bfloat16
    full = model(x).pow(2).mean()
    assert float(loss.detach()) == pytest.approx(float(full.detach()), rel=2e-2)
    with autocast("cpu", enabled=False):
        assert model(x).dtype == torch.float32
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    OptimizerStep(opt, clip_norm=1.0)(loss)
    assert all(
        p.dtype == torch.float32 and not torch.equal(p, q)
        for p, q in zip(model.parameters(), before, strict=True)
    )
    with pytest.raises(ValueError, match=r"bfloat16 or torch\.float16"):
        autocast("cpu", torch.float64)


def test_grad_scaler_only_for_float16_and_a_scaled_update_equals_the_plain_one() -> None:
    assert grad_scaler("cpu", torch.bfloat16) is None and grad_scaler("cpu", torch.float32) is None
    scaler = grad_scaler("cpu", torch.float16)
    assert isinstance(scaler, torch.amp.GradScaler)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    models = [nn.Linear(4, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    norms = [
        OptimizerStep(opts[0], clip_norm=0.5, scaler=scaler)((models[0](x) * 10).pow(2).mean()),
        OptimizerStep(opts[1], clip_norm=0.5)((models[1](x) * 10).pow(2).mean()),
    ]
    torch.testing.assert_close(norms[0], norms[1])  # unscaled before clipping
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(p, q)


# -- the non-finite guard --------------------------------------------------------------------------------------------
def _diverging_step(bad_from: int, calls: list[int]):
    def step(batch):
        calls.append(1)
        value = math.nan if len(calls) >= bad_from else 1.0
        return {"loss": torch.tensor(value), "accuracy": math.inf}  # only losses are watched

    return step


def test_non_finite_loss_names_the_metric_and_the_first_step() -> None:
    calls: list[int] = []
    with pytest.raises(DivergenceError, match=r"gan/loss became non-finite \(nan\) at step 7") as info:
        train(_diverging_step(7, calls), lambda e: range(5), state={}, steps=50, name="gan", log_every=10)
    assert info.value.step == 7 and info.value.quantity == "gan/loss" and len(calls) == 7  # CPU: at once


def test_deferred_guard_reports_the_first_step_at_the_next_log() -> None:
    calls: list[int] = []
    with pytest.raises(DivergenceError, match="at step 7") as info:
        train(_diverging_step(7, calls), lambda e: range(5), state={}, steps=50, log_every=5,
              guard=NonFiniteGuard(eager=False))  # fmt: skip
    assert info.value.step == 7 and len(calls) == 10  # no host check until the log point at step 10
    guard = NonFiniteGuard(eager=False)
    for s, value in enumerate([1.0, math.inf, math.nan], start=1):
        guard.step = s
        guard.watch("late", torch.tensor([1.0, value]))
        guard.watch("early", torch.tensor(value if s == 2 else 0.0))
    with pytest.raises(DivergenceError, match=r"late became non-finite \(inf\) at step 2"):
        guard.check()  # same step: the one watched first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_guard_is_deferred_and_a_cuda_run_resumes_bit_for_bit(tmp_path) -> None:
    calls: list[int] = []

    def step(batch):
        calls.append(1)
        return {"loss": torch.tensor(math.nan if len(calls) >= 3 else 1.0, device="cuda")}

    with pytest.raises(DivergenceError, match="at step 3"):
        train(step, lambda e: range(5), state={}, steps=20, log_every=8)
    assert len(calls) == 8  # recorded on the device, read back at the log point

    (state, expected, log), (state2, resumed, log2) = _kill_and_resume(
        lambda: _gan("cuda"), tmp_path, 7, steps=40, log_every=3, checkpoint_every=6
    )
    _equal_state(state, state2)
    assert resumed.history == expected.history and log2 == log


def test_guard_names_a_non_finite_gradient() -> None:
    model = nn.Linear(2, 1)
    guard = NonFiniteGuard()
    guard.step = 3
    (model(torch.ones(1, 2)).sum() + torch.sqrt(model.weight[0, 0] * 0.0)).backward()
    with pytest.raises(DivergenceError, match=r"gradient of weight .* at step 3"):
        guard.watch_gradients(model)


# -- evaluation, early stopping, argument checks ---------------------------------------------------------------------
def test_evaluate_runs_in_eval_mode_and_restores_each_modules_mode() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model[0].eval()  # e.g. a frozen part kept in eval mode
    seen = []

    def evaluate():
        seen.append((model.training, model[1].training, torch.is_grad_enabled()))
        return {"val_x": 1.0}

    result = train(lambda b: {"loss": 0.0}, [0], state={"m": model}, epochs=2, evaluate=evaluate)
    assert seen == [(False, False, False)] * 2 and result.history[-1] == {"loss": 0.0, "val_x": 1.0}
    assert model.training and model[1].training and not model[0].training
    with pytest.raises(ValueError, match=r"\['loss'\].*already returns"):
        train(lambda b: {"loss": 0.0}, [0], state={}, epochs=1, evaluate=lambda: {"loss": 2.0})


def test_early_stopping_refuses_a_test_monitor_unless_allowed() -> None:
    assert EarlyStopping(patience=2).monitor == "val_error"
    model = nn.Linear(1, 1)
    values = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    kwargs = {"state": {"m": model}, "epochs": 5, "evaluate": lambda: {"test_error": next(values)}}
    with pytest.raises(ValueError, match=r"'test_error', a test metric.*allow_test_monitor"):
        train(lambda b: {"loss": 0.0}, [0], early_stopping=EarlyStopping(2, monitor="test_error"), **kwargs)
    result = train(
        lambda b: {"loss": 0.0},
        [0],
        early_stopping=EarlyStopping(2, monitor="test_error"),
        allow_test_monitor=True,
        **kwargs,
    )
    assert (result.stopped_at, result.best_at, result.at) == (4, 2, [1, 2, 3, 4])


def test_bad_arguments() -> None:
    def step(b):
        return {"loss": 0.0}

    for kwargs, match in [
        ({}, "exactly one"),
        ({"steps": 3, "epochs": 3}, "exactly one"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"epochs": 2.0}, "epochs must be a positive integer"),
        ({"steps": 10, "log_every": 3, "checkpoint_every": 5}, "multiples of log_every"),
        ({"steps": 10, "log_every": 2, "evaluate_every": 3}, "multiples of log_every"),
    ]:
        with pytest.raises(ValueError, match=match):
            train(step, [0], state={}, **kwargs)
    with pytest.raises(ValueError, match="ran dry after 3 of 5"):
        train(step, iter([0, 1, 2]), state={}, steps=5)
    with pytest.raises(ValueError, match="no batches in epoch 0"):
        train(step, [], state={}, steps=5)
    sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))]), 1)
    with pytest.raises(ValueError, match="also be in state"):
        train(step, [0], state={}, epochs=1, epoch_scheduler=sched)


# -- fit: built on train, the same numbers as before -----------------------------------------------------------------
def _reference_fit(model, loss_fn, optimizer, data, *, epochs, batch_size, scheduler=None, generator=None,
                   evaluate=None, run, name="train", early_stopping=None):  # fmt: skip
    """The previous ``udl.train.fit`` (before it was built on ``train``), without its checkpoints."""
    x, y = data
    n = len(x)
    history, steps = [], 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=generator).to(x.device)
        total, batches = torch.zeros((), dtype=torch.float64, device=x.device), 0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            steps += 1
            assert bool(torch.isfinite(loss))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            batches += 1
        if scheduler is not None:
            scheduler.step()
        metrics = {"loss": float(total) / batches}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                metrics.update(evaluate(model))
            model.train()
        history.append(metrics)
        run.log(epoch + 1, **{f"{name}/{k}": v for k, v in metrics.items()})
        last = epoch + 1 == epochs
        if early_stopping is not None:
            last = early_stopping.step(epoch + 1, metrics, model) or last
            if last and early_stopping.restore_best:
                early_stopping.restore(model)
        if last:
            break
    return history, steps


class _LogRun(NullRun):
    def __init__(self) -> None:
        self.logged: list[tuple[int, dict[str, float]]] = []

    def log(self, step: int, **metrics: float) -> None:
        self.logged.append((step, metrics))


@pytest.mark.parametrize("case", ["dropout-global-rng", "schedule-generator", "early-stopping"])
def test_fit_equals_its_previous_implementation(case: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(203, 5, generator=g)
    y = (x @ torch.randn(5, 3, generator=g)).argmax(-1)
    outcomes = []
    for impl in ("reference", "fit"):
        val = iter([5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 3.3, 3.4, 3.6])
        seed_everything(1)
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        kwargs = {"epochs": 10, "batch_size": 32}
        if case != "dropout-global-rng":
            kwargs["generator"] = torch.Generator().manual_seed(5)
        if case == "schedule-generator":
            kwargs["scheduler"] = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
            kwargs["evaluate"] = lambda m, val=val: {
                f"val_{k}": v for k, v in classification_metrics(m, x, y).items()
            }
        if case == "early-stopping":
            kwargs["evaluate"] = lambda m, val=val: {
                "val_error": next(val),
                "train_error": classification_metrics(m, x, y)["error"],
            }
            kwargs["early_stopping"] = EarlyStopping(patience=3)
        run = _LogRun()
        if impl == "reference":
            history, steps = _reference_fit(
                model, nn.functional.cross_entropy, opt, (x, y), run=run, **kwargs
            )
        else:
            result = fit(model, nn.functional.cross_entropy, opt, (x, y), run=run, **kwargs)
            history, steps = result.history, result.steps
        outcomes.append((model, history, steps, run.logged, torch.get_rng_state()))
    (m0, h0, s0, l0, r0), (m1, h1, s1, l1, r1) = outcomes
    assert h0 == h1 and s0 == s1 and l0 == l1 and torch.equal(r0, r1)
    assert m0.training == m1.training
    for p, q in zip(m0.state_dict().values(), m1.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    if case == "early-stopping":
        assert len(h1) == 7  # best 3.0 at epoch 4, three epochs without improvement


def test_fit_refuses_an_evaluate_loss_that_would_overwrite_the_training_loss() -> None:
    x, y = torch.randn(20, 3), torch.randint(2, (20,))
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="'loss', which would overwrite the training loss"):
        fit(model, nn.functional.cross_entropy, opt, (x, y), epochs=1, batch_size=5,
            evaluate=lambda m: classification_metrics(m, x, y))  # fmt: skip
    with pytest.raises(ValueError, match="test metric"):
        fit(model, nn.functional.cross_entropy, opt, (x, y), epochs=1, batch_size=5,
            evaluate=lambda m: {"test_error": 0.0}, early_stopping=EarlyStopping(1, monitor="test_error"))  # fmt: skip
