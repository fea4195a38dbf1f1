"""The ``Run`` object an experiment writes through: metrics, figures, claims, progress and checkpoints.

A run lives in one directory (ARCHITECTURE.md, "Runs, results, reports"):

```
config.json    resolved config, preset, versions, device, seed      (written by the runner)
metrics.jsonl  one JSON object per run.log() call: {"step": s, "<name>": value, ...}
result.json    written by the runner when run() returns (schema in udl.report.runner)
figures/*.png  one per run.figure()
checkpoints/   <key>.safetensors per run.save_state() (one file: tensors + structure in the header)
```

Resume works by deterministic replay: the experiment's ``run()`` is executed again from the top with the same
seed; ``run.log`` counts its calls and skips writing the lines already on disk; loading a checkpoint (the
training loop's ``run.load_state``) restores the call count saved with it, so a phase that is skipped because
its checkpoint says "done" still keeps the count right. On resume, metrics.jsonl is first cut back to the
number of lines the newest checkpoint had seen, so lines logged after it (and a torn last line) are redone.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from udl.errors import DivergenceError
from udl.stats import Verdict
from udl.train import ProgressLike, distributed
from udl.train import checkpoint as ckpt

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _jsonable(value: Any) -> Any:
    """Plain JSON values: tensors and numpy scalars become Python numbers; non-finite floats become None."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _guard_finite(name: str, step: int, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        if value.numel() and not bool(torch.isfinite(value).all()):
            bad = value.detach().flatten()[~torch.isfinite(value.detach().flatten())][0]
            raise DivergenceError(name, int(step), float(bad))
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _guard_finite(name, step, v)
        return
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        if not math.isfinite(number):
            raise DivergenceError(name, int(step), number)


@dataclass(frozen=True)
class Claim:
    """An empirical statement of the book turned into a measured verdict.

    ``holds`` is True, False or None (not established: the evidence does not reach the stated bar);
    ``verdict`` says the same in words (``"holds"``, ``"fails"``, ``"not established"``).
    """

    id: str
    statement: str
    holds: bool | None
    verdict: str
    measured: Any
    expected: Any

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Check:
    """An identity or exact property verified numerically: ``error`` ≤ ``tolerance``."""

    id: str
    statement: str
    holds: bool
    verdict: str
    measured: Any
    expected: Any
    error: float
    tolerance: float

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


class _RichProgress:
    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress, self._task = progress, task

    def update(self, completed: int, **fields: float) -> None:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in fields.items())
        self._progress.update(self._task, completed=completed, metrics=shown)


class _NullProgress:
    def update(self, completed: int, **fields: float) -> None:
        pass


def tensorboard_missing() -> str | None:
    """None when ``torch.utils.tensorboard`` can be used, else what to install."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return "--tensorboard needs the tensorboard package: pip install 'udl[tensorboard]'"
    return None


def _summary_writer(directory: Path) -> Any:
    """A TensorBoard writer whose event files go beside metrics.jsonl (scalars of run.log, figures)."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(directory), flush_secs=10)


class Run:
    """The handle ``run(cfg, run)`` receives. Only the runner creates it.

    Attributes:
        directory: the (temporary) run directory being written.
        device: the torch device the experiment should use.

    With ``tensorboard``, every numeric value of ``log`` is also a TensorBoard scalar (tag = its name, step =
    its step) and every figure an image, in event files in the run directory. Under DDP (torchrun) only rank
    0 writes anything; the other ranks keep the same metrics in memory and receive checkpoints from rank 0.
    """

    def __init__(
        self,
        directory: Path,
        *,
        device: torch.device,
        console: Console | None = None,
        resume: bool = False,
        identity: dict[str, Any] | None = None,
        tensorboard: bool = False,
    ) -> None:
        self.directory = directory
        self.identity: dict[str, Any] = dict(identity or {})
        """experiment, preset, seed and resolved config: stored in every checkpoint, checked on every load"""
        self.resumed_checkpoints = 0
        self.resumed_lines = 0
        self.device = device
        self._console = console
        self._metrics_path = directory / "metrics.jsonl"
        self._checkpoints = directory / "checkpoints"
        self._log_calls = 0
        self._lines_on_disk = 0
        self._last: dict[str, Any] = {}
        self._summary: dict[str, Any] = {}
        self.claims: list[Claim] = []
        self.checks: list[Check] = []
        self.figures: list[str] = []
        self._rank, self._world = distributed.rank_and_world()
        self._writes = self._rank == 0
        self._tensorboard: Any = None
        if resume and self._writes:
            self._prepare_resume()
        if tensorboard and self._writes:
            self._tensorboard = _summary_writer(directory)

    # -- metrics -------------------------------------------------------------------------------------------
    def log(self, step: int, **metrics: Any) -> None:
        """Append ``{"step": step, **metrics}`` to metrics.jsonl (values: numbers, or lists of numbers).

        Raises:
            DivergenceError: a loss (a metric whose name contains ``loss``) is NaN or infinite: the run stops at
                this step, naming it and the quantity (other metrics may be non-finite and are logged as null).
        """
        for name, value in metrics.items():
            if "loss" in name.lower():
                _guard_finite(name, step, value)
        values = {k: _jsonable(v) for k, v in metrics.items()}
        self._last.update(values)
        self._log_calls += 1
        if self._log_calls <= self._lines_on_disk or not self._writes:
            return  # replaying a resumed run: this line is already on disk (or another rank writes it)
        if self._tensorboard is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tensorboard.add_scalar(name, value, int(step))
        line = json.dumps({"step": int(step), **values}, allow_nan=False)
        with self._metrics_path.open("a") as f:
            f.write(line + "\n")
        self._lines_on_disk = self._log_calls

    def summary(self, **metrics: Any) -> None:
        """Record final metrics for result.json (they override the last logged value of the same name)."""
        self._summary.update({k: _jsonable(v) for k, v in metrics.items()})

    @property
    def metrics(self) -> dict[str, Any]:
        """result.json's metrics: the last logged value of every name, then the summary values."""
        return {**self._last, **self._summary}

    # -- figures and claims ---------------------------------------------------------------------------------
    def figure(self, name: str, fig: Figure) -> None:
        """Save ``fig`` as figures/<name>.png (the report shows figures in the order they were saved)."""
        if not _NAME.match(name):
            raise ValueError(f"figure name {name!r} must be letters, digits, '-', '_' or '.'")
        rel = f"figures/{name}.png"
        if rel not in self.figures:
            self.figures.append(rel)
        if not self._writes:
            return
        path = self.directory / "figures" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        fig.savefig(path, dpi=110, metadata={"Software": None})
        if self._tensorboard is not None:
            self._tensorboard.add_figure(name, fig, close=False)

    def _new_id(self, id: str) -> None:
        if not _NAME.match(id):
            raise ValueError(f"claim/check id {id!r} must be letters, digits, '-', '_' or '.'")
        if id in {c.id for c in self.claims} | {c.id for c in self.checks}:
            raise ValueError(f"claim/check {id!r} was recorded twice")

    def claim(self, id: str, statement: str, *, holds: bool | Verdict, measured: Any, expected: Any) -> None:
        """Record an empirical claim of the book: its ``statement``, the verdict, what was measured and expected.

        ``holds`` is a bool or a :class:`udl.stats.Verdict` (``NOT_ESTABLISHED`` where the evidence does not
        reach the stated bar). It must come from a pure, unit-tested verdict function of the measurements.
        """
        self._new_id(id)
        v = Verdict.of(holds)
        flag = {Verdict.HOLDS: True, Verdict.FAILS: False, Verdict.NOT_ESTABLISHED: None}[v]
        self.claims.append(Claim(id, statement, flag, v.value, _jsonable(measured), _jsonable(expected)))

    def check(
        self,
        id: str,
        statement: str,
        *,
        error: float,
        tolerance: float,
        measured: Any = None,
        expected: Any = None,
    ) -> None:
        """Record a check: an identity or exact property verified numerically, holding when error ≤ tolerance.

        ``measured`` and ``expected`` default to the error and ``≤ tolerance``; pass them to show more.
        """
        self._new_id(id)
        err, tol = float(error), float(tolerance)
        holds = math.isfinite(err) and err <= tol
        self.checks.append(
            Check(
                id,
                statement,
                holds,
                Verdict.of(holds).value,
                _jsonable(err if measured is None else measured),
                _jsonable(f"≤ {tol:.3g}" if expected is None else expected),
                err if math.isfinite(err) else math.nan,
                tol,
            )
        )

    # -- progress -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def progress(self, total: int, description: str) -> Iterator[ProgressLike]:
        """A progress bar (step, metrics, elapsed, ETA) on a terminal; silent otherwise (logs, pipes, tests)."""
        if self._console is None or not self._console.is_terminal:
            yield _NullProgress()
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self._console, transient=True) as progress:
            task = progress.add_task(description, total=total, metrics="")
            yield _RichProgress(progress, task)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def save_state(self, key: str, tree: Any) -> None:
        """Checkpoint ``tree`` under ``key`` (overwriting), with the log-call count and the run's identity."""
        if not _NAME.match(key):
            raise ValueError(f"checkpoint key {key!r} must be letters, digits, '-', '_' or '.'")
        if not self._writes:
            return  # under DDP rank 0 checkpoints; the ranks' states are identical
        ckpt.save_checkpoint(
            self._checkpoints / key, {"log_calls": self._log_calls, "identity": self.identity, "tree": tree}
        )

    def _read(self, stem: Path) -> dict[str, Any]:
        saved = ckpt.load_checkpoint(stem)
        path = ckpt.checkpoint_path(stem)
        if not isinstance(saved, dict) or "log_calls" not in saved or "tree" not in saved:
            raise ckpt.CheckpointError(f"corrupt checkpoint {path}: missing log_calls/tree")
        theirs = saved.get("identity")
        if theirs != self.identity:
            diff = (
                ", ".join(
                    f"{k} {theirs.get(k)!r} (this run: {self.identity.get(k)!r})"
                    for k in sorted(set(theirs) | set(self.identity))
                    if theirs.get(k) != self.identity.get(k)
                )
                if isinstance(theirs, dict)
                else "no run identity"
            )
            raise ckpt.CheckpointError(f"checkpoint {path} belongs to another run: {diff}")
        try:
            int(saved["log_calls"])
        except (TypeError, ValueError):
            raise ckpt.CheckpointError(f"corrupt checkpoint {path}: bad log_calls") from None
        return saved

    def load_state(self, key: str) -> Any | None:
        """The tree last saved under ``key``, or None; restores the log-call count saved with it.

        Under DDP rank 0 reads the checkpoint and broadcasts it (a failure to read is raised on every rank)."""
        saved: Any = None
        if self._writes:
            stem = self._checkpoints / key
            try:
                saved = self._read(stem) if ckpt.checkpoint_exists(stem) else None
            except ckpt.CheckpointError as error:
                saved = error
        if self._world > 1:
            saved = distributed.broadcast_object(saved)
        if isinstance(saved, ckpt.CheckpointError):
            raise saved
        if saved is None:
            return None
        self._log_calls = int(saved["log_calls"])
        return saved["tree"]

    def close(self) -> None:
        """Flush and close the TensorBoard writer (the runner calls this before result.json is written)."""
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def _prepare_resume(self) -> None:
        """Cut metrics.jsonl back to what the newest checkpoint had seen, and reload the last values."""
        keep = 0
        if self._checkpoints.is_dir():
            for file in sorted(self._checkpoints.glob("*.safetensors")):
                keep = max(keep, int(self._read(file.with_suffix(""))["log_calls"]))
                self.resumed_checkpoints += 1
        lines = self._metrics_path.read_text().splitlines() if self._metrics_path.exists() else []
        if len(lines) < keep:
            raise ckpt.CheckpointError(
                f"{self._metrics_path} has {len(lines)} lines but the checkpoints recorded {keep}"
            )
        lines = lines[:keep]
        self._metrics_path.write_text("".join(line + "\n" for line in lines))
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                raise ckpt.CheckpointError(f"{self._metrics_path} line {number} is not JSON") from None
            entry.pop("step", None)
            self._last.update(entry)
        self._lines_on_disk = keep
        self.resumed_lines = keep
