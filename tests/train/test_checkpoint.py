import json
import math
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save

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


def test_one_file_no_pickle_on_disk(tmp_path):
    save_checkpoint(tmp_path / "ck", {"w": torch.ones(2), "epoch": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors"]
    with safe_open(str(tmp_path / "ck.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "udl-checkpoint-2" and json.loads(meta["tree"])["__dict__"][1] == ["epoch", 3]


@pytest.mark.parametrize(
    "damage", ["truncate", "garbage", "empty", "missing", "wrong-format", "tensor-count", "bad-tree"]
)
def test_corrupt_checkpoint_raises_checkpoint_error(tmp_path, damage):
    save_checkpoint(tmp_path / "ck", {"w": torch.randn(100)})
    path = tmp_path / "ck.safetensors"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-50])
    elif damage == "garbage":
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "missing":
        path.unlink()
    else:
        meta = {"format": "udl-checkpoint-2", "num_tensors": "1", "tree": '{"__tensor__": "root"}'}
        if damage == "wrong-format":
            meta["format"] = "something-else"
        elif damage == "tensor-count":
            meta["num_tensors"] = "2"
        else:
            meta["tree"] = "{broken"
        path.write_bytes(save({"root": torch.ones(1)}, metadata=meta))
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        load_checkpoint(tmp_path / "ck")


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except-clause cleans up."""


_STEPS = ("write", "fsync", "replace", "fsync-dir")


@pytest.mark.parametrize("kill_before", range(len(_STEPS) + 1))
def test_a_writer_killed_between_any_two_steps_leaves_the_old_or_the_new_checkpoint(
    tmp_path, monkeypatch, kill_before
):
    """Kill the writer before each of its steps (and after the last): the checkpoint that loads is complete, the
    old one up to the rename and the new one after it — never epoch-10 state beside epoch-20 weights."""
    from udl.train import checkpoint as ck

    old = {"epoch": 10, "w": torch.full((50,), 10.0)}
    new = {"epoch": 20, "w": torch.full((50,), 20.0)}
    save_checkpoint(tmp_path / "ck", old)
    done: list[str] = []

    def step(name, real):
        def wrapped(*args, **kwargs):
            if len(done) == kill_before:
                raise _Killed
            done.append(name)
            return real(*args, **kwargs)

        return wrapped

    real_write, real_fsync = ck._write_durably, ck.os.fsync

    def write(path, data):  # the write proper, then the fsync, as two steps
        with open(path, "wb") as f:
            step("write", f.write)(data)
            f.flush()
            step("fsync", real_fsync)(f.fileno())

    monkeypatch.setattr(ck, "_write_durably", write)
    monkeypatch.setattr(ck.os, "replace", step("replace", ck.os.replace))
    monkeypatch.setattr(ck, "_fsync_directory", step("fsync-dir", ck._fsync_directory))
    try:
        save_checkpoint(tmp_path / "ck", new)
    except _Killed:
        pass
    monkeypatch.undo()
    assert real_write is ck._write_durably
    back = load_checkpoint(tmp_path / "ck")
    expected = new if "replace" in done else old
    assert back["epoch"] == expected["epoch"] and torch.equal(back["w"], expected["w"])
    # and the next save after the "kill" works and wins
    save_checkpoint(tmp_path / "ck", {"epoch": 30})
    assert load_checkpoint(tmp_path / "ck") == {"epoch": 30}


def test_a_real_sigkill_at_random_moments_never_tears_a_checkpoint(tmp_path):
    """A child process rewrites one checkpoint in a loop with payloads that say which write they came from;
    SIGKILL it at random moments: every time, the file that remains loads and is internally consistent."""
    import random as _random
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, torch\n"
        "from udl.train import save_checkpoint\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    save_checkpoint(sys.argv[1], {'i': i, 'w': torch.full((20000,), float(i))})\n"
        "    if i == 1: print('ready', flush=True)\n"
    )
    rng = _random.Random(0)
    for trial in range(6):
        stem = tmp_path / f"ck{trial}"
        proc = subprocess.Popen([sys.executable, "-c", script, str(stem)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        back = load_checkpoint(stem)
        assert back["i"] >= 1 and torch.equal(back["w"], torch.full((20000,), float(back["i"])))


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
