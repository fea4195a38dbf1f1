"""The book's experiments, one module each; found in the chapter folders ``chNN/`` and ``udl list``."""

from udl.experiments._registry import (
    DATA_PARALLEL,
    SUITES,
    TOUR,
    Experiment,
    all_experiments,
    experiment_names,
    get_experiment,
    suite,
)

__all__ = [
    "DATA_PARALLEL",
    "SUITES",
    "TOUR",
    "Experiment",
    "all_experiments",
    "experiment_names",
    "get_experiment",
    "suite",
]
