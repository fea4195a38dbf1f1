"""What the MNIST-1D experiments of chapter 20 share: the data on the run's device and the progress callback
that maps one sweep's steps onto its slice of a progress bar."""

from __future__ import annotations

from torch import Tensor

from udl.data import MNIST1DConfig, load_mnist1d
from udl.train import ProgressLike


def mnist1d_tensors(num_samples: int, train_split: float, device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test) of MNIST-1D with ``num_samples`` examples, on ``device``."""
    data = load_mnist1d(MNIST1DConfig(num_samples=num_samples, train_split=train_split))
    x, y = data.x_train.to(device), data.y_train.to(device)
    return x, y, data.x_test.to(device), data.y_test.to(device)


def show_progress(bar: ProgressLike, base: int, span: int, done: int, total: int) -> None:
    """``train_sweep``'s progress callback (``done`` of ``total`` steps) drawn as ``base`` + a share of ``span``."""
    bar.update(base + done * span // total)
