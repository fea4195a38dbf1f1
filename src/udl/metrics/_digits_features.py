r"""The "Fréchet digits distance": the Fréchet distance (UDL section 14.3) in the feature space of a small digits
classifier, the 8 x 8 stand-in for the Fréchet inception distance.

FID compares Gaussians fitted to the activations of an Inception network trained on ImageNet; here the network
is a :class:`udl.models.DigitsCNN` (two conv-ReLU-pool blocks, 6,090 parameters) trained once on the training
half of scikit-learn's digits by a seeded recipe (:class:`DigitsClassifierRecipe`), and the features are its
128 penultimate activations (the flattened output of the convolutional blocks). The trained weights are cached
as one safetensors file under udl's cache directory (``$UDL_CACHE``, else the user cache directory), keyed by
the recipe's parameters, a format number and udl's version; the file is written under a temporary name in the
same directory and renamed, so processes sharing the cache never see half a file. A file whose stored
parameters differ, or that cannot be read, is retrained (with a logged warning) and replaced.

The classifier also serves the conditional GAN experiments: it tells which digit a generated image shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from udl.data import cache_directory, load_digits_split
from udl.metrics._generative import frechet_distance_from_features
from udl.models import DigitsCNN, DigitsCNNConfig
from udl.optim import Adam
from udl.train import fit

__all__ = ["DigitsClassifierRecipe", "DigitsFeatures", "digits_features", "frechet_digits_distance"]

logger = logging.getLogger(__name__)

_FORMAT = 1
"""Bump when the cached file's layout or the feature definition changes; part of the cache key."""


@dataclass(frozen=True)
class DigitsClassifierRecipe:
    """How the feature classifier is trained (every field is part of the cache key)."""

    channels: tuple[int, ...] = (16, 32)
    """channels of the DigitsCNN's conv -> ReLU -> max-pool blocks"""
    epochs: int = 30
    """passes over the training half of the digits"""
    batch_size: int = 64
    """mini-batch size"""
    lr: float = 3e-3
    """Adam's learning rate"""
    test_fraction: float = 0.5
    """share of each class held out (the classifier never sees it; its accuracy there is reported)"""
    split_seed: int = 0
    """seed of the train/test split (udl.data.load_digits_split)"""
    seed: int = 0
    """seed of the initialization and the batch order"""

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size) < 1 or not self.channels or min(self.channels) < 1:
            raise ValueError(f"epochs, batch_size and channels must be >= 1, got {self}")
        if not 0 < self.lr <= 1 or not 0 < self.test_fraction < 1:
            raise ValueError(
                f"lr must be in (0, 1] and test_fraction in (0, 1), got {self.lr}, {self.test_fraction}"
            )

    def key(self) -> str:
        """Canonical JSON of the recipe, the file format and udl's version."""
        from udl import __version__

        payload = {"format": _FORMAT, "udl": __version__, "recipe": dataclasses.asdict(self)}
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))


class DigitsFeatures:
    """A trained digits classifier used as a feature map: ``features`` (N, 128) and ``logits`` (N, 10).

    Images are (N, 1, 8, 8) with pixels in [0, 1] (``udl.data.load_digits_split``'s scale).
    """

    def __init__(self, model: DigitsCNN, recipe: DigitsClassifierRecipe, test_accuracy: float) -> None:
        self.model, self.recipe, self.test_accuracy = model.eval(), recipe, test_accuracy

    @staticmethod
    def _check(images: Tensor) -> Tensor:
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, 8, 8):
            raise ValueError(f"images must have shape (N, 1, 8, 8), got {tuple(images.shape)}")
        return images.detach().to("cpu", torch.float32)

    @torch.no_grad()
    def features(self, images: Tensor) -> Tensor:
        """(N, 128) float64: the flattened output of the convolutional blocks (the layer before the logits)."""
        h = self._check(images)
        for conv in self.model.convs:
            h = nn.functional.max_pool2d(torch.relu(conv(h)), 2)  # (N, 16, 4, 4) -> (N, 32, 2, 2)
        return h.flatten(1).double()

    @torch.no_grad()
    def logits(self, images: Tensor) -> Tensor:
        """(N, 10) class logits."""
        return self.model(self._check(images))

    def predict(self, images: Tensor) -> Tensor:
        """(N,) the predicted digit."""
        return self.logits(images).argmax(1)


def _train(recipe: DigitsClassifierRecipe) -> tuple[DigitsCNN, float]:
    data = load_digits_split(recipe.test_fraction, recipe.split_seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    model = DigitsCNN(DigitsCNNConfig(channels=recipe.channels), init="he", generator=generator)
    fit(
        model,
        nn.functional.cross_entropy,
        Adam(model.parameters(), lr=recipe.lr),
        (data.x_train, data.y_train),
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        generator=generator,
    )
    with torch.no_grad():
        accuracy = float((model(data.x_test).argmax(1) == data.y_test).double().mean())
    return model.eval(), accuracy


def _cache_path(recipe: DigitsClassifierRecipe, directory: Path) -> Path:
    return (
        directory / f"digits-classifier-{hashlib.sha256(recipe.key().encode()).hexdigest()[:16]}.safetensors"
    )


def _read(path: Path, recipe: DigitsClassifierRecipe) -> tuple[DigitsCNN, float]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("key") != recipe.key():
            raise ValueError("the stored recipe differs from the requested one")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = DigitsCNN(DigitsCNNConfig(channels=recipe.channels))
    model.load_state_dict(tensors)
    return model.eval(), float(meta["test_accuracy"])


def _write(path: Path, model: DigitsCNN, recipe: DigitsClassifierRecipe, accuracy: float) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, tmp, metadata={"key": recipe.key(), "test_accuracy": repr(accuracy)})
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a cache file is not a secret
        os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_LOADED: dict[tuple[DigitsClassifierRecipe, str, int, int], DigitsFeatures] = {}


def digits_features(
    recipe: DigitsClassifierRecipe | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> DigitsFeatures:
    """The feature classifier of ``recipe``: loaded from the cache, or trained (a few seconds) and cached.

    Args:
        recipe: the training recipe (default :class:`DigitsClassifierRecipe`).
        cache_dir: the cache directory; None for ``udl.data.cache_directory()`` (``$UDL_CACHE`` or the user's).
        cache: False trains afresh and neither reads nor writes the cache.
    """
    recipe = recipe if recipe is not None else DigitsClassifierRecipe()
    if not cache:
        model, accuracy = _train(recipe)
        return DigitsFeatures(model, recipe, accuracy)
    path = _cache_path(recipe, cache_directory(cache_dir))
    if path.exists():
        stat = path.stat()
        memo = (recipe, str(path), stat.st_mtime_ns, stat.st_size)  # a file replaced since is read again
        if memo in _LOADED:
            return _LOADED[memo]
        try:
            model, accuracy = _read(path, recipe)
        except Exception as error:  # unreadable or foreign: retrain and replace it
            logger.warning("digits classifier cache %s is unusable (%s); retraining it", path, error)
        else:
            _LOADED[memo] = DigitsFeatures(model, recipe, accuracy)
            return _LOADED[memo]
    model, accuracy = _train(recipe)
    try:
        _write(path, model, recipe, accuracy)
    except OSError as error:
        logger.warning(
            "could not write the digits classifier cache %s (%s); continuing without it", path, error
        )
    return DigitsFeatures(model, recipe, accuracy)


def frechet_digits_distance(a: Tensor, b: Tensor, features: DigitsFeatures | None = None) -> float:
    """Fréchet distance between Gaussians fitted to the classifier features of two image sets (N, 1, 8, 8)."""
    features = features if features is not None else digits_features()
    return frechet_distance_from_features(features.features(a), features.features(b))
