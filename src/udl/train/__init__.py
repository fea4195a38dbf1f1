"""Training: one loop around a step function (``train``), the supervised recipe on it (``fit``), helpers a step
function calls (``OptimizerStep``, ``micro_batches``, ``autocast``), seeding, checkpoints and model sweeps."""

from udl.train._early_stopping import EarlyStopping
from udl.train._fit import FitResult, classification_metrics, fit
from udl.train._full_batch import train_members_full_batch
from udl.train._guard import NonFiniteGuard
from udl.train._loop import NullRun, ProgressLike, RunLike, TrainResult, minibatches, train
from udl.train._probe import ProbeResult, linear_probe
from udl.train._seed import global_rng_state, seed_everything, set_global_rng_state
from udl.train._step import OptimizerStep, autocast, grad_scaler, micro_batches
from udl.train.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from udl.train.sweep import StackedMLP, SweepResult, error_rates, plan_buckets, train_sweep

__all__ = [
    "EarlyStopping",
    "FitResult",
    "NonFiniteGuard",
    "NullRun",
    "OptimizerStep",
    "ProbeResult",
    "ProgressLike",
    "RunLike",
    "StackedMLP",
    "SweepResult",
    "TrainResult",
    "autocast",
    "checkpoint_exists",
    "classification_metrics",
    "error_rates",
    "fit",
    "global_rng_state",
    "grad_scaler",
    "linear_probe",
    "load_checkpoint",
    "micro_batches",
    "minibatches",
    "plan_buckets",
    "save_checkpoint",
    "seed_everything",
    "set_global_rng_state",
    "train",
    "train_members_full_batch",
    "train_sweep",
]
