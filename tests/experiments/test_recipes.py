"""The shared training recipes (udl.experiments._recipes, _mnist1d.ClassifierRecipe): fields, checks, loops."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from udl.experiments._mnist1d import ClassifierRecipe, MNIST1DRecipe, train_classifier
from udl.experiments._recipes import (
    AdamRecipe,
    ShapesRecipe,
    TrainingRecipe,
    seed_range,
    spread_sd,
    train_adam,
)
from udl.optim import SGD, Adam, StepDecay
from udl.report.validate import field_docs
from udl.train import fit


@pytest.mark.parametrize(
    "recipe", [TrainingRecipe, AdamRecipe, ShapesRecipe, ClassifierRecipe, MNIST1DRecipe]
)
def test_every_field_has_a_docstring(recipe: type) -> None:
    docs = field_docs(recipe)
    assert all(docs.get(f.name) for f in dataclasses.fields(recipe))


@pytest.mark.parametrize(
    ("recipe", "values", "field"),
    [
        (AdamRecipe, {"epochs": 0}, "epochs"),
        (AdamRecipe, {"batch_size": 0}, "batch_size"),
        (AdamRecipe, {"checkpoint_every": 0}, "checkpoint_every"),
        (AdamRecipe, {"lr": 2.0}, "lr"),  # Adam: at most 1
        (AdamRecipe, {"lr": 0.0}, "lr"),
        (ClassifierRecipe, {"lr": 11.0}, "lr"),  # SGD: at most 10
        (ClassifierRecipe, {"momentum": 1.0}, "momentum"),
        (ClassifierRecipe, {"gamma": 0.0}, "gamma"),
        (ClassifierRecipe, {"seeds": 0}, "seeds"),
        (ShapesRecipe, {"widths": (8, 0)}, "widths"),
        (ShapesRecipe, {"image_size": 30}, "image_size"),  # not a multiple of the stride 4
        (ShapesRecipe, {"noise": -0.1}, "noise"),
        (ShapesRecipe, {"num_test": 0}, "num_test"),
    ],
)
def test_bad_values_are_refused_naming_the_field(recipe: type, values: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        recipe(**values)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)


def _net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _assert_same_as_fit(
    ours: nn.Module, optimizer: type, scheduler: Callable[..., object], **hyper: Any
) -> None:
    """``ours`` equals, bit for bit, a fresh ``_net()`` trained by ``fit`` for 3 epochs of batches of 8 with
    ``optimizer(**hyper)`` and ``scheduler(optimizer)``, batch order from seed 2."""
    ref = _net()
    opt = optimizer(ref.parameters(), **hyper)
    fit(
        ref,
        nn.functional.cross_entropy,
        opt,
        _data(),
        epochs=3,
        batch_size=8,
        scheduler=scheduler(opt),
        generator=torch.Generator().manual_seed(2),
    )
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(next(ours.parameters()), next(_net().parameters()))  # it did train


def test_train_adam_is_adam_with_cosine_decay_through_fit() -> None:
    ours = _net()
    cfg = AdamRecipe(epochs=3, batch_size=8, lr=1e-2)
    generator = torch.Generator().manual_seed(2)
    train_adam(
        ours, nn.functional.cross_entropy, cfg, _data(), cosine=True, run=None, name="t", generator=generator
    )
    _assert_same_as_fit(
        ours, Adam, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3), lr=1e-2
    )


def test_train_classifier_is_sgd_with_step_decay_through_fit() -> None:
    ours = _net()
    cfg = ClassifierRecipe(epochs=3, batch_size=8, lr=0.05, momentum=0.9, step_size=1, gamma=0.5)
    generator = torch.Generator().manual_seed(2)
    train_classifier(ours, cfg, _data(), weight_decay=1e-3, run=None, name="t", generator=generator)
    _assert_same_as_fit(
        ours,
        SGD,
        lambda opt: StepDecay(opt, step_size=1, gamma=0.5),
        lr=0.05,
        momentum=0.9,
        weight_decay=1e-3,
    )


def test_seed_range_counts_from_the_first_seed() -> None:
    @dataclasses.dataclass(frozen=True)
    class Seeds:
        seed: int
        seeds: int

    assert list(seed_range(Seeds(seed=7, seeds=3))) == [7, 8, 9]
    assert list(seed_range(ClassifierRecipe(seed=0, seeds=1))) == [0]


def test_spread_sd_is_zero_for_one_seed() -> None:
    assert spread_sd([0.5]) == 0.0
    assert spread_sd([1.0, 3.0]) == pytest.approx(2**0.5)
