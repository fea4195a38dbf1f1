import math
import random

import numpy as np
import pytest
import torch

from udl.errors import CheckpointError
from udl.train import (
    global_rng_state,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_global_rng_state,
)


def _trained_optimizer():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    return model, opt


def test_round_trip_keeps_structure_types_and_bits(tmp_path):
    seed_everything(0)
    model, opt = _trained_optimizer()
    tree = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "tuple": (1, 2.5, "x", None, True),
        "floats": [math.inf, -math.inf],
        7: {"nested": [torch.arange(3), {"deep": torch.ones(2, 2, dtype=torch.float64)}]},
    }
    save_checkpoint(tmp_path / "ck", tree)
    back = load_checkpoint(tmp_path / "ck")
    assert back["tuple"] == (1, 2.5, "x", None, True)
    assert back["floats"] == [math.inf, -math.inf]
    assert 7 in back and torch.equal(back[7]["nested"][1]["deep"], torch.ones(2, 2, dtype=torch.float64))
    for k, v in tree["model"].items():
        assert torch.equal(back["model"][k], v)
    # optimizer state keys are ints and betas a tuple: torch must accept the loaded dict as is
    assert set(back["optimizer"]["state"]) == {0, 1}
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.95)
    _model2, opt2 = _trained_optimizer()
    opt2.load_state_dict(back["optimizer"])
    for a, b in zip(opt.state.values(), opt2.state.values(), strict=True):
        assert torch.equal(a["exp_avg"], b["exp_avg"])


def test_no_pickle_on_disk(tmp_path):
    save_checkpoint(tmp_path / "ck", {"w": torch.ones(2)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]
    assert (tmp_path / "ck.json").read_text().startswith("{")


@pytest.mark.parametrize("damage", ["truncate-tensors", "garbage-json", "missing-tensors", "wrong-format"])
def test_corrupt_checkpoint_raises_checkpoint_error(tmp_path, damage):
    save_checkpoint(tmp_path / "ck", {"w": torch.randn(100)})
    tensors, meta = tmp_path / "ck.safetensors", tmp_path / "ck.json"
    if damage == "truncate-tensors":
        tensors.write_bytes(tensors.read_bytes()[:50])
    elif damage == "garbage-json":
        meta.write_text("{not json")
    elif damage == "missing-tensors":
        tensors.unlink()
    else:
        meta.write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        load_checkpoint(tmp_path / "ck")


def test_unsupported_value_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot checkpoint"):
        save_checkpoint(tmp_path / "ck", {"f": object()})


def test_global_rng_state_round_trip(tmp_path):
    seed_everything(3)
    state = global_rng_state()
    save_checkpoint(tmp_path / "rng", state)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(99)
    set_global_rng_state(load_checkpoint(tmp_path / "rng"))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_seed_everything_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        seed_everything(-1)
