"""The experiments, found in their chapter folders, and the suites.

Each experiment is a module ``udl.experiments.chNN.<name>`` (CLI name: ``-`` for ``_``) defining
``CHAPTER: int`` (equal to its folder's NN), ``SECTION: str`` (the book section it belongs to, e.g. ``"9.3.1"``;
it orders experiments within a chapter), ``SUMMARY: str`` (one line), ``CONTEXT: str`` (a sentence of the book's
context), a frozen ``Config`` dataclass with a docstring per field and a ``seed`` field, ``PRESETS`` with at least
``smoke``, ``quick`` and ``full``, and ``run(cfg, run)``.

Nothing is listed by hand: a new file in a chapter folder is an experiment. Modules whose name starts with ``_``
(shared recipes) are not experiments.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from udl.errors import UsageError, did_you_mean
from udl.report.validate import checked_first

PRESET_NAMES: tuple[str, ...] = ("smoke", "quick", "full")

# The tour: flagships at their quick preset, under 10 minutes in all on 2 CPU cores.
TOUR: tuple[str, ...] = (
    "linear-regression",
    "shallow-networks",
    "depth-efficiency",
    "optimizers",
    "mnist1d-baselines",
    "double-descent",
    "implicit-regularization",
    "augmentation",
    "conv-mnist1d",
    "language-model",
)

# Experiments that train data-parallel under torchrun (`udl run NAME --nproc N`): their training is
# udl.train.fit on in-memory tensors (each rank takes its share of every seeded global batch) and everything
# else they compute is deterministic, so every rank holds the same values and rank 0 writes them.
DATA_PARALLEL: frozenset[str] = frozenset({"optimizers", "weight-decay"})


@dataclass(frozen=True)
class Experiment:
    name: str
    chapter: int
    section: str
    summary: str
    context: str
    config_class: type
    presets: Mapping[str, Any]
    run: Callable[[Any, Any], None]

    @classmethod
    def from_module(cls, name: str, module: ModuleType) -> Experiment:
        for attr in ("CHAPTER", "SECTION", "SUMMARY", "CONTEXT", "Config", "PRESETS", "run"):
            if not hasattr(module, attr):
                raise TypeError(f"experiment module {module.__name__} lacks {attr}")
        missing = set(PRESET_NAMES) - set(module.PRESETS)
        if missing:
            raise TypeError(f"experiment {name} lacks presets {sorted(missing)}")
        folder = module.__name__.split(".")[-2]
        if folder != f"ch{module.CHAPTER:02d}" or _section_key(module.SECTION)[0] != module.CHAPTER:
            raise TypeError(
                f"{module.__name__}: CHAPTER {module.CHAPTER} and SECTION {module.SECTION} must match its folder"
            )
        if "seed" not in {f.name for f in dataclasses.fields(module.Config)}:
            raise TypeError(f"experiment {name}'s Config has no seed field")
        checked_first(module.Config)
        return cls(
            name,
            module.CHAPTER,
            module.SECTION,
            module.SUMMARY,
            module.CONTEXT,
            module.Config,
            dict(module.PRESETS),
            module.run,
        )


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(part) for part in section.split("."))


_SECTION = re.compile(r'^SECTION = "(\d+(?:\.\d+)*)"$', re.M)


@functools.cache
def _modules() -> dict[str, str]:
    """CLI name -> module path, in book order (chapter folder, then SECTION, then name).

    The order is read from the files' ``SECTION = "..."`` lines without importing them, so ``udl run NAME``
    imports only NAME's module; :meth:`Experiment.from_module` checks CHAPTER and SECTION on import.
    """
    root = Path(__file__).parent
    found: list[tuple[tuple[int, ...], str, str]] = []
    for folder in sorted(root.glob("ch[0-9][0-9]")):
        for file in sorted(folder.glob("[a-z]*.py")):
            match = _SECTION.search(file.read_text(encoding="utf-8"))
            if match is None:
                raise TypeError(f'{file} needs a line SECTION = "N.M" (the book section it belongs to)')
            found.append(
                (_section_key(match.group(1)), file.stem, f"udl.experiments.{folder.name}.{file.stem}")
            )
    return {name.replace("_", "-"): path for _, name, path in sorted(found)}


def experiment_names() -> list[str]:
    """Every experiment's CLI name, in book order."""
    return list(_modules())


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (CLI spelling); a UsageError suggesting close names otherwise."""
    if name not in experiment_names():
        raise UsageError(f"unknown experiment {name!r}; {did_you_mean(name, experiment_names())}")
    module = importlib.import_module(_modules()[name])
    return Experiment.from_module(name, module)


def all_experiments() -> list[Experiment]:
    return [get_experiment(n) for n in experiment_names()]


SUITES: tuple[str, ...] = ("tour", "smoke", "quick", "full")


def suite(name: str) -> list[tuple[str, str]]:
    """(experiment, preset) pairs of a suite: ``tour`` (flagships, quick), or every experiment at ``smoke``,
    ``quick`` or ``full``."""
    if name == "tour":
        return [(n, "quick") for n in TOUR]
    if name in ("quick", "full", "smoke"):
        return [(n, name) for n in experiment_names()]
    raise UsageError(f"unknown suite {name!r}; {did_you_mean(name, SUITES)}")
