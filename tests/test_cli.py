"""The real ``udl`` command line: bad input, determinism, kill-and-resume, reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from udl.experiments import experiment_names

# A smoke-sized mnist1d-baselines run: two models, fast, with checkpoints every epoch.
SMALL = ("mnist1d-baselines", "--preset", "smoke")


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("udl: error:")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_version_and_help(cli):
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("udl ")
    proc = cli("run", "mnist1d-baselines", "--help")
    assert proc.returncode == 0
    assert "--epochs" in proc.stdout and "passes over the training set" in proc.stdout
    assert "--preset" in proc.stdout and "--resume" in proc.stdout


def test_list_json_names_every_experiment(cli):
    proc = cli("list", "--json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == experiment_names()
    for r in rows:
        assert {"smoke", "quick", "full"} <= set(r["presets"]) and r["summary"] and r["chapter"] >= 2
    table = cli("list")
    assert table.returncode == 0 and "mnist1d-baselines" in table.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("run", "mnist1d-baseline"), ("unknown experiment", "did you mean 'mnist1d-baselines'")),
        (("run", *SMALL, "--epoch", "3"), ("--epoch", "did you mean --epochs")),
        (("run", *SMALL, "--epochs", "three"), ("--epochs", "three")),
        (("run", *SMALL, "--hidden", "10", "x"), ("--hidden",)),
        (("run", "mnist1d-baselines", "--preset", "fast"), ("unknown preset 'fast'", "smoke, quick, full")),
        (("run", *SMALL, "--epochs", "0"), ("epochs",)),
        (("run", *SMALL, "--lr", "-1"), ("lr",)),
        (("run", *SMALL, "--device", "tpu"), ("--device",)),
        (("run",), ("needs an experiment name",)),
        (("frobnicate",), ("unknown command",)),
        (("reproduce", "--suite", "tuor"), ("unknown suite", "did you mean 'tour'")),
        (("reproduce",), ("--suite",)),
        (("report", "/nonexistent/run"), ("neither a finished run",)),
        (("run", "mnist1d-baselines", "--resume", "/nonexistent/run"), ("no unfinished run",)),
        (("run", *SMALL, "--resume", "/nonexistent/run"), ("--resume continues a run with its own config",)),
        (("run", *SMALL, "--nproc", "2"), ("--nproc 2", "does not train data-parallel", "optimizers")),
        (("run", *SMALL, "--nproc", "0"), ("--nproc must be >= 1",)),
        (("reproduce", "--suite", "smoke", "--executor", "slurm"), ("--executor",)),
        (("reproduce", "--suite", "smoke", "--address", "10.0.0.1:6379"), ("needs --executor ray",)),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, needles):
    proc = cli(*args, cwd=tmp_path)
    _one_line_error(proc, *needles)
    assert list(tmp_path.iterdir()) == []  # nothing half-written (no runs/ directory either)


def test_cuda_request_without_cuda(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _one_line_error(cli("run", *SMALL, "--device", "cuda", cwd=tmp_path), "no CUDA device")
    assert list(tmp_path.iterdir()) == []


def _metrics(directory):
    return (directory / "metrics.jsonl").read_text()


def test_same_command_twice_is_bitwise_identical_and_out_is_protected(cli, tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    pa, pb = cli("run", *SMALL, "--out", a), cli("run", *SMALL, "--out", b)
    assert pa.returncode == 0 and pb.returncode == 0, pa.stderr + pb.stderr  # smoke: claims not evaluated
    assert _metrics(a) == _metrics(b) and _metrics(a).count("\n") > 0
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    assert ra["metrics"] == rb["metrics"] and ra["claims"] == rb["claims"]
    assert ra["status"] == "ok" and (a / "report.html").exists() and (a / "figures").is_dir()
    assert "report:" in pa.stdout and str(a) in pa.stdout  # verdict table, then the report's path
    # --out that already holds a finished run: refused, and the run is untouched
    before = _metrics(a)
    _one_line_error(cli("run", *SMALL, "--out", a), "already holds a finished run")
    assert _metrics(a) == before
    # report re-renders from the files
    (a / "report.html").unlink()
    proc = cli("report", a)
    assert proc.returncode == 0 and (a / "report.html").read_text().startswith("<!DOCTYPE html>")
    # resume of a finished run is refused
    _one_line_error(cli("run", "mnist1d-baselines", "--resume", a), "already finished")


def test_seed_changes_the_run(cli, tmp_path):
    cli("run", *SMALL, "--out", tmp_path / "s0")
    cli("run", *SMALL, "--seed", "1", "--out", tmp_path / "s1")
    assert _metrics(tmp_path / "s0") != _metrics(tmp_path / "s1")
    cfg = json.loads((tmp_path / "s1" / "config.json").read_text())
    assert cfg["config"]["seed"] == 1 and cfg["seed"] == 1 and cfg["preset"] == "smoke"


def test_killed_run_never_looks_finished_and_resumes_to_the_same_result(cli, tmp_path):
    args = (*SMALL, "--epochs", "30", "--checkpoint-every", "2")
    reference = tmp_path / "ref"
    assert cli("run", *args, "--out", reference).returncode == 0

    killed = tmp_path / "killed"
    partial = tmp_path / "killed.partial"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [sys.executable, "-m", "udl", "run", *args, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    # kill once the second model (mlp) has saved a checkpoint: the first model is done, the second half-way
    deadline = time.monotonic() + 120
    while not (partial / "checkpoints" / "mlp_seed0.safetensors").exists():
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not killed.exists() and not (partial / "result.json").exists()
    # a fresh run into the same --out refuses to clobber the unfinished one
    _one_line_error(cli("run", *args, "--out", killed), "unfinished run", "--resume")
    # a damaged checkpoint is bad input: one line, exit 2, the directory left as it was
    ck = partial / "checkpoints" / "mlp_seed0.safetensors"
    good = ck.read_bytes()
    ck.write_bytes(good[:40])
    _one_line_error(cli("run", "mnist1d-baselines", "--resume", partial), "corrupt checkpoint")
    ck.write_bytes(good)
    # resuming someone else's run is refused
    _one_line_error(cli("run", "linear-regression", "--resume", partial), "not of 'linear-regression'")

    proc = cli("run", "mnist1d-baselines", "--resume", partial)
    assert proc.returncode == 0, proc.stderr
    assert killed.is_dir() and not partial.exists()
    assert _metrics(killed) == _metrics(reference)
    r_ref, r_res = (json.loads((d / "result.json").read_text()) for d in (reference, killed))
    assert r_res["resumed"] is True
    assert r_ref["metrics"] == r_res["metrics"] and r_ref["claims"] == r_res["claims"]


def test_divergence_fails_the_run_with_step_and_quantity(cli, tmp_path):
    # learning rates are bounded up front now, so the divergence comes from a starting point whose loss overflows
    proc = cli(
        "run",
        "linear-regression",
        "--preset",
        "smoke",
        "--phi-init",
        "1e200",
        "1e200",
        "--out",
        tmp_path / "d",
    )
    result = json.loads((tmp_path / "d" / "result.json").read_text())
    assert proc.returncode == 3  # a failed run, not a claim that did not hold
    assert result["status"] == "failed"
    assert "non-finite" in result["error"] and "at step" in result["error"]
    assert "run failed" in proc.stdout


@pytest.mark.slow
def test_nproc_2_gives_the_one_process_results(cli, tmp_path):
    """udl run optimizers --nproc 2 (torchrun, gloo): the checks' verdicts of one process, the same metrics up to
    float32 rounding of the MNIST-1D training (DDP sums the two halves' gradients in another order)."""
    one = cli("run", "optimizers", "--preset", "smoke", "--out", tmp_path / "one")
    two = cli("run", "optimizers", "--preset", "smoke", "--nproc", "2", "--out", tmp_path / "two")
    assert one.returncode == two.returncode == 0, two.stderr[-2000:]
    a, b = (json.loads((tmp_path / d / "result.json").read_text()) for d in ("one", "two"))
    assert [c["verdict"] for c in a["checks"]] == [c["verdict"] for c in b["checks"]]
    assert a["metrics"].keys() == b["metrics"].keys()
    assert json.loads((tmp_path / "two" / "config.json").read_text())["processes"] == 2
    close = [
        k
        for k, v in a["metrics"].items()
        if v == b["metrics"][k] or (v is not None and abs(v - b["metrics"][k]) <= 1e-3 * max(1.0, abs(v)))
    ]
    assert len(close) >= len(a["metrics"]) - 3  # rmsprop's curve can move by one test example
