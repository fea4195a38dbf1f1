"""Tests of udl.data.mnist1d: agreement with mnist1d.make_dataset, caching, label noise, RNG hygiene."""

# ruff: noqa: NPY002  (these tests are about numpy's legacy global RNG, which make_dataset reseeds)

from __future__ import annotations

import dataclasses
import json
import logging
import random
from typing import Any

import mnist1d.data as mdata
import numpy as np
import pytest
import torch
from mnist1d.utils import ObjectView

from udl.data import MNIST1DConfig, load_mnist1d

SMALL = MNIST1DConfig(num_samples=200)  # 160 train / 40 test, generated in a few milliseconds


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache directory; nothing is written to the real one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("UDL_CACHE", str(cache))
    return cache


def _assert_same(a, b):
    for name in ("x_train", "y_train", "x_test", "y_test", "t", "y_train_clean"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.dtype == tb.dtype and ta.shape == tb.shape, name
        assert torch.equal(ta, tb), name


def test_default_config_matches_make_dataset_and_book_split():
    data = load_mnist1d(cache=False)
    assert data.config == MNIST1DConfig()
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert data.y_train.shape == (4000,) and data.y_test.shape == (1000,) and data.t.shape == (40,)
    assert data.x_train.dtype == torch.float32 and data.t.dtype == torch.float32
    assert data.y_train.dtype == torch.int64 and data.y_test.dtype == torch.int64
    assert torch.equal(data.y_train, data.y_train_clean)

    state = np.random.get_state()
    reference = mdata.make_dataset(ObjectView(mdata.get_dataset_args(as_dict=True)))
    np.random.set_state(state)
    np.testing.assert_array_equal(data.x_train.numpy(), reference["x"].astype(np.float32))
    np.testing.assert_array_equal(data.x_test.numpy(), reference["x_test"].astype(np.float32))
    np.testing.assert_array_equal(data.y_train.numpy(), reference["y"])
    np.testing.assert_array_equal(data.y_test.numpy(), reference["y_test"])
    np.testing.assert_array_equal(data.t.numpy(), reference["t"].astype(np.float32))
    # all ten classes present, roughly balanced
    assert torch.bincount(data.y_train, minlength=10).min() > 300


def test_config_defaults_are_the_package_defaults():
    package = mdata.get_dataset_args(as_dict=True)
    ours = MNIST1DConfig().generation_params()
    assert set(ours) == set(package) - {"url"}
    for name, value in ours.items():
        assert value == package[name], name


def test_non_default_parameters_reach_make_dataset():
    cfg = MNIST1DConfig(num_samples=300, train_split=0.5, final_seq_length=24, shuffle_seq=True, seed=7)
    data = load_mnist1d(cfg, cache=False)
    assert data.x_train.shape == (150, 24) and data.x_test.shape == (150, 24) and data.t.shape == (24,)
    args = mdata.get_dataset_args(as_dict=True)
    args.update(num_samples=300, train_split=0.5, final_seq_length=24, shuffle_seq=True, seed=7)
    reference = mdata.make_dataset(ObjectView(args))
    np.testing.assert_array_equal(data.x_train.numpy(), reference["x"].astype(np.float32))


def test_global_rng_state_is_untouched():
    random.seed(123)
    np.random.seed(321)
    py_before = random.getstate()
    np_before: Any = np.random.get_state()
    load_mnist1d(SMALL, cache=False)
    load_mnist1d(SMALL)  # generate and write the cache
    load_mnist1d(SMALL)  # read the cache
    assert random.getstate() == py_before
    np_after: Any = np.random.get_state()
    assert np_after[0] == np_before[0] and np.array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:]
    # and the next draws are those a fresh seeding gives
    a, b = random.random(), np.random.rand()
    random.seed(123)
    np.random.seed(321)
    assert (a, b) == (random.random(), np.random.rand())


def test_deterministic_and_cache_round_trip_is_bitwise(_private_cache):
    uncached = load_mnist1d(SMALL, cache=False)
    assert not _private_cache.exists()
    _assert_same(uncached, load_mnist1d(SMALL, cache=False))

    first = load_mnist1d(SMALL)  # writes the cache
    files = sorted(_private_cache.iterdir())
    assert len(files) == 1 and files[0].name.startswith("mnist1d-") and files[0].suffix == ".npz"
    assert len(files[0].stem) == len("mnist1d-") + 16
    with np.load(files[0], allow_pickle=False) as npz:  # plain arrays, no pickle needed
        assert {"x_train", "y_train", "x_test", "y_test", "t"} <= set(npz.files)
    _assert_same(uncached, first)


def test_cache_hit_does_not_regenerate(monkeypatch):
    first = load_mnist1d(SMALL)

    def fail(*args, **kwargs):
        raise AssertionError("make_dataset called despite a cache file")

    monkeypatch.setattr(mdata, "make_dataset", fail)
    _assert_same(first, load_mnist1d(SMALL))


def test_cache_key_ignores_label_noise_but_not_generation_params(_private_cache):
    load_mnist1d(SMALL)
    load_mnist1d(SMALL, label_noise=0.3, label_noise_seed=5)
    assert len(list(_private_cache.glob("mnist1d-*.npz"))) == 1
    load_mnist1d(SMALL, iid_noise_scale=0.05)
    load_mnist1d(SMALL, seed=1)
    assert len(list(_private_cache.glob("mnist1d-*.npz"))) == 3
    assert not list(_private_cache.glob("*.tmp"))  # no temporary files left behind


def test_explicit_cache_dir_overrides_environment(tmp_path, _private_cache):
    other = tmp_path / "explicit"
    load_mnist1d(SMALL, cache_dir=other)
    assert len(list(other.glob("mnist1d-*.npz"))) == 1
    assert not _private_cache.exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-params"])
def test_corrupt_cache_is_regenerated_with_a_warning(damage, _private_cache, caplog):
    reference = load_mnist1d(SMALL, cache=False)
    load_mnist1d(SMALL)
    (path,) = _private_cache.glob("mnist1d-*.npz")
    if damage == "garbage":
        path.write_bytes(b"this is not a zip file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    else:  # a valid npz holding other data
        other = load_mnist1d(SMALL, seed=1, cache=False)
        np.savez(
            path,
            params=np.array("{}"),
            x_train=other.x_train.numpy(),
            y_train=other.y_train.numpy(),
            x_test=other.x_test.numpy(),
            y_test=other.y_test.numpy(),
            t=other.t.numpy(),
        )
    with caplog.at_level(logging.WARNING, logger="udl.data.mnist1d"):
        regenerated = load_mnist1d(SMALL)
    assert any("regenerating" in r.getMessage() for r in caplog.records)
    _assert_same(reference, regenerated)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="udl.data.mnist1d"):
        _assert_same(reference, load_mnist1d(SMALL))  # the file was overwritten with good data
    assert not caplog.records


def test_label_noise_exact_count_and_train_only():
    cfg = MNIST1DConfig(num_samples=1000, label_noise=0.5, label_noise_seed=3)
    clean = load_mnist1d(cfg, label_noise=0.0)
    noisy = load_mnist1d(cfg)
    n_train = 800
    # inputs and test labels untouched, clean labels preserved
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.x_test, clean.x_test)
    assert torch.equal(noisy.y_test, clean.y_test)
    assert torch.equal(noisy.y_train_clean, clean.y_train)
    # round(0.5 * 800) = 400 labels redrawn uniformly over 10 classes: ~9/10 of them change
    changed = int((noisy.y_train != noisy.y_train_clean).sum())
    assert changed <= 400
    assert abs(changed - 360) < 5 * 6  # binomial(400, 0.9) has std 6
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() <= 9
    assert noisy.y_train.shape == (n_train,) and noisy.y_train.dtype == torch.int64

    # the protocol, recomputed independently: k indices without replacement, each a uniform class
    rng = np.random.default_rng(3)
    idx = rng.choice(n_train, size=400, replace=False)
    expected = clean.y_train.numpy().copy()
    expected[idx] = rng.integers(0, 10, size=400)
    np.testing.assert_array_equal(noisy.y_train.numpy(), expected)


def test_label_noise_seed_is_independent_of_generation_seed():
    a = load_mnist1d(SMALL, label_noise=0.25, label_noise_seed=1)
    b = load_mnist1d(SMALL, label_noise=0.25, label_noise_seed=1)
    c = load_mnist1d(SMALL, label_noise=0.25, label_noise_seed=2)
    assert torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.y_train, c.y_train)
    assert torch.equal(a.x_train, c.x_train) and torch.equal(a.y_train_clean, c.y_train_clean)


def test_full_label_noise_leaves_about_a_tenth_correct():
    data = load_mnist1d(num_samples=2000, label_noise=1.0)
    agree = (data.y_train == data.y_train_clean).double().mean().item()
    assert abs(agree - 0.1) < 0.03  # 1600 draws: std of the agreement rate is 0.0075


def test_overrides():
    data = load_mnist1d(SMALL, train_split=0.5)
    assert data.config == dataclasses.replace(SMALL, train_split=0.5)
    assert data.x_train.shape == (100, 40) and data.x_test.shape == (100, 40)
    with pytest.raises(ValueError, match=r"unknown MNIST1DConfig field\(s\) \['num_sample'\].*num_samples"):
        load_mnist1d(num_sample=100)


def test_config_normalizes_and_is_hashable():
    cfg = MNIST1DConfig(padding=[36, np.int64(60)], scale_coeff=0, seed=np.int64(42))  # type: ignore[arg-type]
    assert cfg.padding == (36, 60) and isinstance(cfg.scale_coeff, float)
    assert type(cfg.seed) is int and type(cfg.padding[1]) is int
    json.dumps(cfg.generation_params())  # numpy scalars were converted, so the cache key can be computed
    assert cfg == MNIST1DConfig(scale_coeff=0.0)
    assert hash(cfg) == hash(MNIST1DConfig(scale_coeff=0.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_samples", 9),
        ("num_samples", 100.0),
        ("train_split", 0.0),
        ("train_split", 1.0),
        ("template_len", 0),
        ("padding", (10, 5)),
        ("padding", (-1, 5)),
        ("padding", (1, 2, 3)),
        ("scale_coeff", -0.1),
        ("scale_coeff", 2.0),
        ("max_translation", 0),
        ("corr_noise_scale", -1.0),
        ("iid_noise_scale", float("nan")),
        ("shear_scale", -0.5),
        ("shuffle_seq", 1),
        ("final_seq_length", 0),
        ("seed", -1),
        ("seed", 2**32),
        ("label_noise", -0.1),
        ("label_noise", 1.5),
        ("label_noise_seed", -3),
    ],
)
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        MNIST1DConfig(**{field: value})


def test_empty_split_is_rejected():
    with pytest.raises(ValueError, match=r"train_split=0\.05 with num_samples=10 gives 0 training"):
        MNIST1DConfig(num_samples=10, train_split=0.05)
