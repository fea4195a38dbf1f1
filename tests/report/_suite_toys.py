"""Experiments for tests/report/test_executors.py that a Ray worker imports by name (this folder is put on
the workers' PYTHONPATH): one that raises, one that kills its worker process."""

from __future__ import annotations

import os
from dataclasses import dataclass

from udl.experiments import Experiment


@dataclass(frozen=True)
class ToyConfig:
    seed: int = 0
    """seed"""


def crash(cfg: ToyConfig, run) -> None:
    run.log(0, value=1.0)
    raise RuntimeError("an experiment bug")


def die(cfg: ToyConfig, run) -> None:
    os._exit(3)  # the worker process dies: no result comes back


def _toy(name: str, fn) -> Experiment:
    return Experiment(name, 2, "2.1", name, name, ToyConfig, {"smoke": ToyConfig(), "quick": ToyConfig()}, fn)


CRASH = _toy("toy-crash", crash)
DIE = _toy("toy-die", die)
