"""Executing experiments into run directories (``udl run``) and suites into an index (``udl reproduce``).

result.json schema (one document per run directory):

```
{"experiment": str, "preset": str, "status": "ok" | "failed", "error": str | null,
 "seconds": float,                         # wall time of the invocation that finished the run
 "resumed": bool,                          # finished by --resume
 "chapter": int, "summary": str, "context": str,
 "metrics": {name: value},                 # last logged value of each metric, then run.summary() values
 "claims": [{"id", "statement", "holds": true|false|null, "verdict", "measured", "expected"}],
 "checks": [{"id", "statement", "holds", "verdict", "measured", "expected", "error", "tolerance"}],
 "figures": ["figures/<name>.png", ...]}
```

A run directory is written as ``<final>.partial`` and renamed to ``<final>`` only when result.json and
report.html are complete; a killed run therefore never looks finished and can be resumed from the
``.partial`` directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import sys
import time
import traceback
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

import udl
from udl.errors import DivergenceError, UsageError
from udl.experiments import Experiment, get_experiment, suite
from udl.report._run import Run, tensorboard_missing
from udl.report.html import render_index, render_run
from udl.report.validate import validate_config
from udl.report.verdicts import tally
from udl.train import distributed, seed_everything

log = logging.getLogger(__name__)

PARTIAL = ".partial"


# -- config (de)serialisation -------------------------------------------------------------------------------
def config_to_json(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _coerce(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(annotation)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner) for v in value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return _coerce(value, arg)
    return value


def config_from_json(config_class: type, data: dict[str, Any]) -> Any:
    """Rebuild a Config from config.json's "config" object; unknown or missing fields are a UsageError."""
    hints = typing.get_type_hints(config_class)
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = set(data) - names
    if unknown:
        raise UsageError(
            f"config.json has fields {sorted(unknown)} that {config_class.__module__} does not know"
        )
    try:
        cfg = config_class(**{k: _coerce(v, hints[k]) for k, v in data.items()})
    except (TypeError, ValueError, OverflowError) as e:
        raise UsageError(f"config.json does not make a valid config: {e}") from None
    try:
        return validate_config(cfg)
    except UsageError as e:
        raise UsageError(f"config.json does not make a valid config: {e}") from None


def resolve_device(name: Any) -> torch.device:
    if not isinstance(name, str):
        raise UsageError(f"device must be one of auto, cpu, cuda; got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for but no CUDA device is available; valid: auto, cpu")
        return torch.device("cuda")
    raise UsageError(f"unknown device {name!r}; valid: auto, cpu, cuda")


# -- run directories ----------------------------------------------------------------------------------------
def is_finished(directory: Path) -> bool:
    return (directory / "result.json").is_file()


def _partial(final: Path) -> Path:
    return final.with_name(final.name + PARTIAL)


def default_run_dir(name: str, root: Path = Path("runs")) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / name / f"{stamp}-{os.urandom(3).hex()}"


def check_fresh_target(final: Path) -> None:
    """A UsageError unless ``final`` (and its .partial twin) can be created from nothing."""
    if is_finished(final):
        raise UsageError(f"--out {final} already holds a finished run; choose another directory")
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise UsageError(f"--out {final} exists and is not an empty directory; choose another directory")
    if _partial(final).exists():
        raise UsageError(
            f"{_partial(final)} holds an unfinished run; continue it with --resume {_partial(final)} "
            "or delete it"
        )


def locate_resume(path: Path) -> tuple[Path, Path]:
    """(partial, final) directories for ``--resume PATH`` (PATH may name either)."""
    if path.name.endswith(PARTIAL):
        partial, final = path, path.with_name(path.name[: -len(PARTIAL)])
    else:
        partial, final = _partial(path), path
    if is_finished(final) and not partial.exists():
        raise UsageError(f"--resume {path}: that run already finished; nothing to resume")
    if not partial.is_dir():
        raise UsageError(f"--resume {path}: no unfinished run there (expected a directory {partial})")
    if not (partial / "config.json").is_file():
        raise UsageError(f"--resume {path}: {partial} has no config.json, so it is not a udl run directory")
    return partial, final


def _create_partial(partial: Path, final: Path) -> None:
    """Create the run's .partial directory, or one UsageError saying why it cannot be (nothing left behind)."""
    existing = partial.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {final}: {existing} is a file, not a directory; choose another --out")
    try:
        partial.mkdir(parents=True)
    except OSError as e:
        raise UsageError(
            f"--out {final} cannot be created: {e.strerror or e}; choose another --out"
        ) from None


@contextlib.contextmanager
def intra_op_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (restored after).

    udl's experiments train small models (MLPs of a few hundred units, CNNs of a few thousand parameters) on
    batches of ~100: a second OpenMP thread gains little on them and, when another process holds a core, the
    threads spin at barriers and the run slows several-fold. So runs use one thread unless asked
    (``udl run --threads N``).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Outcome:
    directory: Path
    result: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return tally(self.result).exit_code


def _prepare_directory(
    exp: Experiment, cfg: Any, preset: str, final: Path, dev: torch.device, resume: bool, world: int
) -> None:
    """Create ``final.partial`` with config.json and an empty metrics.jsonl (or check it exists, to resume)."""
    partial = _partial(final)
    if resume:
        if not partial.is_dir():
            raise UsageError(f"no unfinished run at {partial}")
        return
    check_fresh_target(final)
    _create_partial(partial, final)
    try:
        # every run directory has a metrics.jsonl, even if the experiment logs nothing
        (partial / "metrics.jsonl").touch()
        _write_json(
            partial / "config.json",
            {
                "experiment": exp.name,
                "preset": preset,
                "config": config_to_json(cfg),
                "seed": cfg.seed,
                "device": str(dev),
                "processes": world,
                "udl_version": udl.__version__,
                "torch_version": torch.__version__,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "command": sys.argv,
            },
        )
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise UsageError(f"cannot write the run directory {partial}: {e.strerror or e}") from None


def execute(
    exp: Experiment,
    cfg: Any,
    preset: str,
    *,
    final: Path,
    device: str = "auto",
    resume: bool = False,
    console: Console | None = None,
    threads: int = 1,
    tensorboard: bool = False,
) -> Outcome:
    """Run ``exp`` with ``cfg`` into ``final`` (via ``final.partial``); ``resume`` continues that partial dir.

    ``tensorboard`` also writes TensorBoard event files into the run directory. Under torchrun (``udl run
    --nproc N``) every rank runs the experiment and only rank 0 writes; the others return the same outcome
    without touching the disk.

    Everything that can be checked before the run is checked before anything is written: the config
    (:func:`udl.report.validate.validate_config`), the preset, the device and the target directory (bad input:
    :class:`UsageError`, nothing on disk). A run that then fails (an exception, a NaN) is finished as a directory
    with ``status: failed`` (exit code 3); an interrupted one stays ``.partial`` for ``--resume``.
    """
    dev = resolve_device(device)
    cfg = validate_config(cfg)
    if preset not in exp.presets:
        raise UsageError(f"unknown preset {preset!r} for {exp.name}; valid: {', '.join(exp.presets)}")
    if tensorboard and (missing := tensorboard_missing()) is not None:
        raise UsageError(missing)
    distributed.init_from_env(dev)
    rank, world = distributed.rank_and_world()
    partial = _partial(final)
    problem = None
    if rank == 0:
        try:
            _prepare_directory(exp, cfg, preset, final, dev, resume, world)
        except UsageError as e:
            problem = str(e)
    problem = distributed.broadcast_object(problem)  # every rank stops on bad input, not only rank 0
    if problem is not None:
        raise UsageError(problem)
    identity = {"experiment": exp.name, "preset": preset, "seed": cfg.seed, "config": config_to_json(cfg)}
    run = Run(
        partial,
        device=dev,
        console=console if rank == 0 else None,
        resume=resume,
        identity=identity,
        tensorboard=tensorboard,
    )
    if resume and console is not None:
        console.print(
            f"[dim]resuming {partial}: {run.resumed_lines} metric lines and {run.resumed_checkpoints} "
            "checkpoints kept; replaying the rest[/]"
        )
    status, error = "ok", None
    start = time.perf_counter()
    seed_everything(cfg.seed)
    try:
        with intra_op_threads(threads):
            exp.run(cfg, run)
    except UsageError:
        run.close()
        if not resume and rank == 0:
            shutil.rmtree(partial, ignore_errors=True)  # bad input: leave nothing half-written
        raise
    except DivergenceError as e:
        status, error = "failed", str(e)
    except Exception as e:  # a bug or an impossible computation: record it, keep the traceback beside
        status, error = "failed", f"{type(e).__name__}: {e}"
        if rank == 0:
            (partial / "traceback.txt").write_text(traceback.format_exc())
    finally:
        run.close()
    result = _result_doc(exp, preset, status, error, time.perf_counter() - start, resume, run)
    if rank != 0:
        return Outcome(final, result)
    return _finish(partial, final, result)


def _result_doc(
    exp: Experiment,
    preset: str,
    status: str,
    error: str | None,
    seconds: float,
    resume: bool,
    run: Run | None,
) -> dict[str, Any]:
    return {
        "experiment": exp.name,
        "preset": preset,
        "status": status,
        "error": error,
        "seconds": round(seconds, 3),
        "resumed": resume,
        "chapter": exp.chapter,
        "summary": exp.summary,
        "context": exp.context,
        "metrics": run.metrics if run is not None else {},
        "claims": [c.to_json() for c in run.claims] if run is not None else [],
        "checks": [c.to_json() for c in run.checks] if run is not None else [],
        "figures": list(run.figures) if run is not None else [],
    }


def _finish(partial: Path, final: Path, result: dict[str, Any]) -> Outcome:
    """Write result.json and report.html into ``partial`` and rename it to ``final``."""
    _write_json(partial / "result.json", result)
    (partial / "report.html").write_text(render_run(partial))
    if final.exists():  # an empty directory named by --out
        final.rmdir()
    os.replace(partial, final)
    return Outcome(final, result)


def record_failure(
    exp: Experiment, preset: str, final: Path, *, device: str, error: str, seconds: float = 0.0
) -> Outcome:
    """A finished run directory with ``status: failed`` for a run that returned nothing (a remote worker that
    died, a task that could not start): the index reports it instead of losing it. An unfinished run there
    (``final.partial``) is kept, moved aside, so its checkpoints are not lost either."""
    partial = _partial(final)
    if partial.exists():
        _move_aside(partial)
    where = torch.device("cuda" if device == "cuda" else "cpu")  # where it was asked to run
    _prepare_directory(exp, exp.presets[preset], preset, final, where, False, 1)
    return _finish(partial, final, _result_doc(exp, preset, "failed", error, seconds, False, None))


def resume_run(
    path: Path,
    name: str,
    *,
    device: str | None = None,
    console: Console | None = None,
    threads: int = 1,
    tensorboard: bool = False,
) -> Outcome:
    """Continue the killed run of experiment ``name`` at ``path`` with the config, preset and device it
    started with (``device`` overrides the last).

    config.json is trusted no more than command-line input: it is validated like it, and every checkpoint must
    have been written by a run of the same experiment, preset, seed and config (else a UsageError).
    """
    partial, final = locate_resume(path)
    where = partial / "config.json"
    doc = read_json(where)
    if not isinstance(doc, dict):
        raise UsageError(f"{where} is not a udl config (not a JSON object)")
    if doc.get("experiment") != name:
        raise UsageError(f"--resume {path} is a run of {doc.get('experiment')!r}, not of {name!r}")
    exp = get_experiment(name)
    for key in ("preset", "config", "device"):
        if key not in doc:
            raise UsageError(f"{where} is not a udl config: it has no {key!r}")
    if not isinstance(doc["config"], dict):
        raise UsageError(f"{where}: 'config' must be an object of fields")
    preset = doc["preset"]
    if preset not in exp.presets:
        raise UsageError(f"{where}: unknown preset {preset!r}; valid: {', '.join(exp.presets)}")
    cfg = config_from_json(exp.config_class, doc["config"])
    if doc.get("seed", cfg.seed) != cfg.seed:
        raise UsageError(f"{where}: seed {doc.get('seed')!r} differs from the config's seed {cfg.seed}")
    saved_device = doc["device"]
    if not isinstance(saved_device, str) or saved_device.split(":")[0] not in ("cpu", "cuda"):
        raise UsageError(f"{where}: device must be 'cpu' or 'cuda[:N]', got {saved_device!r}")
    dev = device or ("cuda" if saved_device.startswith("cuda") else "cpu")
    return execute(
        exp,
        cfg,
        preset,
        final=final,
        device=dev,
        resume=True,
        console=console,
        threads=threads,
        tensorboard=tensorboard,
    )


def _check_result(doc: Any, path: Path) -> dict[str, Any]:
    """A result.json document, or one UsageError saying what is wrong with it."""
    if not isinstance(doc, dict):
        raise UsageError(f"{path} is not a udl result: expected a JSON object, got {type(doc).__name__}")
    expected: dict[str, type | tuple[type, ...]] = {
        "experiment": str,
        "preset": str,
        "status": str,
        "seconds": (int, float),
        "metrics": dict,
        "claims": list,
        "figures": list,
    }
    for key, kind in expected.items():
        if key not in doc:
            raise UsageError(f"{path} is not a udl result: it has no {key!r}")
        if not isinstance(doc[key], kind) or isinstance(doc[key], bool):
            raise UsageError(f"{path}: {key!r} has the wrong type ({type(doc[key]).__name__})")
    if doc["status"] not in ("ok", "failed"):
        raise UsageError(f"{path}: status must be 'ok' or 'failed', got {doc['status']!r}")
    for section in ("claims", "checks"):
        items = doc.get(section, [])
        if not isinstance(items, list):
            raise UsageError(f"{path}: {section!r} must be a list")
        for i, item in enumerate(items):
            missing = (
                [k for k in ("id", "statement", "holds", "measured", "expected") if k not in item]
                if isinstance(item, dict)
                else ["everything"]
            )
            if missing:
                raise UsageError(f"{path}: {section}[{i}] lacks {', '.join(missing)}")
            if item["holds"] not in (True, False, None):
                raise UsageError(f"{path}: {section}[{i}].holds must be true, false or null")
    if not all(isinstance(f, str) for f in doc["figures"]):
        raise UsageError(f"{path}: 'figures' must be a list of paths")
    return doc


def read_result(directory: Path) -> dict[str, Any]:
    """A run directory's result.json, validated (UsageError naming the problem otherwise)."""
    return _check_result(read_json(directory / "result.json"), directory / "result.json")


def rerender(directory: Path) -> Path:
    """Re-render report.html (a run directory) or index.html (a ``reproduce`` directory) from its files."""
    if is_finished(directory):
        config = read_json(directory / "config.json")
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise UsageError(f"{directory / 'config.json'} is not a udl config: it has no 'config' object")
        read_result(directory)
        path = directory / "report.html"
        path.write_text(render_run(directory))
        return path
    if (directory / "index.json").is_file():
        index = read_json(directory / "index.json")
        if not isinstance(index, dict) or not isinstance(index.get("title"), str):
            raise UsageError(f"{directory / 'index.json'} is not a udl index: it has no 'title'")
        notes = index.get("notes", {})
        return write_index(directory, index["title"], notes if isinstance(notes, dict) else {})
    if directory.with_name(directory.name + PARTIAL).exists() or directory.name.endswith(PARTIAL):
        raise UsageError(f"{directory} is an unfinished run; finish it with udl run --resume first")
    raise UsageError(f"{directory} is neither a finished run directory nor a reproduce directory")


# -- suites -------------------------------------------------------------------------------------------------
def write_index(root: Path, title: str, notes: dict[str, str] | None = None) -> Path:
    """index.json + index.html for every finished run directly under ``root``; ``notes`` says, per run
    directory, whether it was kept, resumed, run or re-run (and why)."""
    notes = dict(notes or {})
    entries = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and is_finished(p)):
        result = dict(read_result(child))
        result["reuse"] = notes.get(child.name, "")
        entries.append((child.name, result))
    _write_json(root / "index.json", {"title": title, "runs": [rel for rel, _ in entries], "notes": notes})
    path = root / "index.html"
    path.write_text(render_index(title, entries))
    return path


def _reuse_problem(directory: Path, exp: Experiment, preset: str) -> str | None:
    """None if the run in ``directory`` (finished or .partial) is one this request may keep or resume; else why
    not: another experiment, preset, config or udl version, or a failed status."""
    try:
        config = read_json(directory / "config.json")
    except UsageError:
        return "unreadable config.json"
    if not isinstance(config, dict):
        return "config.json is not an object"
    wanted = config_to_json(exp.presets[preset])
    for key, want, what in (
        ("experiment", exp.name, "experiment"),
        ("preset", preset, "preset"),
        ("config", wanted, "resolved config"),
        ("udl_version", udl.__version__, "udl version"),
    ):
        if config.get(key) != want:
            return f"{what} differs ({config.get(key) if key != 'config' else 'edited'} ≠ requested)"
    if is_finished(directory):
        try:
            result = read_result(directory)
        except UsageError:
            return "unreadable result.json"
        if result["status"] != "ok":
            return f"status {result['status']}"
    return None


def _move_aside(directory: Path) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = directory.with_name(f"{directory.name}.replaced-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = directory.with_name(f"{directory.name}.replaced-{stamp}-{n}")
    os.replace(directory, target)
    return target


EXECUTORS: tuple[str, ...] = ("local", "ray")


def reproduce(
    suite_name: str,
    *,
    out: Path | None,
    device: str = "auto",
    console: Console | None = None,
    threads: int = 1,
    executor: str = "local",
    address: str | None = None,
    tensorboard: bool = False,
) -> tuple[Path, list[Outcome]]:
    """Run every (experiment, preset) of a suite into ``out/<experiment>`` (see :func:`run_suite`)."""
    pairs = suite(suite_name)
    if out is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path("runs") / f"reproduce-{suite_name}-{stamp}"
    experiments = [(get_experiment(name), preset) for name, preset in pairs]
    return out, run_suite(
        experiments,
        out=out,
        title=f"udl reproduce --suite {suite_name}",
        device=device,
        console=console,
        threads=threads,
        executor=executor,
        address=address,
        tensorboard=tensorboard,
    )


def run_suite(
    experiments: list[tuple[Experiment, str]],
    *,
    out: Path,
    title: str,
    device: str = "auto",
    console: Console | None = None,
    threads: int = 1,
    executor: str = "local",
    address: str | None = None,
    tensorboard: bool = False,
) -> list[Outcome]:
    """Run ``experiments`` (experiment, preset) into ``out/<experiment>`` and write ``out/index.html``.

    A finished run there is kept only if its experiment, preset, resolved config and udl version equal the
    request and its status is ok; an unfinished one is resumed under the same condition. Anything else is moved
    aside (``<name>.replaced-<time>``, never deleted) and run again; index.html says which happened to each.
    So the same command after an interruption carries on where it stopped, and a different suite into the same
    directory never silently keeps another preset's results.

    ``executor="local"`` runs them one after another in this process; ``"ray"`` runs each as a Ray task
    (:mod:`udl.report.executors`) on the cluster at ``address`` (a local one if None), and this process
    writes the same run directories and index from what the tasks return.
    """
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if executor == "local" or device not in ("auto", "cuda"):
        resolve_device(device)  # on Ray, CUDA is the workers' business (a task asks for a GPU)
    if executor == "ray":
        from udl.report import executors

        executors.ray_missing_check()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out} cannot be created: {e.strerror or e}; choose another --out") from None
    outcomes: dict[str, Outcome] = {}
    notes: dict[str, str] = {}
    pending: list[tuple[Experiment, str, bool]] = []  # (experiment, preset, resume)
    for i, (exp, preset) in enumerate(experiments, 1):
        final = out / exp.name
        if console is not None:
            console.print(f"[bold]({i}/{len(experiments)}) {exp.name}[/] [dim]preset {preset} → {final}[/]")
        note = "run"
        for existing in (final, _partial(final)):
            if not existing.exists():
                continue
            problem = _reuse_problem(existing, exp, preset)
            if problem is not None:
                moved = _move_aside(existing)
                note = f"re-run: the earlier run's {problem}; moved to {moved.name}"
                if console is not None:
                    console.print(f"[yellow]  {note}[/]")
        if is_finished(final):
            notes[exp.name] = "kept (finished earlier with the same config)"
            outcomes[exp.name] = Outcome(final, read_result(final))
            continue
        resume = _partial(final).is_dir()
        notes[exp.name] = "resumed" if resume else note
        if executor == "local":
            outcomes[exp.name] = execute(
                exp,
                exp.presets[preset],
                preset,
                final=final,
                device=device,
                resume=resume,
                console=console,
                threads=threads,
                tensorboard=tensorboard,
            )
            write_index(out, title, notes)
        else:
            pending.append((exp, preset, resume))
    if pending:
        from udl.report import executors

        for outcome in executors.run_on_ray(
            pending,
            out=out,
            device=device,
            threads=threads,
            address=address,
            console=console,
            tensorboard=tensorboard,
        ):
            outcomes[outcome.result["experiment"]] = outcome
            write_index(out, title, notes)
    write_index(out, title, notes)
    return [outcomes[exp.name] for exp, _ in experiments]
