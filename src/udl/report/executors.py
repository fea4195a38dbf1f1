"""Running a suite's experiments as Ray tasks (``udl reproduce --executor ray [--address ADDR]``).

Each (experiment, preset) is one task that asks for ``threads`` CPUs (and one GPU with ``--device cuda``)
and runs :func:`udl.report.runner.execute` into a temporary directory on its worker; it returns the finished
run directory as a tar archive, which the driver unpacks into ``out/<experiment>``. So the driver writes the
same run directories and index as the local executor, and the workers need no shared file system (an
unfinished run the driver holds travels to the task as an archive, and the task resumes it).

Failures are reported, never lost: an experiment that raises or diverges finishes as a ``status: failed``
run (as locally); a task that returns nothing (its worker died, it could not start) becomes a failed run
directory written by the driver with Ray's error (:func:`udl.report.runner.record_failure`). Tasks are not
retried (``max_retries=0``): a run that kills its worker would kill the next one too.

Ray is an optional dependency (``pip install 'udl[cluster]'``); the workers need udl installed (a local
cluster started by ``ray.init`` inherits this process's environment).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from udl.errors import UsageError
from udl.experiments import Experiment
from udl.report import runner

__all__ = ["ray_missing_check", "run_on_ray"]


def ray_missing_check() -> None:
    """A UsageError naming the extra to install when Ray cannot be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'udl[cluster]'") from None


def _pack(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(directory, arcname=directory.name)
    return buffer.getvalue()


def _unpack(data: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(into, filter="data")


def _task(
    exp: Experiment, preset: str, device: str, threads: int, partial: bytes | None, tensorboard: bool
) -> bytes:
    """On a worker: run (or resume) the experiment in a temporary directory; its finished directory, packed."""
    with tempfile.TemporaryDirectory(prefix="udl-ray-") as tmp:
        final = Path(tmp) / exp.name
        if partial is not None:
            _unpack(partial, Path(tmp))
        runner.execute(
            exp, exp.presets[preset], preset, final=final, device=device, resume=partial is not None,
            threads=threads, tensorboard=tensorboard,
        )  # fmt: skip
        return _pack(final)


def run_on_ray(
    pending: list[tuple[Experiment, str, bool]],
    *,
    out: Path,
    device: str,
    threads: int,
    address: str | None,
    console: Console | None,
    tensorboard: bool = False,
) -> Iterator[runner.Outcome]:
    """Submit one task per (experiment, preset, resume) and yield each outcome as its task ends (the run
    directory is in ``out`` by then)."""
    ray_missing_check()
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote: Any = ray.remote(_task)
    gpus = 1 if device == "cuda" else 0
    started = time.perf_counter()
    refs: dict[Any, tuple[Experiment, str]] = {}
    for exp, preset, resume in pending:
        partial = out / (exp.name + runner.PARTIAL)
        packed = _pack(partial) if resume else None
        options = remote.options(num_cpus=threads, num_gpus=gpus, max_retries=0, name=f"udl:{exp.name}")
        refs[options.remote(exp, preset, device, threads, packed, tensorboard)] = (exp, preset)
    waiting = list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        exp, preset = refs[done[0]]
        final = out / exp.name
        try:
            data = ray.get(done[0])
        except Exception as e:  # the task raised (a usage error, a dead worker): a failed run, not a lost one
            error = (
                f"ray task failed: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e) else ''}"
            )
            seconds = time.perf_counter() - started
            outcome = runner.record_failure(exp, preset, final, device=device, error=error, seconds=seconds)
        else:
            partial = out / (exp.name + runner.PARTIAL)
            if partial.exists():
                shutil.rmtree(partial)  # the task finished it from its archive (locally: renamed)
            _unpack(data, out)
            outcome = runner.Outcome(final, runner.read_result(final))
        if console is not None:
            console.print(f"[dim]ray: {exp.name} {outcome.result['status']}[/]")
        yield outcome
