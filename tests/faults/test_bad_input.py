"""One test per bad-input path a new user found (the real CLI, a fresh process each): one line on stderr, exit 2,
nothing written; or a finished run. Numbers in the test names follow the issue's list."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SMOKE = ("linear-regression", "--preset", "smoke")


def _one_line(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("udl: error:") and "│" not in lines[0] and "───" not in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _nothing_under(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--noise-std", "nan"), "--noise-std must be a finite number"),
        (("--noise-std", "inf"), "--noise-std must be a finite number"),
        (("--tolerance", "nan"), "--tolerance must be a finite number"),
        (("--phi-init", "nan", "nan"), "--phi-init[0] must be a finite number"),
    ],
)
def test_1_nan_and_inf_are_refused_before_anything_is_written(cli, tmp_path, args, needle):
    _one_line(cli("run", *SMOKE, *args, "--out", tmp_path / "r"), needle)
    assert _nothing_under(tmp_path)


def test_1_nan_learning_rate(cli, tmp_path):
    _one_line(
        cli("run", "mnist1d-baselines", "--preset", "smoke", "--lr", "nan", "--out", tmp_path / "r"), "--lr"
    )
    assert _nothing_under(tmp_path)


def test_2_negative_seed(cli, tmp_path):
    _one_line(cli("run", *SMOKE, "--seed", "-1", "--out", tmp_path / "r"), "--seed must be a seed in [0, ")
    assert _nothing_under(tmp_path)


def test_3_out_that_cannot_be_created(cli, tmp_path):
    (tmp_path / "file").write_text("x")
    _one_line(cli("run", *SMOKE, "--out", tmp_path / "file" / "run"), "is a file, not a directory")
    _one_line(cli("run", *SMOKE, "--out", "/proc/udl-x"), "cannot be created")
    _one_line(cli("reproduce", "--suite", "smoke", "--out", tmp_path / "file"), "is a file, not a directory")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if os.access(readonly, os.W_OK):
            pytest.skip("running as a user who can write to read-only directories")
        _one_line(
            cli("run", *SMOKE, cwd=readonly), "cannot be created"
        )  # the default runs/ in a read-only cwd
    finally:
        readonly.chmod(0o700)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ro"] and _nothing_under(readonly)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("mnist1d-baselines", "--train-split", "1.5"), "--train-split must be a number in (0.0, 1.0)"),
        (("mnist1d-baselines", "--num-samples", "3"), "--num-samples must be an integer >= 10"),
        (("linear-regression", "--steps", "99999999999999999999"), "--steps must be an integer in"),
    ],
)
def test_4_values_the_run_cannot_use_are_refused_up_front(cli, tmp_path, args, needle):
    _one_line(cli("run", *args, "--preset", "smoke", "--out", tmp_path / "r"), needle)
    assert _nothing_under(tmp_path)


@pytest.mark.parametrize("doc", ["{}", "[1,2]", "not json", '{"experiment": "x", "preset": "smoke"}'])
def test_5_report_on_a_malformed_result(cli, tmp_path, doc):
    run = tmp_path / "r"
    assert cli("run", *SMOKE, "--out", run).returncode == 0
    (run / "result.json").write_text(doc)
    _one_line(cli("report", run), "result.json")


def test_6_a_non_finite_loss_outside_fit_stops_the_run(cli, tmp_path):
    proc = cli("run", *SMOKE, "--phi-init", "1e308", "1e308", "--out", tmp_path / "r")
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert proc.returncode == 3 and result["status"] == "failed"
    assert "non-finite" in result["error"] and "at step 0" in result["error"]
    assert result["claims"] == [] and result["checks"] == []  # no verdict from a diverged run


def test_7_the_last_preset_wins_and_is_recorded(cli, tmp_path):
    assert (
        cli(
            "run", "linear-regression", "--preset", "quick", "--preset", "smoke", "--out", tmp_path / "a"
        ).returncode
        == 0
    )
    assert cli("run", *SMOKE, "--out", tmp_path / "b").returncode == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["preset"] == "smoke"
    assert config["config"] == json.loads((tmp_path / "b" / "config.json").read_text())["config"]


def _partial_run(cli, tmp_path: Path) -> Path:
    """A killed mnist1d-baselines smoke run (after its first checkpoint): its .partial directory."""
    out = tmp_path / "k"
    partial = tmp_path / "k.partial"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "udl",
            "run",
            "mnist1d-baselines",
            "--preset",
            "smoke",
            "--epochs",
            "40",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while (
        not any((partial / "checkpoints").glob("*.safetensors"))
        if (partial / "checkpoints").exists()
        else True
    ):
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return partial


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"preset": "bogus"}, "unknown preset 'bogus'"),
        ({"device": 5}, "device must be"),
        ({"seed": 7}, "differs from the config's seed"),
        ({"config": {"seed": 1}}, "belongs to another run"),  # the checkpoints were written with seed 0
        ({"config": {"epochs": "many"}}, "config.json does not make a valid config"),
    ],
)
def test_8_resume_trusts_nothing_it_did_not_write(cli, tmp_path, edit, needle):
    partial = _partial_run(cli, tmp_path)
    path = partial / "config.json"
    doc = json.loads(path.read_text())
    for key, value in edit.items():
        if isinstance(value, dict):
            doc[key].update(value)
            if "seed" in value:
                doc["seed"] = value["seed"]
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    before = sorted(str(p) for p in partial.rglob("*"))
    _one_line(cli("run", "mnist1d-baselines", "--resume", partial), needle)
    assert sorted(str(p) for p in partial.rglob("*")) == before  # left exactly as it was


def test_10_help_texts(cli):
    run_help = cli("run", "linear-regression", "--help").stdout
    assert "Gradient descent on the least-squares loss" in run_help.split("options")[0]  # the summary on top
    assert "{None}" not in run_help and "(default: None)" not in run_help and "--out DIR" in run_help
    assert "quick (about a minute, shows the claim)" in " ".join(run_help.split())
    main_help = cli("--help").stdout
    assert "tour|smoke|quick|full" in main_help and "3 the run failed" in main_help
    reproduce_help = cli("reproduce", "--help").stdout
    assert "{tour,smoke,quick,full}" in reproduce_help and "{auto,cpu,cuda}" in reproduce_help


def test_10_tyro_errors_are_one_plain_line(cli):
    line = _one_line(cli("run", "linear-regression", "--nosie-std", "1"), "Unrecognized options: --nosie-std")
    assert line.count("did you mean") == 1 and line.count("--help") == 1
    line = _one_line(cli("run", "linear-regression", "--noise-std", "abc"), "Error parsing --noise-std")
    assert "Argument helptext" not in line


def test_10_interrupt_names_the_runs_resume_command(tmp_path):
    out = tmp_path / "r"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "udl",
            "run",
            "mnist1d-baselines",
            "--preset",
            "smoke",
            "--epochs",
            "200",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = tmp_path / "r.partial"
    deadline = time.monotonic() + 300
    while not (partial / "metrics.jsonl").exists() or not (partial / "metrics.jsonl").stat().st_size:
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130
    assert f"udl run mnist1d-baselines --resume {partial}" in stderr


def test_10_smoke_claims_say_not_evaluated(cli, tmp_path):
    proc = cli("run", "mnist1d-baselines", "--preset", "smoke", "--out", tmp_path / "r")
    assert proc.returncode == 0 and "✗" not in proc.stdout and "not evaluated at smoke" in proc.stdout
