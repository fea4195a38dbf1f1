"""The ``udl`` command line: list, run, reproduce and report the book's experiments.

``udl run NAME`` is generated with tyro from the experiment's frozen ``Config`` (field docstrings become
``--help``), with the chosen preset's values as defaults. Exit codes: 0 every claim and check held (claims
"not established" or "not evaluated at smoke" do not fail a run), 1 a claim or check did not hold, 2 bad input
(one line on stderr, nothing written), 3 the run failed (an exception, a NaN), 130 interrupted (resumable).
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
from udl.report.verdicts import EXIT_CLAIM_FAILED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, claim_mark, tally

EXIT_INTERRUPTED = 130

_HELP = """\
udl — Understanding Deep Learning (Prince, 2023), runnable and verified.

commands:
  udl list [--json]                       every experiment: name, chapter, section, summary, presets
  udl run NAME [--preset smoke|quick|full] [--out DIR] [--device auto|cpu|cuda] [--threads N] [FIELD ...]
                                          run one experiment into a run directory (udl run NAME --help)
  udl run NAME --resume DIR               continue a killed run (DIR is its .partial directory)
  udl run NAME --nproc N [--tensorboard]  data-parallel under torchrun; TensorBoard event files
  udl reproduce --suite tour|smoke|quick|full [--out DIR] [--device auto|cpu|cuda] [--threads N]
                [--executor local|ray] [--address ADDR]
                                          run many experiments and write an index report
  udl report DIR                          re-render a run's report.html (or a suite's index.html)
  udl --version

verdicts: a claim (an empirical statement of the book) holds, fails, or is not established (the evidence
  does not reach its stated bar); at --preset smoke claims are not evaluated. A check (an identity verified
  numerically) holds or fails.
exit codes: 0 every claim and check held · 1 a claim or check did not hold · 2 bad input · 3 the run failed
  (exception, NaN) · 130 interrupted (continue with --resume)
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
    """The value of ``flag`` in argv (``--flag v`` or ``--flag=v``), without parsing anything else; the last one
    wins when it is given twice, as with every other option."""
    found = None
    for i, arg in enumerate(argv):
        if arg == flag:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise UsageError(f"{flag} needs a value")
            found = argv[i + 1]
        elif arg.startswith(flag + "="):
            found = arg.split("=", 1)[1]
    return found


def _run_args_class(config_class: type, default: Any, presets: Sequence[str]) -> type:
    import tyro

    preset_type = Literal[tuple(presets)]  # type: ignore[valid-type]

    class RunArgs:
        config: Annotated[config_class, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="")] = default  # type: ignore[valid-type]
        preset: preset_type = "quick"  # type: ignore[valid-type]
        """which preset's values to start from: smoke (seconds, proves the code path), quick (about a minute, shows the claim), full (the book's protocol)"""  # noqa: E501
        out: Path | None = None
        """run directory to create; must not hold a finished run"""
        device: Literal["auto", "cpu", "cuda"] = "auto"
        """where tensors live: auto picks cuda when available"""
        threads: int = 1
        """intra-op CPU threads (udl's models are small: one thread is fastest on a busy machine)"""
        resume: Path | None = None
        """continue the killed run in this directory (its .partial directory) to the same final result"""
        nproc: int = 1
        """data-parallel processes (DDP through torch.distributed.run; gloo on CPU, nccl on CUDA); only for experiments that opt in"""  # noqa: E501
        tensorboard: bool = False
        """also write TensorBoard event files (scalars of the metrics, figures) beside metrics.jsonl"""

    # This module uses postponed annotations (strings), which tyro would resolve in the module's globals, where
    # the local names config_class and preset_type do not exist: give it the evaluated types instead.
    RunArgs.__annotations__ = {
        "config": Annotated[config_class, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name="")],
        "preset": preset_type,
        "out": Annotated[
            Path | None,
            tyro.conf.arg(metavar="DIR", help_behavior_hint="(default: runs/NAME/<UTC time>-<id>)"),
        ],
        "device": Literal["auto", "cpu", "cuda"],
        "threads": int,
        "resume": Annotated[Path | None, tyro.conf.arg(metavar="DIR", help_behavior_hint="(optional)")],
        "nproc": int,
        "tensorboard": bool,
    }
    return dataclass(frozen=True)(RunArgs)


def _condense(text: str) -> str:
    """One line from tyro's error text: its message (the first block), plus a did-you-mean hint if it has one."""
    blocks: list[list[str]] = [[]]
    for raw in text.splitlines():
        line = raw.strip().strip("│╭╮╰╯").strip()
        if not line or set(line) <= set("─-━═ "):
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(line)
    blocks = [b for b in blocks if b and not b[0].startswith(("usage:", "For full helptext"))]
    if len(blocks) > 1 and len(blocks[0]) == 1:
        blocks = blocks[1:]  # the title above the first rule ("Value error", "Unrecognized options")
    message = re.sub(r"\s+", " ", " ".join(blocks[0])).strip() if blocks else "invalid arguments"
    message = message.split(" Perhaps you meant", 1)[0].split(" For full helptext", 1)[0]
    hint = ""
    if "Perhaps you meant" in text:
        close = re.findall(r"(--[a-z0-9][a-z0-9_.-]*)", text.split("Perhaps you meant", 1)[1])
        if close:
            hint = f"; did you mean {close[0]}?"
    return message + hint


def _as_flags(message: str, cfg: Any) -> str:
    """A validation message about field ``noise_std`` as the user typed it: ``--noise-std``."""
    import dataclasses as dc

    for f in sorted(dc.fields(cfg), key=lambda f: -len(f.name)):  # cfg: a Config or its class
        if message.startswith(f.name + " ") or message.startswith(f.name + "["):
            return "--" + f.name.replace("_", "-") + message[len(f.name) :]
    return message


def _parse_run(name: str, argv: Sequence[str]) -> Any:
    import tyro

    from udl.experiments import get_experiment
    from udl.report.validate import validate_config

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
            parsed: Any = tyro.cli(
                args_class,
                args=list(argv),
                prog=f"udl run {name}",
                description=f"{exp.summary}\n\nChapter {exp.chapter} (section {exp.section}). {exp.context}\n\n"
                "Presets: smoke (seconds, proves the code path; claims not evaluated), quick (about a minute, "
                "shows the claims), full (the book's protocol). Exit codes: 0 all claims and checks held, 1 one "
                "did not, 2 bad input, 3 the run failed.",
            )
    except SystemExit as e:
        if e.code in (0, None):  # --help
            print(captured.getvalue(), end="")
            raise
        raise UsageError(
            f"udl run {name}: {_condense(captured.getvalue())} (see udl run {name} --help)"
        ) from None
    except (ValueError, TypeError, ArithmeticError) as e:  # a Config.__post_init__ rejected a value
        raise UsageError(f"udl run {name}: {_as_flags(str(e), exp.config_class)}") from None
    try:
        validate_config(parsed.config)
    except UsageError as e:
        raise UsageError(f"udl run {name}: {_as_flags(str(e), parsed.config)}") from None
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    return exp, parsed


def _print_claims(console: Console, outcome: Any) -> None:
    result = outcome.result
    t = tally(result)
    title = f"{result['experiment']} ({result['preset']}): {t.claims_text()}"
    if t.checks:
        title += f" · {t.checks_text()}"
    table = Table(title=title, title_justify="left")
    for col in ("", "kind", "statement", "measured", "expected"):
        table.add_column(col)
    marks = {
        "holds": "[green]✓[/]",
        "fails": "[red]✗[/]",
        "not established": "[yellow]?[/]",
        "not evaluated": "[dim]–[/]",
    }
    for kind, items, evaluated in (
        ("claim", result["claims"], t.evaluated),
        ("check", result.get("checks", []), True),
    ):
        for c in items:
            word = claim_mark(c, evaluated=evaluated)
            table.add_row(marks[word], kind, c["statement"], _short(c["measured"]), _short(c["expected"]))
    console.print(table)
    if not t.evaluated:
        console.print(f"[dim]claims not evaluated at {result['preset']}: it only proves the code path[/]")
    if result["status"] != "ok":
        console.print(f"[red]run failed:[/] {result['error']}")
    console.print(f"report: {outcome.directory / 'report.html'}")


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def cmd_run(argv: Sequence[str]) -> int:
    from udl.experiments import experiment_names
    from udl.report import runner, tensorboard_missing
    from udl.train import distributed

    if not argv or argv[0].startswith("-"):
        if argv and argv[0] in ("-h", "--help"):
            print(
                "usage: udl run NAME [--preset smoke|quick|full] [--out DIR] [--device auto|cpu|cuda] "
                "[--threads N] [--resume DIR] [--nproc N] [--tensorboard] [FIELD ...]\n\nexperiments: "
                + ", ".join(experiment_names())
                + "\n\n`udl run NAME --help` lists NAME's fields."
            )
            return EXIT_OK
        raise UsageError("udl run needs an experiment name; valid: " + ", ".join(experiment_names()))
    name, rest = argv[0], list(argv[1:])
    resume = _scan(rest, "--resume")
    exp, parsed = _parse_run(name, rest)
    if parsed.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {parsed.threads}")
    if parsed.nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {parsed.nproc}")
    if parsed.tensorboard and (missing := tensorboard_missing()) is not None:
        raise UsageError(missing)
    if resume is not None:
        allowed = {"--resume", "--device", "--threads", "--nproc", "--tensorboard", "--no-tensorboard"}
        extra = [a for a in rest if a.startswith("--") and a.split("=", 1)[0] not in allowed]
        if extra:
            raise UsageError(f"--resume continues a run with its own config; remove {', '.join(extra)}")
    if parsed.nproc > 1 and not distributed.launched_by_torchrun():
        return _launch_data_parallel(name, rest, parsed, resume)
    worker = distributed.launched_by_torchrun()  # a rank of `udl run --nproc N`: the launcher reports
    console = _stdout() if not worker else Console(quiet=distributed.local_rank() != 0, highlight=False)
    if resume is not None:
        target = Path(resume)
        try:
            outcome = runner.resume_run(
                target,
                name,
                device=_scan(rest, "--device"),
                console=console,
                threads=parsed.threads,
                tensorboard=parsed.tensorboard,
            )
        except KeyboardInterrupt:
            return _interrupted(f"udl run {name} --resume {target}")
    else:
        cfg = parsed.config  # validated by _parse_run (and again by runner.execute, the library entry)
        final = parsed.out if parsed.out is not None else runner.default_run_dir(name)
        if not worker:  # a rank of --nproc: the launcher checked, and rank 0 creates it (in execute)
            runner.check_fresh_target(final)
            console.print(
                f"[bold]udl run {name}[/] preset {parsed.preset} · seed {cfg.seed} · device "
                f"{runner.resolve_device(parsed.device)} → {final}"
            )
        try:
            outcome = runner.execute(
                exp,
                cfg,
                parsed.preset,
                final=final,
                device=parsed.device,
                console=console,
                threads=parsed.threads,
                tensorboard=parsed.tensorboard,
            )
        except KeyboardInterrupt:
            return _interrupted(f"udl run {name} --resume {final}{runner.PARTIAL}")
    if worker:
        return EXIT_OK  # the run finished (its verdicts are in result.json, which the launcher reads)
    _print_claims(console, outcome)
    return outcome.exit_code


def _without(argv: Sequence[str], flag: str) -> list[str]:
    """argv without ``flag VALUE`` / ``flag=VALUE``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def _launch_data_parallel(name: str, rest: list[str], parsed: Any, resume: str | None) -> int:
    """``udl run NAME --nproc N``: the same command in N processes started by ``torch.distributed.run``
    (``--standalone``: a local rendezvous on a free port); the ranks write nothing but rank 0's run directory,
    which this process then reports like a one-process run."""
    import signal
    import subprocess

    import torch

    from udl.experiments import DATA_PARALLEL
    from udl.report import runner

    if name not in DATA_PARALLEL:
        raise UsageError(
            f"--nproc {parsed.nproc}: {name} does not train data-parallel; experiments that do: "
            + ", ".join(sorted(DATA_PARALLEL))
        )
    device = runner.resolve_device(parsed.device)
    if device.type == "cuda" and parsed.nproc > (count := torch.cuda.device_count()):
        raise UsageError(
            f"--nproc {parsed.nproc} on CUDA needs as many CUDA devices; this machine has {count}"
        )
    console = _stdout()
    args = _without(rest, "--nproc")
    if resume is not None:
        final = runner.locate_resume(Path(resume))[1]
    else:
        final = parsed.out if parsed.out is not None else runner.default_run_dir(name)
        runner.check_fresh_target(final)
        args = [*_without(args, "--out"), "--out", str(final)]
        console.print(
            f"[bold]udl run {name}[/] preset {parsed.preset} · seed {parsed.config.seed} · device {device} · "
            f"{parsed.nproc} processes (DDP) → {final}"
        )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               str(parsed.nproc), "-m", "udl", "run", name, *args]  # fmt: skip
    launcher = subprocess.Popen(command)
    try:
        code = launcher.wait()
    except KeyboardInterrupt:  # torchrun forwards SIGINT/SIGTERM to the ranks (a SIGKILL it cannot forward)
        launcher.send_signal(signal.SIGINT)
        launcher.wait()
        return _interrupted(f"udl run {name} --nproc {parsed.nproc} --resume {final}{runner.PARTIAL}")
    if not runner.is_finished(final):
        _stderr().print(
            f"udl: the {parsed.nproc} processes stopped (exit {code}) before the run finished; continue with: "
            f"udl run {name} --nproc {parsed.nproc} --resume {final}{runner.PARTIAL}",
            markup=False,
            soft_wrap=True,
        )
        return EXIT_RUN_FAILED
    outcome = runner.Outcome(final, runner.read_result(final))
    _print_claims(console, outcome)
    return outcome.exit_code


def _interrupted(command: str) -> int:
    _stderr().print(f"udl: interrupted; continue with: {command}", markup=False, soft_wrap=True)
    return EXIT_INTERRUPTED


# -- the other commands -------------------------------------------------------------------------------------
def cmd_list(argv: Sequence[str]) -> int:
    from udl.experiments import all_experiments

    parser = _Parser(prog="udl list", description="List every experiment.")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = [
        {
            "name": e.name,
            "chapter": e.chapter,
            "section": e.section,
            "summary": e.summary,
            "presets": list(e.presets),
        }
        for e in all_experiments()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = Table("name", "section", "summary", "presets")
    for r in rows:
        table.add_row(r["name"], r["section"], r["summary"], " ".join(r["presets"]))
    _stdout().print(table)
    return EXIT_OK


def cmd_reproduce(argv: Sequence[str]) -> int:
    from udl.experiments import SUITES
    from udl.report import runner

    parser = _Parser(
        prog="udl reproduce",
        description="Run a suite of experiments into one directory and write index.html. A finished run already "
        "there is kept only if its experiment, preset, config and udl version match and it succeeded; an "
        "unfinished one is resumed; anything else is moved aside and run again.",
    )
    parser.add_argument(
        "--suite",
        required=True,
        metavar="{" + ",".join(SUITES) + "}",
        help="tour (flagships, quick presets, ~5 minutes), smoke (every experiment, seconds each), "
        "quick (every experiment, ~1 minute each) or full (the book's protocols)",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="directory (default: runs/...)")
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="where tensors live"
    )
    parser.add_argument("--threads", type=int, default=1, help="intra-op CPU threads per run (default: 1)")
    parser.add_argument(
        "--executor",
        default="local",
        choices=runner.EXECUTORS,
        help="local: one run after another here; ray: one Ray task per run (pip install 'udl[cluster]')",
    )
    parser.add_argument(
        "--address", default=None, metavar="ADDR", help="the Ray cluster to join (default: start a local one)"
    )
    parser.add_argument(
        "--tensorboard", action="store_true", help="also write TensorBoard event files in every run directory"
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.address is not None and args.executor != "ray":
        raise UsageError("--address is the Ray cluster's address: it needs --executor ray")
    from udl.report import tensorboard_missing

    if args.tensorboard and (missing := tensorboard_missing()) is not None:
        raise UsageError(missing)
    console = _stdout()
    try:
        root, outcomes = runner.reproduce(
            args.suite,
            out=args.out,
            device=args.device,
            console=console,
            threads=args.threads,
            executor=args.executor,
            address=args.address,
            tensorboard=args.tensorboard,
        )
    except KeyboardInterrupt:
        again = f"udl reproduce --suite {args.suite}" + (f" --out {args.out}" if args.out else " --out DIR")
        return _interrupted(f"{again} (the same command resumes)")
    table = Table(title=f"udl reproduce --suite {args.suite}", title_justify="left")
    for col in ("", "experiment", "preset", "claims", "checks", "seconds"):
        table.add_column(col)
    for o in outcomes:
        t = tally(o.result)
        table.add_row(
            "[green]✓[/]" if t.ok else "[red]✗[/]",
            o.result["experiment"],
            o.result["preset"],
            t.claims_text(),
            t.checks_text(),
            f"{o.result['seconds']:.1f}",
        )
    console.print(table)
    for o in outcomes:
        t = tally(o.result)
        if o.result["status"] != "ok":
            console.print(f"[red]✗ {o.result['experiment']}: run failed: {o.result['error']}[/]")
        for kind, items, evaluated in (
            ("claim", o.result["claims"], t.evaluated),
            ("check", o.result.get("checks", []), True),
        ):
            for c in items:
                word = claim_mark(c, evaluated=evaluated)
                if word in ("fails", "not established"):
                    colour = "red" if word == "fails" else "yellow"
                    console.print(
                        f"[{colour}]{'✗' if word == 'fails' else '?'} {o.result['experiment']} ({kind}, {word}): "
                        f"{c['statement']}[/] measured {_short(c['measured'])}"
                    )
    console.print(f"report: {root / 'index.html'}")
    codes = [o.exit_code for o in outcomes]
    if EXIT_RUN_FAILED in codes:
        return EXIT_RUN_FAILED
    return EXIT_CLAIM_FAILED if EXIT_CLAIM_FAILED in codes else EXIT_OK


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
        _stderr().print("udl: interrupted")
        return EXIT_INTERRUPTED


def entry() -> None:
    sys.exit(main())
