"""Tests of udl.data.mnist1d_with_shifts against the mnist1d package's own generator, with its draws recorded."""

# ruff: noqa: NPY002  (the generator uses numpy's legacy global RNG)

from __future__ import annotations

import importlib
import random

import mnist1d.data as mdata
import numpy as np
import pytest
import torch
from mnist1d.utils import ObjectView

from udl.data import MNIST1DConfig, load_mnist1d, mnist1d_with_shifts

mtransform = importlib.import_module(
    "mnist1d.transform"
)  # the module: the package re-exports a function of that name


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UDL_CACHE", str(tmp_path / "cache"))


def _recorded_shifts(config: MNIST1DConfig, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """The package's make_dataset, with its translate and its batch shuffle wrapped to record their draws."""
    shifts: list[int] = []
    perms: list[np.ndarray] = []
    permutation = np.random.permutation

    def translate(x: np.ndarray, max_translation: int) -> np.ndarray:
        k = np.random.choice(max_translation)
        shifts.append(int(k))
        return np.concatenate([x[-k:], x[:-k]])

    def recording_permutation(n: int) -> np.ndarray:
        perms.append(permutation(n))
        return perms[-1]

    monkeypatch.setattr(mtransform, "translate", translate)
    monkeypatch.setattr(np.random, "permutation", recording_permutation)
    state = np.random.get_state()
    mdata.make_dataset(ObjectView(config.generation_params()))
    np.random.set_state(state)
    return np.asarray(shifts)[perms[0]]  # the first permutation is make_dataset's batch shuffle


@pytest.mark.parametrize(
    "config",
    [MNIST1DConfig(num_samples=200), MNIST1DConfig(num_samples=300, seed=7, max_translation=20)],
)
def test_shifts_are_the_generators_translations(config, monkeypatch) -> None:
    data, k_train, k_test = mnist1d_with_shifts(config)
    expected = _recorded_shifts(config, monkeypatch)
    assert k_train.dtype == torch.int64 and k_train.shape == (config.num_train,)
    assert k_test.shape == (config.num_total - config.num_train,)
    np.testing.assert_array_equal(torch.cat([k_train, k_test]).numpy(), expected)
    assert int(k_train.min()) >= 0 and int(k_train.max()) < config.max_translation
    reference = load_mnist1d(config)
    assert torch.equal(data.x_train, reference.x_train) and torch.equal(data.y_test, reference.y_test)


def test_global_rng_state_is_restored() -> None:
    random.seed(3)
    np.random.seed(3)
    before = (random.random(), np.random.rand())
    random.seed(3)
    np.random.seed(3)
    mnist1d_with_shifts(MNIST1DConfig(num_samples=100))
    assert (random.random(), np.random.rand()) == before


@pytest.mark.parametrize("field", [{"shuffle_seq": True}, {"label_noise": 0.1}])
def test_unsupported_configs_raise(field) -> None:
    with pytest.raises(ValueError, match="shuffle_seq and label_noise"):
        mnist1d_with_shifts(MNIST1DConfig(num_samples=100, **field))
