"""The vae-digits experiment's Config (its verdicts are the VAE recipe's, tested in test_vae_mnist1d.py)."""

from __future__ import annotations

import pytest

from udl.experiments.ch17.vae_digits import PRESETS, Config, _grid


@pytest.mark.parametrize(
    ("field", "value"), [("threshold", 0.0), ("threshold", 1.0), ("latent_dim", 0), ("seeds", 0)]
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def test_presets_inherit_the_recipe() -> None:
    assert PRESETS["quick"].threshold == 0.5 and PRESETS["quick"].latent_dim == 16


def test_grid_places_images_in_two_rows_of_four() -> None:
    import torch

    images = torch.arange(8.0)[:, None, None].expand(8, 8, 8)
    grid = _grid(images)
    assert grid.shape == (16, 32)
    assert grid[0, 0] == 0 and grid[0, 8] == 1 and grid[8, 0] == 4 and grid[15, 31] == 7
