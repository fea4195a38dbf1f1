"""Run a table of CLI invocations of one experiment in one process and report each outcome as JSON lines.

Usage: python fuzz_worker.py EXPERIMENT ROOT CASES_JSON. Each case is ``[flag, value]`` (``value`` a list of
words: a tuple field takes several); the worker calls ``udl.cli.main`` with ``run EXPERIMENT --preset smoke
--out ROOT/<i> FLAG VALUE...``, captures stderr, and prints one JSON object per case: exit code, stderr lines,
whether a traceback appeared, what was written under ROOT/<i> (and its .partial twin) and the result status.
In-process calls keep hundreds of cases cheap (one interpreter, imports once).
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
from pathlib import Path

from udl.cli import main


def _written(out: Path) -> list[str]:
    found = []
    for d in (out, out.with_name(out.name + ".partial")):
        if d.exists():
            found += [str(p.relative_to(d.parent)) for p in [d, *d.rglob("*")]]
    return found


CASE_SECONDS = 240
"""A case that takes longer (a value that makes the run or its validation explode) is reported as a defect."""


class CaseTimeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout(f"no answer within {CASE_SECONDS} s")


def run_case(name: str, root: Path, i: int, flag: str, words: list[str]) -> dict:
    out = root / str(i)
    err, std = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            code = main(["run", name, "--preset", "smoke", "--out", str(out), flag, *words])
    except BaseException as e:  # anything escaping main() is a defect (SystemExit included)
        code = f"escaped {type(e).__name__}: {e}"
    finally:
        signal.alarm(0)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    status = None
    if (out / "result.json").is_file():
        status = json.loads((out / "result.json").read_text()).get("status")
    return {
        "flag": flag,
        "value": words,
        "code": code,
        "stderr": lines,
        "traceback": "Traceback" in err.getvalue() + std.getvalue(),
        "written": _written(out),
        "status": status,
    }


if __name__ == "__main__":
    experiment, root, cases = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    for i, (flag, words) in enumerate(cases):
        print(json.dumps(run_case(experiment, root, i, flag, words)), flush=True)
