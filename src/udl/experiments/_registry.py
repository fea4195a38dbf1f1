"""The explicit list of experiments and suites.

Each experiment is a module ``udl.experiments.<name>`` (CLI name: ``-`` for ``_``) defining
``CHAPTER: int``, ``SUMMARY: str`` (one line), ``CONTEXT: str`` (a sentence of the book's context),
a frozen ``Config`` dataclass with a docstring per field and a ``seed`` field, ``PRESETS`` with at least
``smoke``, ``quick`` and ``full``, and ``run(cfg, run)``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from udl.errors import UsageError, did_you_mean

# Module names, in book order. Add new experiments here.
NAMES: tuple[str, ...] = (
    "linear_regression",
    "shallow_networks",
    "depth_efficiency",
    "loss_functions",
    "optimizers",
    "backprop",
    "initialization",
    "mnist1d_baselines",
    "bias_variance",
    "double_descent",
    "high_dimensional_spaces",
    # chapter 9
    "weight_decay",
    "implicit_regularization",
    "sgd_generalization",
    "early_stopping",
    "ensembling",
    "dropout",
    "mc_dropout",
    "noise_and_label_smoothing",
    "adversarial",
    "bayesian_last_layer",
    "transfer_learning",
    "multi_task",
    "self_supervised",
    "augmentation",
    # chapter 10
    "conv_arithmetic",
    "conv_mnist1d",
    "image_classification",
    "detection",
    # chapter 11
    "shattered_gradients",
    "residual_networks",
    "batchnorm_variance",
    "segmentation",
)

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
)


@dataclass(frozen=True)
class Experiment:
    name: str
    chapter: int
    summary: str
    context: str
    config_class: type
    presets: Mapping[str, Any]
    run: Callable[[Any, Any], None]

    @classmethod
    def from_module(cls, name: str, module: ModuleType) -> Experiment:
        for attr in ("CHAPTER", "SUMMARY", "CONTEXT", "Config", "PRESETS", "run"):
            if not hasattr(module, attr):
                raise TypeError(f"experiment module {module.__name__} lacks {attr}")
        missing = set(PRESET_NAMES) - set(module.PRESETS)
        if missing:
            raise TypeError(f"experiment {name} lacks presets {sorted(missing)}")
        if "seed" not in {f.name for f in dataclasses.fields(module.Config)}:
            raise TypeError(f"experiment {name}'s Config has no seed field")
        return cls(
            name,
            module.CHAPTER,
            module.SUMMARY,
            module.CONTEXT,
            module.Config,
            dict(module.PRESETS),
            module.run,
        )


def experiment_names() -> list[str]:
    return [n.replace("_", "-") for n in NAMES]


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (CLI spelling); a UsageError suggesting close names otherwise."""
    if name not in experiment_names():
        raise UsageError(f"unknown experiment {name!r}; {did_you_mean(name, experiment_names())}")
    module = importlib.import_module(f"udl.experiments.{name.replace('-', '_')}")
    return Experiment.from_module(name, module)


def all_experiments() -> list[Experiment]:
    return [get_experiment(n) for n in experiment_names()]


def suite(name: str) -> list[tuple[str, str]]:
    """(experiment, preset) pairs of a suite: ``tour`` (flagships, quick), ``quick`` or ``full`` (everything)."""
    if name == "tour":
        return [(n, "quick") for n in TOUR]
    if name in ("quick", "full", "smoke"):
        return [(n, name) for n in experiment_names()]
    raise UsageError(f"unknown suite {name!r}; {did_you_mean(name, ['tour', 'quick', 'full', 'smoke'])}")
