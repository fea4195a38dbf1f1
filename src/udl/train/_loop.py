"""One training loop for every kind of training, around a step function the caller writes.

``train(step, data, steps=... | epochs=..., state=...)`` pulls batches from ``data``, calls ``step(batch)`` —
which does the whole optimization step itself (one optimizer or two, micro-batches, autocast, clipping; see
``udl.train.OptimizerStep``) and returns its metrics — and around it does only what every loop needs: the mean
of the metrics over each logging interval, ``evaluate``, a progress bar, early stopping, a guard against
non-finite losses, and checkpoints from which a killed run resumes to the same result, bit for bit
(nanoGPT/CleanRL style: no callbacks, the loop is written out below).

Distributed training (DDP, under torchrun) fits without changing callers: ``data`` is taken as given
(:func:`udl.train.distributed.sharded_minibatches` inside ``data(epoch)`` gives each rank its share of the
seeded global batches), the step wraps its model in ``DistributedDataParallel``, the loop averages each
interval's metrics over the ranks, and it writes only through ``run`` (``log``, ``progress``, ``save_state``):
udl's run object writes on rank 0 only and broadcasts the checkpoints it reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from udl.errors import CheckpointError
from udl.train import distributed
from udl.train._early_stopping import EarlyStopping
from udl.train._guard import NonFiniteGuard
from udl.train._seed import global_rng_state, set_global_rng_state

__all__ = ["NullRun", "ProgressLike", "RunLike", "TrainResult", "minibatches", "train"]


class ProgressLike(Protocol):
    def update(self, completed: int, **fields: float) -> None: ...


class RunLike(Protocol):
    """What the training loop needs from a run: logging, progress and a key-value checkpoint store."""

    def log(self, step: int, **metrics: float) -> None: ...

    def progress(self, total: int, description: str) -> contextlib.AbstractContextManager[ProgressLike]: ...

    def save_state(self, key: str, tree: Any) -> None: ...

    def load_state(self, key: str) -> Any | None: ...


class _NullProgress:
    def update(self, completed: int, **fields: float) -> None:
        pass


class NullRun:
    """A run that records nothing: the default when the loop is used as a plain library function."""

    def log(self, step: int, **metrics: float) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, total: int, description: str) -> Iterator[ProgressLike]:
        yield _NullProgress()

    def save_state(self, key: str, tree: Any) -> None:
        pass

    def load_state(self, key: str) -> Any | None:
        return None


@dataclass
class TrainResult:
    """The metrics of every logging interval and where training ended.

    ``history[i]`` holds the step function's metrics averaged over interval i (and ``evaluate``'s, where it ran)
    and ``at[i]`` its end: an epoch number (``epochs=``) or a step number (``steps=``), 1-based. ``stopped_at``
    and ``best_at`` are early stopping's stop and best points in the same unit (None without it).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    at: list[int] = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    resumed_from: int = 0
    stopped_at: int | None = None
    best_at: int | None = None

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def minibatches(
    *tensors: Tensor, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True
) -> Iterator[tuple[Tensor, ...]]:
    """Mini-batches ``(t[idx] for t in tensors)`` of one epoch; the permutation is drawn from ``generator`` at
    the call (not lazily), so ``data=lambda epoch: minibatches(x, y, batch_size=64, generator=g)`` with ``g``
    in ``state`` gives reproducible, resumable epochs. The last batch may be smaller."""
    batches = distributed.batch_indices(len(tensors[0]), batch_size, generator, shuffle, tensors[0].device)
    return (tuple(t[b] for t in tensors) for b in batches)


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Generator):
        return value.get_state()
    if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
        return value.state_dict()
    return value  # a plain value: a counter, a list of numbers, a tensor


def _restore(state: dict[str, Any], key: str, saved: Any, name: str) -> None:
    value = state[key]
    try:
        if isinstance(value, torch.Generator):
            value.set_state(saved)
        elif hasattr(value, "load_state_dict"):
            value.load_state_dict(saved)
        else:
            state[key] = saved
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {name!r} does not fit state[{key!r}]: {error}") from None


def _rng(state: Mapping[str, Any]) -> dict[str, Any]:
    """The global RNG states and those of the generators in ``state``."""
    generators = {k: v.get_state() for k, v in state.items() if isinstance(v, torch.Generator)}
    return {"global": global_rng_state(), "generators": generators}


def _set_rng(state: Mapping[str, Any], rng: dict[str, Any]) -> None:
    set_global_rng_state(rng["global"])
    for k, g in rng["generators"].items():
        state[k].set_state(g)


def _check_positive(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")
    return value


def _evaluate(evaluate: Callable[[], Mapping[str, float]], modules: list[nn.Module]) -> dict[str, float]:
    """``evaluate()`` under no_grad with the modules of ``state`` in eval mode; their modes are restored."""
    modes = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        with torch.no_grad():
            return dict(evaluate())
    finally:
        for m, training in modes:
            m.training = training


def train(
    step: Callable[[Any], Mapping[str, Tensor | float]],
    data: Iterable[Any] | Callable[[int], Iterable[Any]],
    *,
    state: dict[str, Any],
    steps: int | None = None,
    epochs: int | None = None,
    run: RunLike | None = None,
    name: str = "train",
    log_every: int | None = None,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
    evaluate_every: int | None = None,
    checkpoint_every: int | None = None,
    early_stopping: EarlyStopping | None = None,
    allow_test_monitor: bool = False,
    epoch_scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    guard: NonFiniteGuard | None = None,
) -> TrainResult:
    """Call ``step(batch)`` on the batches of ``data`` for ``steps`` steps or ``epochs`` epochs.

    Args:
        step: does one whole optimization step on ``batch`` (any number of optimizers) and returns its metrics
            (0-d tensors or floats; keep them on the device: the loop averages them there, without a host
            synchronization, and reads them once per logging interval).
        data: ``data(epoch)`` -> the batches of epoch ``epoch`` (0-based; shuffle from a generator in ``state``,
            e.g. with :func:`minibatches`), a re-iterable (a list of batches, a ``DataLoader``: one pass per
            epoch), or an iterator (a stream, e.g. RL rollouts: ``steps=`` only, never replayed).
        state: everything a resumed run needs, by name: modules, optimizers, schedulers, ``GradScaler`` (anything
            with ``state_dict``/``load_state_dict``), ``torch.Generator`` s (``get_state``/``set_state``) and plain
            values (numbers, lists, tensors; restored into this dict, so read them as ``state["k"]``). Every
            generator ``step`` and ``data`` draw from must be here.
        steps, epochs: the length of training; exactly one. The ``*_every`` intervals count in this unit.
        run: where to log (``"{name}/{metric}"`` at each interval's end), show progress and checkpoint.
        name: the checkpoint key and metric prefix.
        log_every: the logging interval (default 1 epoch, or 100 steps); the last interval may be shorter.
        evaluate: ``evaluate() -> metrics``, run in eval mode under ``torch.no_grad`` every ``evaluate_every``
            (default ``log_every``; a multiple of it) and at the end. Its names must differ from ``step``'s.
        checkpoint_every: checkpoint interval (a multiple of ``log_every``; default 10 of them); also at the end.
        early_stopping: sees every evaluation (every interval without ``evaluate``), in this unit; with
            ``restore_best`` it restores the modules of ``state``. A monitor starting with ``test_`` is refused
            (selection must be on validation data) unless ``allow_test_monitor``.
        epoch_scheduler: stepped after every epoch (a per-epoch schedule; it must also be in ``state``). A
            per-step schedule is stepped in ``step`` (``OptimizerStep(scheduler=...)``).
        guard: a :class:`NonFiniteGuard` that ``step`` also watches (gradients); one is made if None. Metrics
            whose name contains ``"loss"`` are watched; checked every step on CPU, at every log point elsewhere.

    Resume: the checkpoint (under ``name``) holds ``state``, the global RNG states (Python, numpy, torch), the
    position, the history and early stopping's state. Checkpoints fall at interval ends; with ``epochs=`` those
    are epoch ends. A checkpoint inside an epoch (``steps=``) is resumed by calling ``data(epoch)`` again under
    the RNG states the epoch started with and skipping the batches already used, which reproduces the epoch
    when its batches depend only on the epoch and on generators ``step`` does not draw from between batches
    (a permutation drawn when the epoch starts, as :func:`minibatches` and ``DataLoader`` do). A stream is not
    replayed: it must draw from what ``state`` restores. A finished checkpoint returns at once.

    Example (a GAN: two optimizers in one step, a per-step schedule, clipping)::

        d_update = OptimizerStep(d_opt, clip_norm=1.0)
        g_update = OptimizerStep(g_opt, scheduler=g_sched)

        def step(batch):
            (real,) = batch
            fake = gen(torch.randn(len(real), 8, generator=noise))
            d_loss = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
            d_update(d_loss)
            g_loss = bce(disc(fake), ones)
            g_update(g_loss)
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

        state = {"gen": gen, "disc": disc, "d_opt": d_opt, "g_opt": g_opt, "g_sched": g_sched,
                 "noise": noise, "order": order}
        train(step, lambda epoch: minibatches(x, batch_size=64, generator=order), steps=5000, state=state,
              run=run, log_every=50, checkpoint_every=500)

    Raises:
        DivergenceError: a watched value is NaN/inf, naming it and the first step where it was.
        ValueError: bad lengths or intervals, an iterator with ``epochs=``, data that runs dry, a metric name
            clash, a ``test_`` monitor.
        CheckpointError: a checkpoint that does not fit ``state``, or early stopping that changed.
    """
    if (steps is None) == (epochs is None):
        raise ValueError("pass exactly one of steps= and epochs=")
    by_epoch = epochs is not None
    total: int = epochs if epochs is not None else steps  # type: ignore[assignment]
    _check_positive("steps" if steps is not None else "epochs", total)
    log_every = _check_positive(
        "log_every", (1 if by_epoch else min(100, total)) if log_every is None else log_every
    )
    evaluate_every = _check_positive(
        "evaluate_every", log_every if evaluate_every is None else evaluate_every
    )
    checkpoint_every = _check_positive(
        "checkpoint_every", 10 * log_every if checkpoint_every is None else checkpoint_every
    )
    if evaluate_every % log_every or checkpoint_every % log_every:
        raise ValueError(
            f"evaluate_every ({evaluate_every}) and checkpoint_every ({checkpoint_every}) must be multiples of "
            f"log_every ({log_every})"
        )
    stream = not callable(data) and iter(data) is data
    if stream and by_epoch:
        raise ValueError("an iterator has no epochs: pass steps=, or data as a callable epoch -> batches")
    batches: Callable[[int], Iterable[Any]] = data if callable(data) else (lambda epoch: data)
    if early_stopping is not None and early_stopping.monitor.startswith("test_") and not allow_test_monitor:
        raise ValueError(
            f"early stopping monitors {early_stopping.monitor!r}, a test metric: select on a validation split "
            "(monitor='val_...'), or pass allow_test_monitor=True to do this knowingly"
        )
    if epoch_scheduler is not None and not any(v is epoch_scheduler for v in state.values()):
        raise ValueError("epoch_scheduler must also be in state, so that it is checkpointed")
    named_modules = {k: v for k, v in state.items() if isinstance(v, nn.Module)}
    modules = list(named_modules.values())
    # what early stopping snapshots and restores: the one module, or all of them (keys must then be plain names)
    best_of = modules[0] if len(modules) == 1 else nn.ModuleDict(named_modules) if modules else None
    if early_stopping is not None and early_stopping.restore_best and best_of is None:
        raise ValueError("early stopping with restore_best restores the modules of state, and state has none")
    run = run if run is not None else NullRun()
    guard = guard if guard is not None else NonFiniteGuard()
    result = TrainResult()
    epoch = batch_in_epoch = 0
    epoch_rng: dict[str, Any] | None = None

    saved = run.load_state(name)
    if saved is not None:
        try:
            saved_state, rng = dict(saved["state"]), saved["rng"]
            epoch, batch_in_epoch, result.steps = (
                int(saved["epoch"]),
                int(saved["batch"]),
                int(saved["steps"]),
            )
            result.history, result.at = [dict(h) for h in saved["history"]], [int(a) for a in saved["at"]]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"checkpoint {name!r} was not written by udl.train.train") from None
        if set(saved_state) != set(state):
            raise CheckpointError(f"checkpoint {name!r} holds {sorted(saved_state)}, not {sorted(state)}")
        for key in state:
            _restore(state, key, saved_state[key], name)
        set_global_rng_state(rng)
        epoch_rng = saved.get("epoch_rng")
        if early_stopping is not None:
            if "early_stopping" not in saved:
                raise CheckpointError(
                    f"checkpoint {name!r} was saved without early stopping; resume without it"
                )
            early_stopping.load_state_dict(saved["early_stopping"])
    result.epochs = epoch
    result.resumed_from = done = epoch if by_epoch else result.steps

    def checkpoint() -> None:
        run.save_state(
            name,
            {
                "state": {k: _snapshot(v) for k, v in state.items()},
                "rng": global_rng_state(),
                **{"epoch": epoch, "batch": batch_in_epoch, "steps": result.steps},
                **{"history": result.history, "at": result.at},
                **({"epoch_rng": epoch_rng} if batch_in_epoch and epoch_rng is not None else {}),
                **({"early_stopping": early_stopping.state_dict()} if early_stopping is not None else {}),
            },
        )

    sums: dict[str, Tensor | float] = {}
    counts: dict[str, int] = {}

    def end_interval(at: int) -> bool:
        """Log the interval ending at ``at``, evaluate, early-stop, checkpoint; True when training ends."""
        guard.check()
        metrics = {k: float(v) / counts[k] for k, v in sums.items()}
        if distributed.is_distributed() and metrics:  # under DDP: the mean of the ranks' interval means
            names = sorted(metrics)
            means = distributed.all_reduce_mean(
                torch.tensor([metrics[k] for k in names], dtype=torch.float64)
            )
            metrics = {k: float(v) for k, v in zip(names, means.tolist(), strict=True)}
        sums.clear()
        counts.clear()
        last = at == total
        evaluated = evaluate is not None and (at % evaluate_every == 0 or last)
        if evaluate is not None and evaluated:
            extra = _evaluate(evaluate, modules)
            if clash := sorted(set(extra) & set(metrics)):
                raise ValueError(f"evaluate returns {clash}, which the step already returns: rename them")
            metrics.update(extra)
        result.history.append(metrics)
        result.at.append(at)
        run.log(at, **{f"{name}/{k}": v for k, v in metrics.items()})
        bar.update(at, **{k: v for k, v in metrics.items() if "loss" in k})
        if early_stopping is not None and (evaluated or evaluate is None):
            last = early_stopping.step(at, metrics, best_of) or last
            if last and early_stopping.restore_best:
                assert best_of is not None
                early_stopping.restore(best_of)  # the checkpoint below then holds the best weights
        if at % checkpoint_every == 0 or last:
            checkpoint()
        return last

    finished = done >= total or (early_stopping is not None and early_stopping.should_stop)
    with run.progress(total, name) as bar:
        bar.update(total if finished else done)
        it: Iterator[Any] | None = None
        if not finished and batch_in_epoch and not stream:  # resume inside an epoch: replay its first batches
            assert epoch_rng is not None, "a mid-epoch checkpoint holds the epoch's starting RNG states"
            now = _rng(state)
            _set_rng(state, epoch_rng)
            it = iter(batches(epoch))
            for _ in range(batch_in_epoch):
                if next(it, it) is it:
                    raise CheckpointError(f"checkpoint {name!r}: epoch {epoch} has fewer batches than it had")
            _set_rng(state, now)
        while not finished:
            if it is None:
                epoch_rng = _rng(state) if not (by_epoch or stream) else None
                it = iter(batches(epoch))
            batch = next(it, it)
            if batch is it:  # the epoch is over
                if stream:
                    raise ValueError(f"the data stream ran dry after {result.steps} of {total} steps")
                if batch_in_epoch == 0:
                    raise ValueError(f"data yielded no batches in epoch {epoch}")
                epoch, batch_in_epoch, it = epoch + 1, 0, None
                result.epochs = epoch
                if epoch_scheduler is not None:
                    epoch_scheduler.step()
                if by_epoch and (epoch % log_every == 0 or epoch == total):
                    finished = end_interval(epoch)
                continue
            result.steps += 1
            batch_in_epoch += 1
            guard.step = result.steps
            for k, v in step(batch).items():
                if "loss" in k:
                    guard.watch(f"{name}/{k}", v)
                v = v.detach().to(torch.float64) if isinstance(v, Tensor) else float(v)
                sums[k], counts[k] = (sums[k] + v, counts[k] + 1) if k in sums else (v, 1)
            if not by_epoch and (result.steps % log_every == 0 or result.steps == total):
                finished = end_interval(result.steps)
    if early_stopping is not None:
        result.stopped_at, result.best_at = early_stopping.stopped_epoch, early_stopping.best_epoch
    return result
