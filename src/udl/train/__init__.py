"""Training: the shared loop, seeding and checkpoints."""

from udl.train._early_stopping import EarlyStopping
from udl.train._loop import FitResult, NullRun, RunLike, classification_metrics, fit
from udl.train._seed import global_rng_state, seed_everything, set_global_rng_state
from udl.train.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from udl.train.sweep import StackedMLP, SweepResult, error_rates, plan_buckets, train_sweep

__all__ = [
    "EarlyStopping",
    "FitResult",
    "NullRun",
    "RunLike",
    "StackedMLP",
    "SweepResult",
    "checkpoint_exists",
    "classification_metrics",
    "error_rates",
    "fit",
    "global_rng_state",
    "load_checkpoint",
    "plan_buckets",
    "save_checkpoint",
    "seed_everything",
    "set_global_rng_state",
    "train_sweep",
]
