"""MNIST-1D, generated locally and cached on disk.

MNIST-1D (Greydanus, 2020, "Scaling down deep learning", arXiv:2011.14439) is a procedurally generated
stand-in for MNIST: each of the ten digits is a fixed 12-point 1D template that is padded, dilated, scaled,
translated, corrupted with correlated and i.i.d. noise, sheared and resampled to 40 points. It is small enough
to train on a CPU in seconds yet hard enough that linear models fail, which is why *Understanding Deep
Learning* uses it for its experiments from chapter 8 on (double descent, label noise, regularization, ...).

The data are made with the ``mnist1d`` package's own ``make_dataset``, never downloaded. The default
:class:`MNIST1DConfig` is the package's (and the book's) setting: 5000 examples split 4000 train / 1000 test.

Example:
    >>> from udl.data import load_mnist1d
    >>> data = load_mnist1d(label_noise=0.2)          # doctest: +SKIP
    >>> data.x_train.shape, data.y_train.dtype       # doctest: +SKIP
    (torch.Size([4000, 40]), torch.int64)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from udl.data.cache import cache_directory

__all__ = ["MNIST1D", "MNIST1DConfig", "load_mnist1d"]

logger = logging.getLogger(__name__)

NUM_CLASSES = 10
"""MNIST-1D has one template per digit 0..9."""

_CACHE_FORMAT = 1
"""Bump when the layout of the cached ``.npz`` changes; it is part of the cache key."""

_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test", "t")
_LABEL_NOISE_FIELDS = ("label_noise", "label_noise_seed")


@dataclass(frozen=True)
class MNIST1DConfig:
    """All MNIST-1D generation parameters (defaults: the mnist1d package's = the book's), plus label noise.

    The generation fields are passed unchanged to ``mnist1d.data.make_dataset``; the two ``label_noise*``
    fields are applied by :func:`load_mnist1d` afterwards, to the training labels only.
    """

    num_samples: int = 5000
    """total examples before the split; ``make_dataset`` makes ``num_samples // 10`` per class (>= 10)"""
    train_split: float = 0.8
    """fraction of the (shuffled) examples that form the training set, in (0, 1)"""
    template_len: int = 12
    """length the digit template is dilated to, before padding is added (>= 1)"""
    padding: tuple[int, int] = (36, 60)
    """(low, high): a random number of zeros in [low, high] is appended to each template (0 <= low <= high)"""
    scale_coeff: float = 0.4
    """the signal is scaled by 1 + scale_coeff * (u - 1/2), u ~ U(0, 1); in [0, 2) so the factor stays > 0"""
    max_translation: int = 48
    """the signal is rolled by a random shift in 0..max_translation-1 (>= 1)"""
    corr_noise_scale: float = 0.25
    """std of the Gaussian-smoothed noise that fills the padded (zero) region (>= 0)"""
    iid_noise_scale: float = 2e-2
    """std of the i.i.d. Gaussian noise added everywhere (>= 0)"""
    shear_scale: float = 0.75
    """a random linear trend of slope up to +-shear_scale/2 is subtracted (>= 0)"""
    shuffle_seq: bool = False
    """permute the time axis with one fixed random permutation (destroys locality; for MLP-vs-CNN studies)"""
    final_seq_length: int = 40
    """number of points each example is resampled to (>= 1)"""
    seed: int = 42
    """seed of the generation, given to Python's and numpy's global RNGs by ``make_dataset``
    (0 <= seed < 2**32); :func:`load_mnist1d` restores both RNGs afterwards"""
    label_noise: float = 0.0
    """fraction of TRAINING labels replaced by a uniformly random class (UDL figure 8.10): exactly
    round(label_noise * N_train) examples are chosen without replacement and each gets a label drawn uniformly
    from all 10 classes, so about 1/10 of the chosen keep their original label; in [0, 1]"""
    label_noise_seed: int = 0
    """seed of the label-noise draw, independent of ``seed`` (>= 0)"""

    def __post_init__(self) -> None:
        # Normalize so that equal settings compare, hash and cache equal (padding=[36, 60] or scale_coeff=0).
        if not (isinstance(self.padding, (list, tuple)) and len(self.padding) == 2):
            raise ValueError(
                f"padding must be a pair (low, high) with 0 <= low <= high, got {self.padding!r}"
            )
        padding = tuple(int(p) if _is_int(p) else p for p in self.padding)
        object.__setattr__(self, "padding", padding)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, bool):
                continue
            if isinstance(f.default, float) and (_is_int(value) or isinstance(value, (float, np.floating))):
                object.__setattr__(self, f.name, float(value))
            elif isinstance(f.default, int) and _is_int(value):
                object.__setattr__(self, f.name, int(value))
        self._validate()

    def _validate(self) -> None:
        _check_int(self, "num_samples", low=10)
        _check_float(self, "train_split", low=0.0, high=1.0, low_open=True, high_open=True)
        _check_int(self, "template_len", low=1)
        low, high = self.padding
        if not (_is_int(low) and _is_int(high) and 0 <= low <= high):
            raise ValueError(
                f"padding must be a pair (low, high) with 0 <= low <= high, got {self.padding!r}"
            )
        _check_float(self, "scale_coeff", low=0.0, high=2.0, high_open=True)
        _check_int(self, "max_translation", low=1)
        _check_float(self, "corr_noise_scale", low=0.0)
        _check_float(self, "iid_noise_scale", low=0.0)
        _check_float(self, "shear_scale", low=0.0)
        if not isinstance(self.shuffle_seq, bool):
            raise ValueError(f"shuffle_seq must be True or False, got {self.shuffle_seq!r}")
        _check_int(self, "final_seq_length", low=1)
        _check_int(self, "seed", low=0, high=2**32 - 1)
        _check_float(self, "label_noise", low=0.0, high=1.0)
        _check_int(self, "label_noise_seed", low=0)
        n_train, n_total = self.num_train, self.num_total
        if n_train < 1 or n_train >= n_total:
            raise ValueError(
                f"train_split={self.train_split} with num_samples={self.num_samples} gives {n_train} "
                f"training and {n_total - n_train} test examples; both must be >= 1"
            )

    @property
    def num_total(self) -> int:
        """Examples actually generated: ``10 * (num_samples // 10)``."""
        return NUM_CLASSES * (self.num_samples // NUM_CLASSES)

    @property
    def num_train(self) -> int:
        """Size of the training set, ``int(num_total * train_split)`` as in ``make_dataset``."""
        return int(self.num_total * self.train_split)

    def generation_params(self) -> dict[str, Any]:
        """The fields that ``make_dataset`` sees (everything but label noise), JSON-ready."""
        params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in _LABEL_NOISE_FIELDS:
            del params[name]
        params["padding"] = list(self.padding)
        return params


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_int(cfg: MNIST1DConfig, name: str, *, low: int, high: int | None = None) -> None:
    value = getattr(cfg, name)
    if not _is_int(value) or value < low or (high is not None and value > high):
        valid = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {valid}, got {value!r}")


def _check_float(
    cfg: MNIST1DConfig,
    name: str,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    value = getattr(cfg, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > low if low_open else value >= low
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
    if not ok:
        if high is None:
            valid = f"a finite number {'>' if low_open else '>='} {low}"
        else:
            valid = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {valid}, got {value!r}")


@dataclass(frozen=True)
class MNIST1D:
    """A loaded MNIST-1D split. Inputs are float32, labels int64 (class indices 0..9)."""

    x_train: torch.Tensor
    """(N_train, final_seq_length) float32 training signals"""
    y_train: torch.Tensor
    """(N_train,) int64 training labels, after label noise"""
    x_test: torch.Tensor
    """(N_test, final_seq_length) float32 test signals"""
    y_test: torch.Tensor
    """(N_test,) int64 test labels (never noised)"""
    t: torch.Tensor
    """(final_seq_length,) float32 time grid of the signals (for plotting)"""
    y_train_clean: torch.Tensor
    """(N_train,) int64 training labels before label noise"""
    config: MNIST1DConfig
    """the configuration that produced these tensors"""


def load_mnist1d(
    config: MNIST1DConfig | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
    **overrides: Any,
) -> MNIST1D:
    """Generate (or load from the on-disk cache) MNIST-1D, then apply label noise to the training labels.

    Args:
        config: generation and label-noise settings; ``None`` means ``MNIST1DConfig()``.
        cache_dir: directory of the cache; ``None`` means ``$UDL_CACHE`` if set, else
            ``platformdirs.user_cache_dir("udl")``.
        cache: ``False`` neither reads nor writes the cache.
        **overrides: fields of :class:`MNIST1DConfig` replacing those of ``config``.

    Returns:
        An :class:`MNIST1D` of torch tensors. The same config gives bitwise-identical tensors, cached or not.

    The cache file is ``mnist1d-<key>.npz`` (plain ``numpy.savez``, loaded with ``allow_pickle=False``), keyed
    by the generation parameters, a format version and the ``mnist1d`` package version. Label noise is applied
    after loading and is not part of the key. A corrupt cache file is regenerated with a logged warning.
    Python's and numpy's global RNG states are the same after the call as before it (``make_dataset`` reseeds
    them).

    Raises:
        ValueError: an unknown override name or an invalid value.
    """
    config = MNIST1DConfig() if config is None else config
    if overrides:
        valid = [f.name for f in dataclasses.fields(MNIST1DConfig)]
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(f"unknown MNIST1DConfig field(s) {unknown}; valid names: {', '.join(valid)}")
        config = dataclasses.replace(config, **overrides)

    if cache:
        arrays = _load_or_generate(config, _resolve_cache_dir(cache_dir))
    else:
        arrays = _generate(config)

    y_train_clean = arrays["y_train"]
    y_train = _apply_label_noise(y_train_clean, config.label_noise, config.label_noise_seed)
    return MNIST1D(
        x_train=torch.from_numpy(arrays["x_train"]),
        y_train=torch.from_numpy(y_train),
        x_test=torch.from_numpy(arrays["x_test"]),
        y_test=torch.from_numpy(arrays["y_test"]),
        t=torch.from_numpy(arrays["t"]),
        y_train_clean=torch.from_numpy(y_train_clean),
        config=config,
    )


def _apply_label_noise(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Replace round(fraction * N) labels, chosen without replacement, by uniform draws over all classes."""
    y = y.copy()
    n_noisy = round(fraction * len(y))
    if n_noisy == 0:
        return y
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=n_noisy, replace=False)
    y[idx] = rng.integers(0, NUM_CLASSES, size=n_noisy)
    return y


def _generate(config: MNIST1DConfig) -> dict[str, np.ndarray]:
    """Run ``make_dataset`` without leaving a trace on the global RNGs; float32 inputs, int64 labels."""
    import mnist1d.data as mdata  # lazy: the package imports matplotlib.pyplot and requests
    from mnist1d.utils import ObjectView

    args = mdata.get_dataset_args(as_dict=True)
    args.update(config.generation_params())
    args.pop("url", None)  # only get_dataset (which downloads) reads it
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - make_dataset reseeds numpy's legacy global RNG
    try:
        data = mdata.make_dataset(ObjectView(args))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
    logger.debug("generated MNIST-1D with %s", args)
    return {
        "x_train": np.ascontiguousarray(data["x"], dtype=np.float32),
        "y_train": np.ascontiguousarray(data["y"], dtype=np.int64),
        "x_test": np.ascontiguousarray(data["x_test"], dtype=np.float32),
        "y_test": np.ascontiguousarray(data["y_test"], dtype=np.int64),
        "t": np.ascontiguousarray(data["t"], dtype=np.float32),
    }


def _resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    return cache_directory(cache_dir)


def _cache_params(config: MNIST1DConfig) -> str:
    """Canonical JSON of everything that determines the cached arrays."""
    try:
        package_version = version("mnist1d")
    except PackageNotFoundError:  # pragma: no cover - mnist1d is a hard dependency
        package_version = "unknown"
    payload = {"format": _CACHE_FORMAT, "mnist1d": package_version, "params": config.generation_params()}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _cache_path(config: MNIST1DConfig, cache_dir: Path) -> Path:
    """Where the arrays of ``config`` are cached inside ``cache_dir``."""
    key = hashlib.sha256(_cache_params(config).encode()).hexdigest()[:16]
    return cache_dir / f"mnist1d-{key}.npz"


class _BadCacheError(Exception):
    pass


def _read_cache(path: Path, config: MNIST1DConfig, params: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        if set(npz.files) != {*_ARRAY_KEYS, "params"}:
            raise _BadCacheError(f"unexpected arrays {sorted(npz.files)}")
        if str(npz["params"]) != params:
            raise _BadCacheError("parameters stored in the file differ from the requested ones")
        arrays = {k: npz[k] for k in _ARRAY_KEYS}
    n_train, n_test, length = config.num_train, config.num_total - config.num_train, config.final_seq_length
    expected = {
        "x_train": ((n_train, length), np.float32),
        "y_train": ((n_train,), np.int64),
        "x_test": ((n_test, length), np.float32),
        "y_test": ((n_test,), np.int64),
        "t": ((length,), np.float32),
    }
    for k, (shape, dtype) in expected.items():
        if arrays[k].shape != shape or arrays[k].dtype != dtype:
            raise _BadCacheError(f"{k} has shape {arrays[k].shape} and dtype {arrays[k].dtype}")
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray], params: str) -> None:
    """Write atomically: a temporary file in the same directory, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            payload: dict[str, Any] = {"params": np.array(params), **arrays}
            np.savez(f, **payload)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache file is not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_or_generate(config: MNIST1DConfig, cache_dir: Path) -> dict[str, np.ndarray]:
    params = _cache_params(config)
    path = _cache_path(config, cache_dir)
    if path.exists():
        try:
            arrays = _read_cache(path, config, params)
        except Exception as exc:  # any unreadable file (bad zip, truncated, wrong contents) is regenerated
            logger.warning("MNIST-1D cache file %s is unreadable (%s); regenerating it", path, exc)
        else:
            logger.debug("loaded MNIST-1D from cache %s", path)
            return arrays
    arrays = _generate(config)
    try:
        _write_cache(path, arrays, params)
    except OSError as exc:
        logger.warning("could not write the MNIST-1D cache file %s (%s); continuing without it", path, exc)
    return arrays
