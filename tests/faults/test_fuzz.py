"""Bad input through the real command line, for every field of every experiment's Config.

For each field the table tries NaN, ±inf, −1, 0, a huge number, a wrong type and junk text (as many words as
the field takes). Every outcome must be one of two: exit 2 with exactly one line on stderr, no traceback and
nothing written; or a run that finishes with status ok (exit 0 or 1). The fast tier tries every value that must be
refused before a run starts (NaN, inf, a huge integer, junk) for every field of every experiment, and a seeded
sample of the values that may start a run (−1, 0); ``make slow`` tries all of them. New experiments are covered
automatically: the table is built from the Config dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest

from udl.experiments import experiment_names, get_experiment
from udl.report.validate import allows_inf, field_docs

WORKER = Path(__file__).with_name("fuzz_worker.py")
BAD_NUMBERS = ("nan", "inf", "-inf")
HUGE = "99999999999999999999999"
JUNK = ("abc", "[1,")
EDGES = ("-1", "0")


def _element(annotation: typing.Any) -> tuple[typing.Any, int]:
    """The element type of a field and how many words its value takes (fixed-length tuples take several)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and args:
        return args[0], (1 if args[-1] is Ellipsis else len(args))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _element(inner[0]) if inner else (annotation, 1)
    return annotation, 1


def cases(name: str) -> list[tuple[str, list[str], bool]]:
    """(flag, words, must_refuse) for every field of ``name``'s Config.

    Must be refused: NaN and -inf in any number, +inf unless the field documents ``inf``, junk words, an integer
    beyond 2**31 in an integer field. May run (then must finish ok) or be refused in one line: -1, 0, a huge
    float, a documented inf, any word for a free string.
    """
    exp = get_experiment(name)
    hints = typing.get_type_hints(exp.config_class)
    docs = field_docs(exp.config_class)
    table = []
    for f in dataclasses.fields(exp.config_class):
        flag = "--" + f.name.replace("_", "-")
        kind, n = _element(hints[f.name])
        refused: list[str] = list(JUNK) if kind is not str else []
        maybe: list[str] = ["abc"] if kind is str else []
        if kind in (int, float):
            refused += ["nan", "-inf"]
            (maybe if kind is float and allows_inf(docs.get(f.name, "")) else refused).append("inf")
            (refused if kind is int else maybe).append(HUGE)
            maybe += list(EDGES)
        table += [(flag, [v] * n, True) for v in refused] + [(flag, [v] * n, False) for v in maybe]
    return table


def _run(name: str, table: list[tuple[str, list[str], bool]], root: Path) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, str(WORKER), name, str(root), json.dumps([[f, w] for f, w, _ in table])],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(table), proc.stderr[-3000:]
    return outcomes


def _defects(outcomes: list[dict], table: list[tuple[str, list[str], bool]]) -> list[str]:
    bad = []
    for o, (_, _, must_refuse) in zip(outcomes, table, strict=True):
        label = f"{o['flag']} {' '.join(o['value'])}"
        if o["traceback"] or not isinstance(o["code"], int):
            bad.append(f"{label}: traceback or escaped exception ({o['code']})")
        elif o["code"] == 2:
            if len(o["stderr"]) != 1 or o["written"]:
                bad.append(f"{label}: exit 2 but stderr {o['stderr']} and wrote {o['written'][:3]}")
        elif must_refuse:
            bad.append(f"{label}: accepted (exit {o['code']}) a value that must be refused")
        elif o["code"] not in (0, 1) or o["status"] != "ok":
            bad.append(f"{label}: exit {o['code']}, status {o['status']}: {o['stderr'][-1:]}")
    return bad


def _sample(name: str, slow: bool) -> list[tuple[str, list[str], bool]]:
    table = cases(name)
    if slow:
        return table
    refused = [c for c in table if c[2]]
    maybe = [c for c in table if not c[2]]
    return refused + random.Random(name).sample(maybe, min(2, len(maybe)))


@pytest.mark.parametrize("name", experiment_names())
def test_bad_values_are_refused_in_one_line_or_run_to_completion(tmp_path, name):
    table = _sample(name, slow=False)
    assert _defects(_run(name, table, tmp_path), table) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_every_field_every_value(tmp_path, name):
    table = _sample(name, slow=True)
    assert _defects(_run(name, table, tmp_path), table) == []


def test_the_table_covers_every_field_and_value():
    name = "linear-regression"
    table = cases(name)
    fields = {f.name for f in dataclasses.fields(get_experiment(name).config_class)}
    assert {flag[2:].replace("-", "_") for flag, _, _ in table} == fields
    phi = [(w, refuse) for flag, w, refuse in table if flag == "--phi-init"]
    assert (["nan", "nan"], True) in phi and ([HUGE, HUGE], False) in phi  # a pair takes two words
    steps = [(w, refuse) for flag, w, refuse in table if flag == "--steps"]
    assert ([HUGE], True) in steps and (["-1"], False) in steps and (["nan"], True) in steps
