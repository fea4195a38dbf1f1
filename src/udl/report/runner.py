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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

import udl
from udl.errors import DivergenceError, UsageError
from udl.experiments import Experiment, get_experiment, suite
from udl.report._run import Run
from udl.report.html import render_index, render_run
from udl.report.verdicts import tally
from udl.train import seed_everything

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
        return config_class(**{k: _coerce(v, hints[k]) for k, v in data.items()})
    except (TypeError, ValueError) as e:
        raise UsageError(f"config.json does not make a valid config: {e}") from None


def resolve_device(name: str) -> torch.device:
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


def execute(
    exp: Experiment,
    cfg: Any,
    preset: str,
    *,
    final: Path,
    device: str = "auto",
    resume: bool = False,
    console: Console | None = None,
) -> Outcome:
    """Run ``exp`` with ``cfg`` into ``final`` (via ``final.partial``); ``resume`` continues that partial dir."""
    dev = resolve_device(device)
    partial = _partial(final)
    if resume:
        if not partial.is_dir():
            raise UsageError(f"no unfinished run at {partial}")
    else:
        check_fresh_target(final)
        partial.mkdir(parents=True)
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
                "udl_version": udl.__version__,
                "torch_version": torch.__version__,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "command": sys.argv,
            },
        )
    try:
        run = Run(partial, device=dev, console=console, resume=resume)
    except UsageError:
        raise  # a corrupt checkpoint: the partial directory is left exactly as it was
    status, error = "ok", None
    start = time.perf_counter()
    seed_everything(cfg.seed)
    try:
        exp.run(cfg, run)
    except UsageError:
        if not resume:
            shutil.rmtree(partial, ignore_errors=True)  # bad input: leave nothing half-written
        raise
    except DivergenceError as e:
        status, error = "failed", str(e)
    except Exception as e:  # a bug or an impossible computation: record it, keep the traceback beside
        status, error = "failed", f"{type(e).__name__}: {e}"
        (partial / "traceback.txt").write_text(traceback.format_exc())
    result = {
        "experiment": exp.name,
        "preset": preset,
        "status": status,
        "error": error,
        "seconds": round(time.perf_counter() - start, 3),
        "resumed": resume,
        "chapter": exp.chapter,
        "summary": exp.summary,
        "context": exp.context,
        "metrics": run.metrics,
        "claims": [c.to_json() for c in run.claims],
        "checks": [c.to_json() for c in run.checks],
        "figures": list(run.figures),
    }
    _write_json(partial / "result.json", result)
    (partial / "report.html").write_text(render_run(partial))
    if final.exists():  # an empty directory named by --out
        final.rmdir()
    os.replace(partial, final)
    return Outcome(final, result)


def resume_run(
    path: Path, name: str, *, device: str | None = None, console: Console | None = None
) -> Outcome:
    """Continue the killed run of experiment ``name`` at ``path`` with the config, preset and device it
    started with (``device`` overrides the last)."""
    partial, final = locate_resume(path)
    doc = read_json(partial / "config.json")
    if isinstance(doc, dict) and doc.get("experiment") != name:
        raise UsageError(f"--resume {path} is a run of {doc.get('experiment')!r}, not of {name!r}")
    try:
        exp = get_experiment(doc["experiment"])
        cfg = config_from_json(exp.config_class, doc["config"])
        preset = doc["preset"]
        saved_device = doc.get("device", "cpu")
    except (KeyError, TypeError) as e:
        raise UsageError(f"{partial / 'config.json'} is not a udl config ({e})") from None
    dev = device or ("cuda" if saved_device.startswith("cuda") else "cpu")
    return execute(exp, cfg, preset, final=final, device=dev, resume=True, console=console)


def rerender(directory: Path) -> Path:
    """Re-render report.html (a run directory) or index.html (a ``reproduce`` directory) from its files."""
    if is_finished(directory):
        read_json(directory / "config.json")
        path = directory / "report.html"
        path.write_text(render_run(directory))
        return path
    if (directory / "index.json").is_file():
        return write_index(directory, read_json(directory / "index.json")["title"])
    if directory.with_name(directory.name + PARTIAL).exists() or directory.name.endswith(PARTIAL):
        raise UsageError(f"{directory} is an unfinished run; finish it with udl run --resume first")
    raise UsageError(f"{directory} is neither a finished run directory nor a reproduce directory")


# -- suites -------------------------------------------------------------------------------------------------
def write_index(root: Path, title: str) -> Path:
    """index.json + index.html for every finished run directly under ``root``."""
    entries = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and is_finished(p)):
        entries.append((child.name, read_json(child / "result.json")))
    _write_json(root / "index.json", {"title": title, "runs": [rel for rel, _ in entries]})
    path = root / "index.html"
    path.write_text(render_index(title, entries))
    return path


def reproduce(
    suite_name: str, *, out: Path | None, device: str = "auto", console: Console | None = None
) -> tuple[Path, list[Outcome]]:
    """Run every (experiment, preset) of a suite into ``out/<experiment>``; finished ones are kept,
    unfinished ones resumed, so the same command after an interruption carries on where it stopped."""
    pairs = suite(suite_name)
    resolve_device(device)
    experiments = [(get_experiment(name), preset) for name, preset in pairs]
    if out is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path("runs") / f"reproduce-{suite_name}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for i, (exp, preset) in enumerate(experiments, 1):
        final = out / exp.name
        if console is not None:
            console.print(f"[bold]({i}/{len(experiments)}) {exp.name}[/] [dim]preset {preset} → {final}[/]")
        if is_finished(final):
            outcomes.append(Outcome(final, read_json(final / "result.json")))
            continue
        resume = _partial(final).is_dir()
        outcomes.append(
            execute(
                exp, exp.presets[preset], preset, final=final, device=device, resume=resume, console=console
            )
        )
    write_index(out, f"udl reproduce --suite {suite_name}")
    return out, outcomes
