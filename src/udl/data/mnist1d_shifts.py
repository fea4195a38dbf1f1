"""MNIST-1D with a latent variable of its generator: the translation applied to each signal.

``mnist1d.data.make_dataset`` draws, for every example, a translation k ~ U{0..max_translation−1} (a circular
roll of the padded template) but does not return it. :func:`mnist1d_with_shifts` replays the generator's random
stream (the same calls in the same order as ``mnist1d.transform.transform``) to recover k for each signal, and
verifies that the signals it rebuilds equal :func:`udl.data.load_mnist1d`'s bit for bit. Used as an auxiliary
target in multi-task learning (UDL section 9.3.7).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import Tensor

from udl.data.mnist1d import MNIST1D, MNIST1DConfig, load_mnist1d

__all__ = ["mnist1d_with_shifts"]


def mnist1d_with_shifts(config: MNIST1DConfig) -> tuple[MNIST1D, Tensor, Tensor]:
    """MNIST-1D together with the translation ``make_dataset`` applied to each example.

    Replays ``mnist1d.data.make_dataset`` (seed, per-class loop, ``transform``'s random draws in order: padding,
    scale, translation, correlated noise, i.i.d. noise, shear; then the batch shuffle and standardization),
    recording the translation k ~ U{0..max_translation−1}. Python's and numpy's global RNG states are restored.

    Args:
        config: the generation parameters (``shuffle_seq`` and label noise are not supported).

    Returns:
        ``(data, shift_train, shift_test)`` with ``data = load_mnist1d(config)`` and int64 shifts in
        0..max_translation−1, aligned with ``data.x_train`` and ``data.x_test``.

    Raises:
        ValueError: ``shuffle_seq=True`` or label noise (not replayed).
        RuntimeError: the replayed signals differ from the package's (the package changed its generator).

    Example:
        >>> data, k_train, k_test = mnist1d_with_shifts(MNIST1DConfig(num_samples=100))
        >>> k_train.shape, int(k_train.max()) < 48
        (torch.Size([80]), True)
    """
    from mnist1d.data import get_templates
    from mnist1d.transform import corr_noise_like, iid_noise_like, interpolate, pad, shear

    if config.shuffle_seq or config.label_noise:
        raise ValueError(
            "mnist1d_with_shifts replays the plain generator: shuffle_seq and label_noise unsupported"
        )
    data = load_mnist1d(config)
    templates = get_templates()
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002 - the generator's global RNG
    try:
        random.seed(config.seed)  # mnist1d.utils.set_seed
        np.random.seed(config.seed)  # noqa: NPY002
        xs, shifts = [], []
        length = config.template_len + config.padding[1]
        for label in range(len(templates["y"])):
            for _ in range(config.num_samples // len(templates["y"])):
                x = pad(templates["x"][label] + 1e-8, config.padding)
                x = interpolate(x, length)  # dilate
                x = x * (1 + config.scale_coeff * (np.random.rand() - 0.5))  # noqa: NPY002 - scale
                k = int(np.random.choice(config.max_translation))  # noqa: NPY002 - the translation we record
                x = np.concatenate([x[-k:], x[:-k]])
                mask = x != 0
                x = mask * x + (1 - mask) * corr_noise_like(x, config.corr_noise_scale)
                x = x + iid_noise_like(x, config.iid_noise_scale)
                x = interpolate(shear(x, config.shear_scale), config.final_seq_length)
                xs.append(x)
                shifts.append(k)
        order = np.random.permutation(len(shifts))  # noqa: NPY002 - make_dataset's batch shuffle
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
    signals = np.stack(xs)[order]
    signals = ((signals - signals.mean()) / signals.std()).astype(np.float32)
    k_all = torch.from_numpy(np.asarray(shifts, dtype=np.int64)[order])
    n = config.num_train
    if not (
        np.array_equal(signals[:n], data.x_train.numpy()) and np.array_equal(signals[n:], data.x_test.numpy())
    ):
        raise RuntimeError(
            "replaying the MNIST-1D generator did not reproduce its signals (mnist1d changed?)"
        )
    return data, k_all[:n], k_all[n:]
