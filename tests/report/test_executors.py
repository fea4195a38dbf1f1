"""``udl reproduce --executor ray``: the same run directories, metrics and index as the local executor, with
a failing run and a dead worker reported in the index; against a local Ray started by the test."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from udl.errors import UsageError
from udl.experiments import get_experiment
from udl.report import runner

HERE = Path(__file__).parent
FAST = [("linear-regression", "smoke"), ("shallow-networks", "smoke")]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'udl[cluster]')")
    src = Path(runner.__file__).parents[2]
    before = os.environ.get("PYTHONPATH")
    # the workers inherit this environment: udl and the toy experiments importable there
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), str(HERE), before or ""])
    sys.path.insert(0, str(HERE))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    sys.path.remove(str(HERE))
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


def _suite(extra=()):
    return [(get_experiment(n), p) for n, p in FAST] + list(extra)


def test_ray_gives_the_local_executors_runs_and_reports_failures(ray_cluster, tmp_path: Path) -> None:
    import _suite_toys as toys

    local = runner.run_suite(_suite(), out=tmp_path / "local", title="t", device="cpu")
    experiments = _suite([(toys.CRASH, "smoke"), (toys.DIE, "smoke")])
    remote = runner.run_suite(experiments, out=tmp_path / "ray", title="t", device="cpu", executor="ray")
    assert [o.result["experiment"] for o in remote] == [*(n for n, _ in FAST), "toy-crash", "toy-die"]
    for a, b in zip(local, remote, strict=False):  # the two real experiments
        assert b.directory == tmp_path / "ray" / a.directory.name
        assert a.result["metrics"] == b.result["metrics"] and a.result["status"] == b.result["status"] == "ok"
        assert [c["verdict"] for c in a.result["checks"]] == [c["verdict"] for c in b.result["checks"]]
        assert (a.directory / "metrics.jsonl").read_bytes() == (b.directory / "metrics.jsonl").read_bytes()
        assert sorted(p.name for p in (b.directory / "figures").iterdir()) == sorted(
            p.name for p in (a.directory / "figures").iterdir()
        )
        assert (b.directory / "report.html").is_file()
    crash, die = remote[2].result, remote[3].result
    assert crash["status"] == "failed" and "an experiment bug" in crash["error"]
    assert (tmp_path / "ray" / "toy-crash" / "traceback.txt").is_file()  # written on the worker, shipped back
    assert die["status"] == "failed" and die["error"].startswith("ray task failed")
    index = json.loads((tmp_path / "ray" / "index.json").read_text())
    assert index["runs"] == sorted(["linear-regression", "shallow-networks", "toy-crash", "toy-die"])
    html = (tmp_path / "ray" / "index.html").read_text()
    assert "toy-die" in html and "ray task failed" in html
    # a second call keeps the finished runs and re-runs (moves aside) the failed ones
    again = runner.run_suite(_suite(), out=tmp_path / "ray", title="t", device="cpu", executor="ray")
    assert [o.result["metrics"] for o in again] == [o.result["metrics"] for o in local]


def test_unknown_executor_and_missing_ray_are_usage_errors(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown executor 'slurm'; valid: local, ray"):
        runner.run_suite(_suite(), out=tmp_path, title="t", executor="slurm")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'udl\[cluster\]'"):
        runner.run_suite(_suite(), out=tmp_path / "x", title="t", executor="ray")
    assert not (tmp_path / "x").exists()
