"""Data-parallel ``fit`` under torchrun (2 CPU processes, gloo): the same weights as one process with the same
global batch, and a killed DDP run resumed to where an uninterrupted one ends."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from udl.train import distributed

WORKER = Path(__file__).with_name("_ddp_worker.py")


def _worker_module():
    spec = importlib.util.spec_from_file_location("_ddp_worker", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torchrun(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(distributed.__file__).parents[2]), env.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["--monitor-interval", "0.1"]  # notice the workers' exit at once (default: every 5 s)
    return subprocess.run(
        [*command, str(WORKER), str(out), *args], capture_output=True, text=True, timeout=120, env=env
    )


def _weights(out: Path, rank: int) -> dict[str, torch.Tensor]:
    return torch.load(out / f"weights-{rank}.pt", weights_only=True)


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One torchrun launch of 2 ranks: an uninterrupted run (full/), and one interrupted on every rank inside
    epoch 4 (after epoch 3's checkpoint), abandoned, and resumed from its run directory (resumed/)."""
    out = tmp_path_factory.mktemp("ddp")
    done = _torchrun(out, "--phases")
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_two_processes_match_one_with_the_same_global_batch(ddp_run: Path, tmp_path: Path) -> None:
    one = _worker_module().train(tmp_path)  # this process: no process group, world size 1
    full = ddp_run / "full"
    two = _weights(full, 0)
    assert _max_diff(two, _weights(full, 1)) == 0.0  # the ranks hold the same weights
    # float64: DDP averages the ranks' gradients of shard-weighted mean losses (shares of 8 + 7 and 5 + 5),
    # which is the whole batch's gradient up to the summation order: after 42 momentum steps the weights
    # differ by rounding only
    assert _max_diff(one, two) <= 1e-12
    assert _max_diff(one, {k: torch.zeros_like(v) for k, v in one.items()}) > 0.1  # it did train
    # only rank 0 wrote the run: one metrics line per epoch, and the same metrics as one process
    lines = (full / "run" / "metrics.jsonl").read_text().splitlines()
    reference = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(reference) == 6
    for a, b in zip(lines, reference, strict=True):
        da, db = json.loads(a), json.loads(b)
        assert da.keys() == db.keys()
        assert all(abs(da[k] - db[k]) <= 1e-12 for k in da)
    assert sorted(p.name for p in (full / "run" / "checkpoints").iterdir()) == ["train.safetensors"]


def test_an_interrupted_ddp_run_resumes_to_the_uninterrupted_result(ddp_run: Path) -> None:
    full, resumed = ddp_run / "full", ddp_run / "resumed"
    assert (ddp_run / "lines-at-kill").read_text() == "3"  # epochs 1-3 were logged before it stopped
    for rank in (0, 1):  # bit for bit: the same arithmetic in the same order as the uninterrupted run
        assert _max_diff(_weights(resumed, rank), _weights(full, 0)) == 0.0
    assert (resumed / "run" / "metrics.jsonl").read_text() == (full / "run" / "metrics.jsonl").read_text()


@pytest.mark.slow
def test_a_killed_ddp_run_resumes_to_the_uninterrupted_result(ddp_run: Path, tmp_path: Path) -> None:
    """A real death: every rank exits (os._exit) inside epoch 4; a new torchrun launch resumes."""
    killed = _torchrun(tmp_path, "--kill-at", "4")
    assert killed.returncode != 0 and not (tmp_path / "weights-0.pt").exists()
    metrics = tmp_path / "run" / "metrics.jsonl"
    assert len(metrics.read_text().splitlines()) == 3
    resumed = _torchrun(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for rank in (0, 1):
        assert _max_diff(_weights(tmp_path, rank), _weights(ddp_run / "full", 0)) == 0.0
    assert metrics.read_text() == (ddp_run / "full" / "run" / "metrics.jsonl").read_text()


def test_outside_a_process_group_sharding_is_the_identity() -> None:
    idx = torch.arange(7)
    assert torch.equal(distributed.shard(idx), idx)
    assert distributed.rank_and_world() == (0, 1)
    assert distributed.shard_weight(7, 7) == 1.0
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
