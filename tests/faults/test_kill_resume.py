"""SIGKILL at a random moment, then --resume: the run ends exactly where an uninterrupted one ends.

For each experiment: an uninterrupted smoke run is the reference; a second run is killed with SIGKILL at a random
moment after its first checkpoint (or, for experiments that keep no checkpoint, after its first metrics line),
then resumed through the CLI; metrics.jsonl must equal the reference byte for byte, and result.json's metrics,
claims and checks must be equal too. A seeded sample of experiments runs in the fast tier; every experiment under
``make slow``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from udl.experiments import experiment_names

FAST_SAMPLE = sorted(random.Random(2026).sample(experiment_names(), 5))


def _started(partial: Path) -> bool:
    checkpoints = partial / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.glob("*.safetensors")):
        return True
    metrics = partial / "metrics.jsonl"
    return metrics.is_file() and metrics.stat().st_size > 0


def _kill_and_resume(cli, tmp_path: Path, name: str, seed: int) -> None:
    reference = tmp_path / "reference"
    proc = cli("run", name, "--preset", "smoke", "--out", reference, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rng = random.Random(seed)
    env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="ignore")
    for attempt in range(4):
        out = tmp_path / f"killed{attempt}"
        partial = out.with_name(out.name + ".partial")
        child = subprocess.Popen(
            [sys.executable, "-m", "udl", "run", name, "--preset", "smoke", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 600
        while child.poll() is None and not _started(partial) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3) / (attempt + 1))
        child.send_signal(signal.SIGKILL)
        child.wait()
        if partial.is_dir() and not out.exists():
            break  # killed mid-run: resume it
    else:
        pytest.skip(f"{name}'s smoke run finished before any kill landed (4 attempts)")
    proc = cli("run", name, "--resume", partial, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert out.is_dir() and not partial.exists()
    assert (out / "metrics.jsonl").read_bytes() == (reference / "metrics.jsonl").read_bytes()
    ref, res = (json.loads((d / "result.json").read_text()) for d in (reference, out))
    assert res["resumed"] is True
    for key in ("metrics", "claims", "checks", "figures"):
        assert res[key] == ref[key], key


@pytest.mark.parametrize("name", FAST_SAMPLE)
def test_kill_and_resume_sample(cli, tmp_path, name):
    _kill_and_resume(cli, tmp_path, name, seed=len(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_kill_and_resume_every_experiment(cli, tmp_path, name):
    _kill_and_resume(cli, tmp_path, name, seed=len(name) + 1)
