"""AugmentedTraining: the transform applies in training mode only, its draws come from the given generator."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from udl.data import random_shift_rotate
from udl.nn import MLP, AugmentedTraining
from udl.train import fit


def test_transform_only_in_training_mode() -> None:
    g = torch.Generator().manual_seed(0)
    net = AugmentedTraining(MLP(4, (8,), 2, generator=g), lambda x: -x)
    x = torch.randn(3, 4, generator=g)
    assert torch.equal(net.train()(x), net.model(-x))
    assert torch.equal(net.eval()(x), net.model(x))
    assert set(net.state_dict()) == {f"model.{k}" for k in net.model.state_dict()}


def test_seeded_augmentation_is_reproducible_and_fit_trains_through_it() -> None:
    def train(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(0)  # the same initial weights in every call: only the augmentation stream differs
        cnn = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(128, 3)
        )
        model = AugmentedTraining(
            cnn, partial(random_shift_rotate, max_shift=1, max_degrees=10.0, generator=g)
        )
        x, y = torch.rand(16, 1, 8, 8, generator=g), torch.randint(3, (16,), generator=g)
        fit(model, torch.nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1), (x, y),
            epochs=2, batch_size=8, generator=g)  # fmt: skip
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    first = train(1)
    assert torch.equal(first, train(1))
    assert not torch.equal(first, train(2))


def test_rejects_a_non_callable_transform() -> None:
    with pytest.raises(ValueError, match="callable"):
        AugmentedTraining(torch.nn.Identity(), 3)  # type: ignore[arg-type]
