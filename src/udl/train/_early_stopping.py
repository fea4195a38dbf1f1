"""Early stopping (UDL section 9.3.1): stop training when a monitored metric has stopped improving.

Early stopping ends training before it has converged: the weights are kept from the epoch where the held-out
performance was best, before the model starts fitting the noise in the training data. It costs nothing beyond
evaluating a validation set, and the number of epochs acts like a regularization strength (fewer epochs, less
time to grow the weights away from their small initial values).

:class:`EarlyStopping` is the small state machine ``udl.train.train`` (and ``fit``) drives once per evaluation; its
state (best value, best epoch, epochs without improvement, the best weights) goes into the loop's checkpoints, so
a resumed run stops at the same epoch with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from udl.errors import CheckpointError

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop after ``patience`` epochs without improvement of ``monitor``; optionally restore the best weights.

    An epoch *improves* when its value is below ``best - min_delta`` (``mode="min"``) or above
    ``best + min_delta`` (``mode="max"``); the first epoch always improves. Every improvement resets the count of
    bad epochs and (with ``restore_best``) snapshots the model's ``state_dict``; training stops at the end of the
    epoch where the count reaches ``patience``. With ``restore_best``, ``fit`` loads the best epoch's weights when
    training ends, whether it stopped early or ran out of epochs.

    Args:
        patience: epochs without improvement before stopping, >= 1.
        min_delta: the smallest change that counts as an improvement, >= 0.
        monitor: the metric to watch, by default ``"val_error"``: a name ``evaluate`` returns, or ``"loss"`` (the
            epoch's mean training loss). Select on a validation split carved out of the training data: the
            training loops refuse a monitor starting with ``test_`` (watching the test set leaks it into the
            model choice) unless called with ``allow_test_monitor=True``.
        mode: ``"min"`` for errors and losses, ``"max"`` for accuracies.
        restore_best: keep a copy of the best weights and load them back when training ends.

    Attributes:
        best: the best monitored value so far (``±inf`` before the first epoch).
        best_epoch: the 1-based epoch that gave it (0 before the first epoch).
        bad_epochs: epochs since the last improvement.
        stopped_epoch: the epoch at which patience ran out, or None.
    """

    def __init__(
        self,
        patience: int,
        min_delta: float = 0.0,
        monitor: str = "val_error",
        mode: Literal["min", "max"] = "min",
        restore_best: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}")
        if not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"min_delta must be finite and >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a metric name, got {monitor!r}")
        self.patience, self.min_delta, self.monitor, self.mode = patience, float(min_delta), monitor, mode
        self.restore_best = bool(restore_best)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.stopped_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r}, "
            f"mode={self.mode!r}, restore_best={self.restore_best})"
        )

    @property
    def should_stop(self) -> bool:
        """True once patience has run out."""
        return self.stopped_epoch is not None

    def improved(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, epoch: int, metrics: dict[str, float], model: nn.Module | None = None) -> bool:
        """Record epoch ``epoch``'s metrics (after training it); returns True when training should stop.

        ``model`` is needed with ``restore_best`` (its weights are copied on every improvement).

        Raises:
            ValueError: ``monitor`` is not among ``metrics``, its value is NaN, or ``model`` is missing.
            RuntimeError: called again after patience ran out.
        """
        if self.should_stop:
            raise RuntimeError(f"early stopping already stopped training at epoch {self.stopped_epoch}")
        if self.monitor not in metrics:
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, which is not among the epoch's metrics: "
                f"{', '.join(sorted(metrics))}"
            )
        value = float(metrics[self.monitor])
        if math.isnan(value):
            raise ValueError(f"early stopping: {self.monitor} is NaN at epoch {epoch}")
        if self.best_epoch == 0 or self.improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            if self.restore_best:
                if model is None:
                    raise ValueError("early stopping with restore_best needs the model to copy its weights")
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                self.stopped_epoch = epoch
        return self.should_stop

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (with ``restore_best``, after at least one epoch)."""
        if self.best_state is None:
            raise RuntimeError("no best weights to restore: restore_best is off or no epoch was recorded")
        model.load_state_dict(self.best_state)

    # -- checkpointing ----------------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "monitor": self.monitor,
            "mode": self.mode,
            "restore_best": self.restore_best,
        }

    def state_dict(self) -> dict[str, Any]:
        """The settings and the running state, as a checkpoint tree (tensors and JSON values)."""
        return {
            "settings": self._settings(),
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output; the settings must be the ones it was saved with.

        Raises:
            CheckpointError: the state is malformed or was saved with other settings.
        """
        try:
            settings = dict(state["settings"])
            best, best_epoch = float(state["best"]), int(state["best_epoch"])
            bad_epochs = int(state["bad_epochs"])
            stopped = state["stopped_epoch"]
            best_state = state["best_state"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"corrupt early-stopping state: {e}") from None
        if settings != self._settings():
            raise CheckpointError(
                f"the checkpoint's early stopping was {settings}, not {self._settings()}: resume with the same "
                "settings"
            )
        self.best, self.best_epoch, self.bad_epochs = best, best_epoch, bad_epochs
        self.stopped_epoch = None if stopped is None else int(stopped)
        self.best_state = None if best_state is None else dict(best_state)
