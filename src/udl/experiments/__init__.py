"""The book's experiments, one module each; see ``_registry.NAMES`` for the list and ``udl list``."""

from udl.experiments._registry import Experiment, all_experiments, experiment_names, get_experiment, suite

__all__ = ["Experiment", "all_experiments", "experiment_names", "get_experiment", "suite"]
