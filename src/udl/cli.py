"""The ``udl`` command line: list, run, reproduce and report the book's experiments.

``udl run NAME`` is generated with tyro from the experiment's frozen ``Config`` (field docstrings become
``--help``), with the chosen preset's values as defaults. Bad input prints one line and exits with 2; a run
exits with 0 when every claim held and 1 when a claim failed or the run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from rich.console import Console
from rich.table import Table

import udl
from udl.errors import UsageError

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE = 0, 1, 2

_HELP = """\
udl — Understanding Deep Learning (Prince, 2023), runnable and verified.

commands:
  udl list [--json]                       every experiment: name, chapter, summary, presets
  udl run NAME [--preset smoke|quick|full] [--out DIR] [--device auto|cpu|cuda] [--seed N] [FIELD ...]
                                          run one experiment into a run directory (udl run NAME --help)
  udl run NAME --resume DIR               continue a killed run (DIR is its .partial directory)
  udl reproduce --suite tour|quick|full [--out DIR] [--device ...]
                                          run many experiments and write an index report
  udl report DIR                          re-render a run's report.html (or a suite's index.html)
  udl --version

exit codes: 0 every claim held · 1 a claim failed or a run failed · 2 bad input
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one UsageError line instead of usage + message."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")


def _stdout() -> Console:
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


# -- udl run ------------------------------------------------------------------------------------------------
def _scan(argv: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in argv (``--flag v`` or ``--flag=v``), without parsing anything else."""
    for i, arg in enumerate(argv):
        if arg == flag:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise UsageError(f"{flag} needs a value")
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _run_args_class(config_class: type, default: Any, presets: Sequence[str]) -> type:
    import tyro

    preset_type = Literal[tuple(presets)]  # type: ignore[valid-type]

    class RunArgs:
        config: Annotated[config_class, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="")] = default  # type: ignore[valid-type]
        preset: preset_type = "quick"  # type: ignore[valid-type]
        """which preset's values to start from: smoke (seconds, proves the code path), quick (about a minute,
        shows the claim), full (the book's protocol)"""
        out: Path | None = None
        """run directory to create (default: runs/NAME/<UTC time>-<id>); must not hold a finished run"""
        device: Literal["auto", "cpu", "cuda"] = "auto"
        """where tensors live: auto picks cuda when available"""
        resume: Path | None = None
        """continue the killed run in this directory (its .partial directory) to the same final result"""

    # This module uses postponed annotations (strings), which tyro would resolve in the module's globals, where
    # the local names config_class and preset_type do not exist: give it the evaluated types instead.
    RunArgs.__annotations__ = {
        "config": Annotated[config_class, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="")],
        "preset": preset_type,
        "out": Path | None,
        "device": Literal["auto", "cpu", "cuda"],
        "resume": Path | None,
    }
    return dataclass(frozen=True)(RunArgs)


def _condense(text: str) -> str:
    """One line from tyro's boxed error message: the lines of its first section, joined."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip("│╭╮╰╯─ ").strip()
        if set(raw.strip()) <= set("│─ ") and lines:
            break  # the box's separator: the message proper ends here
        if (line and not line.startswith(("Value error", "Unrecognized options", "Parsing error"))) or (
            line and lines
        ):
            lines.append(line)
    message = " ".join(lines)
    message = re.sub(r"\s+", " ", message).strip()
    hint = ""
    if "Perhaps you meant" in text:
        close = re.findall(r"(--[a-z0-9][a-z0-9_.-]*)", text.split("Perhaps you meant", 1)[1])
        if close:
            hint = f"; did you mean {close[0]}?"
    return (message or "invalid arguments") + hint


def _parse_run(name: str, argv: Sequence[str]) -> Any:
    import tyro

    from udl.experiments import get_experiment

    exp = get_experiment(name)
    preset = _scan(argv, "--preset") or "quick"
    if preset not in exp.presets:
        raise UsageError(f"unknown preset {preset!r} for {name}; valid: {', '.join(exp.presets)}")
    args_class = _run_args_class(exp.config_class, exp.presets[preset], list(exp.presets))
    captured = io.StringIO()
    old_columns = os.environ.get("COLUMNS")
    if not {"-h", "--help"} & set(argv):
        os.environ["COLUMNS"] = "1000"  # keep tyro's error messages on one line each so they condense cleanly
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            parsed: Any = tyro.cli(args_class, args=list(argv), prog=f"udl run {name}")
    except SystemExit as e:
        if e.code in (0, None):  # --help
            print(captured.getvalue(), end="")
            raise
        raise UsageError(
            f"udl run {name}: {_condense(captured.getvalue())} (see udl run {name} --help)"
        ) from None
    except (ValueError, TypeError) as e:  # a Config.__post_init__ rejected a value
        raise UsageError(f"udl run {name}: {e}") from None
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    return exp, parsed


def _print_claims(console: Console, outcome: Any) -> None:
    result = outcome.result
    table = Table(title=f"{result['experiment']} ({result['preset']})", title_justify="left")
    for col in ("", "claim", "measured", "expected"):
        table.add_column(col)
    for c in result["claims"]:
        table.add_row(
            "[green]✓[/]" if c["holds"] else "[red]✗[/]",
            c["statement"],
            _short(c["measured"]),
            _short(c["expected"]),
        )
    console.print(table)
    if result["status"] != "ok":
        console.print(f"[red]run failed:[/] {result['error']}")
    console.print(f"report: {outcome.directory / 'report.html'}")


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def cmd_run(argv: Sequence[str]) -> int:
    from udl.experiments import experiment_names
    from udl.report import runner

    if not argv or argv[0].startswith("-"):
        if argv and argv[0] in ("-h", "--help"):
            print(
                "usage: udl run NAME [--preset smoke|quick|full] [--out DIR] [--device auto|cpu|cuda] "
                "[--resume DIR] [FIELD ...]\n\nexperiments: "
                + ", ".join(experiment_names())
                + "\n\n`udl run NAME --help` lists NAME's fields."
            )
            return EXIT_OK
        raise UsageError("udl run needs an experiment name; valid: " + ", ".join(experiment_names()))
    name, rest = argv[0], list(argv[1:])
    resume = _scan(rest, "--resume")
    exp, parsed = _parse_run(name, rest)
    console = _stdout()
    if resume is not None:
        allowed = {"--resume", "--device"}
        extra = [a for a in rest if a.startswith("--") and a.split("=", 1)[0] not in allowed]
        if extra:
            raise UsageError(f"--resume continues a run with its own config; remove {', '.join(extra)}")
        outcome = runner.resume_run(Path(resume), name, device=_scan(rest, "--device"), console=console)
    else:
        cfg = parsed.config
        final = parsed.out if parsed.out is not None else runner.default_run_dir(name)
        runner.check_fresh_target(final)
        console.print(
            f"[bold]udl run {name}[/] preset {parsed.preset} · seed {cfg.seed} · device "
            f"{runner.resolve_device(parsed.device)} → {final}"
        )
        outcome = runner.execute(exp, cfg, parsed.preset, final=final, device=parsed.device, console=console)
    _print_claims(console, outcome)
    return outcome.exit_code


# -- the other commands -------------------------------------------------------------------------------------
def cmd_list(argv: Sequence[str]) -> int:
    from udl.experiments import all_experiments

    parser = _Parser(prog="udl list", description="List every experiment.")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = [
        {"name": e.name, "chapter": e.chapter, "summary": e.summary, "presets": list(e.presets)}
        for e in all_experiments()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = Table("name", "ch", "summary", "presets")
    for r in rows:
        table.add_row(r["name"], str(r["chapter"]), r["summary"], " ".join(r["presets"]))
    _stdout().print(table)
    return EXIT_OK


def cmd_reproduce(argv: Sequence[str]) -> int:
    from udl.report import runner
    from udl.report.html import verdict

    parser = _Parser(
        prog="udl reproduce",
        description="Run a suite of experiments (finished ones in --out are kept, unfinished ones resumed) "
        "and write index.html.",
    )
    parser.add_argument("--suite", required=True, help="tour (flagships, quick presets), quick or full")
    parser.add_argument("--out", type=Path, default=None, help="directory for the suite (default: runs/...)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    console = _stdout()
    root, outcomes = runner.reproduce(args.suite, out=args.out, device=args.device, console=console)
    table = Table(title=f"udl reproduce --suite {args.suite}", title_justify="left")
    for col in ("", "experiment", "preset", "claims", "seconds"):
        table.add_column(col)
    for o in outcomes:
        held, total = verdict(o.result)
        ok = o.exit_code == 0
        table.add_row(
            "[green]✓[/]" if ok else "[red]✗[/]",
            o.result["experiment"],
            o.result["preset"],
            f"{held}/{total}" if o.result["status"] == "ok" else "failed",
            f"{o.result['seconds']:.1f}",
        )
    console.print(table)
    for o in outcomes:
        for c in o.result["claims"]:
            if not c["holds"]:
                console.print(
                    f"[red]✗ {o.result['experiment']}: {c['statement']}[/] measured {_short(c['measured'])}"
                )
    console.print(f"report: {root / 'index.html'}")
    return EXIT_OK if all(o.exit_code == 0 for o in outcomes) else EXIT_CLAIM_FAILED


def cmd_report(argv: Sequence[str]) -> int:
    from udl.report import runner

    parser = _Parser(prog="udl report", description="Re-render a run's report.html or a suite's index.html.")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    print(runner.rerender(args.directory))
    return EXIT_OK


COMMANDS = {"list": cmd_list, "run": cmd_run, "reproduce": cmd_reproduce, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``udl`` script; returns the exit code (and exits with it when run as a script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(_HELP, end="")
            return EXIT_OK if argv else EXIT_USAGE
        if argv[0] == "--version":
            print(f"udl {udl.__version__}")
            return EXIT_OK
        command = COMMANDS.get(argv[0])
        if command is None:
            from udl.errors import did_you_mean

            raise UsageError(f"unknown command {argv[0]!r}; {did_you_mean(argv[0], COMMANDS)}")
        return command(argv[1:])
    except UsageError as e:
        _stderr().print(f"udl: error: {e}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _stderr().print("udl: interrupted; an unfinished run can be continued with udl run NAME --resume DIR")
        return 130


def entry() -> None:
    sys.exit(main())
