"""The Run object, the runner's run directories and the HTML reports, without the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from udl.errors import UsageError
from udl.experiments import Experiment
from udl.report import Run, runner
from udl.report.figures import subplots
from udl.report.html import render_index, render_run, verdict


@dataclass(frozen=True)
class ToyConfig:
    steps: int = 5
    """steps"""
    hidden: tuple[int, ...] = (3, 4)
    """a tuple field, to test JSON round trips"""
    fail_claim: bool = False
    """make the claim fail"""
    crash: str = ""
    """'usage' raises a UsageError, 'bug' a RuntimeError"""
    seed: int = 0
    """seed"""


def _toy_run(cfg: ToyConfig, run: Run) -> None:
    if cfg.crash == "usage":
        raise UsageError("bad value inside the experiment")
    values = torch.rand(cfg.steps)  # drawn after the runner seeded torch: reproducible
    for step, v in enumerate(values):
        run.log(step, value=float(v))
    fig, axes = subplots()
    axes[0, 0].plot(values)
    run.figure("values", fig)
    if cfg.crash == "bug":
        raise RuntimeError("an experiment bug")
    run.claim("c1", "a <b>statement</b> & more", holds=not cfg.fail_claim, measured=0.5, expected="< 1")
    run.summary(mean=float(values.mean()))


TOY = Experiment("toy", 2, "2.1", "a toy", "some <context>", ToyConfig, {"smoke": ToyConfig()}, _toy_run)


def _execute(tmp_path: Path, cfg: ToyConfig = ToyConfig(), name: str = "out") -> runner.Outcome:
    return runner.execute(TOY, cfg, "smoke", final=tmp_path / name, device="cpu")


def test_execute_writes_a_complete_run_directory(tmp_path: Path) -> None:
    outcome = _execute(tmp_path)
    d = outcome.directory
    assert d == tmp_path / "out" and not (tmp_path / "out.partial").exists()
    assert {p.name for p in d.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "result.json",
        "report.html",
        "figures",
    }
    result = json.loads((d / "result.json").read_text())
    assert (
        result["status"] == "ok"
        and result["experiment"] == "toy"
        and result["figures"] == ["figures/values.png"]
    )
    lines = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(5))
    assert result["metrics"]["value"] == lines[-1]["value"] and "mean" in result["metrics"]
    assert outcome.exit_code == 0
    config = json.loads((d / "config.json").read_text())
    assert runner.config_from_json(ToyConfig, config["config"]) == ToyConfig()  # tuples survive JSON


def test_same_seed_same_metrics_and_failed_claim_exit_code(tmp_path: Path) -> None:
    a, b = _execute(tmp_path, name="a"), _execute(tmp_path, name="b")
    assert (a.directory / "metrics.jsonl").read_bytes() == (b.directory / "metrics.jsonl").read_bytes()
    c = _execute(tmp_path, ToyConfig(seed=1), name="c")
    assert (c.directory / "metrics.jsonl").read_bytes() != (a.directory / "metrics.jsonl").read_bytes()
    assert _execute(tmp_path, ToyConfig(fail_claim=True), name="f").exit_code == 1


def test_out_that_holds_a_finished_run_is_refused(tmp_path: Path) -> None:
    _execute(tmp_path)
    with pytest.raises(UsageError, match="already holds a finished run"):
        _execute(tmp_path)


def test_usage_error_inside_the_experiment_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="bad value"):
        _execute(tmp_path, ToyConfig(crash="usage"))
    assert list(tmp_path.iterdir()) == []


def test_a_bug_is_a_failed_run_with_its_traceback(tmp_path: Path) -> None:
    outcome = _execute(tmp_path, ToyConfig(crash="bug"))
    assert (
        outcome.result["status"] == "failed" and "RuntimeError: an experiment bug" in outcome.result["error"]
    )
    assert "Traceback" in (outcome.directory / "traceback.txt").read_text()
    assert outcome.exit_code == 1
    assert "run failed" in (outcome.directory / "report.html").read_text()


def test_report_escapes_text_and_embeds_figures(tmp_path: Path) -> None:
    d = _execute(tmp_path).directory
    page = render_run(d)
    assert "<b>statement</b>" not in page and "&lt;b&gt;statement&lt;/b&gt; &amp; more" in page
    assert "some &lt;context&gt;" in page
    assert "data:image/png;base64," in page and "1/1 claims hold" in page
    assert "src='figures/" not in page  # self-contained: no links to files


def test_verdict_and_index() -> None:
    ok = {"experiment": "a", "preset": "quick", "status": "ok", "claims": [{"id": "x", "holds": True}]}
    bad = {
        "experiment": "b",
        "preset": "quick",
        "status": "ok",
        "claims": [{"id": "y", "holds": True}, {"id": "z", "holds": False}],
    }
    assert verdict(ok) == (1, 1) and verdict(bad) == (1, 2)
    page = render_index("suite", [("a", ok), ("b", bad)])
    assert "1/2 experiments" in page and "href='b/report.html'" in page and ">z<" in page


def test_log_replay_after_resume_does_not_duplicate_lines(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    run = Run(d, device=torch.device("cpu"))
    for step in range(3):
        run.log(step, x=step)
    run.save_state("model", {"w": torch.ones(2)})
    run.log(3, x=3)  # logged after the checkpoint: the resumed run redoes it
    resumed = Run(d, device=torch.device("cpu"), resume=True)
    assert len((d / "metrics.jsonl").read_text().splitlines()) == 3
    assert resumed.metrics == {"x": 2}
    for step in range(3):  # the experiment replays from its start: these lines are already on disk
        resumed.log(step, x=step)
    state = resumed.load_state("model")
    assert state is not None and torch.equal(state["w"], torch.ones(2))
    resumed.log(3, x=3)
    lines = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [line["x"] for line in lines] == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", ["a b", "../x", ""])
def test_names_are_checked(tmp_path: Path, bad: str) -> None:
    run = Run(tmp_path, device=torch.device("cpu"))
    with pytest.raises(ValueError):
        run.claim(bad, "s", holds=True, measured=1, expected=1)
    run.claim("ok", "s", holds=True, measured=1, expected=1)
    with pytest.raises(ValueError, match="twice"):
        run.claim("ok", "s", holds=True, measured=1, expected=1)


def test_non_finite_metrics_are_written_as_null(tmp_path: Path) -> None:
    run = Run(tmp_path, device=torch.device("cpu"))
    run.log(0, loss=float("nan"), values=torch.tensor([1.0, float("inf")]))
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {
        "step": 0,
        "loss": None,
        "values": [1.0, None],
    }


def test_config_from_json_rejects_unknown_fields() -> None:
    with pytest.raises(UsageError, match="does not know"):
        runner.config_from_json(ToyConfig, {"steps": 1, "nope": 2})
    from udl.experiments.ch03.shallow_networks import Config

    with pytest.raises(UsageError, match="valid config"):
        runner.config_from_json(Config, {"widths": []})  # refused by Config.__post_init__
    assert runner.config_from_json(Config, {"widths": [1, 2]}).widths == (1, 2)


def test_resolve_device() -> None:
    assert runner.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UsageError, match="valid"):
        runner.resolve_device("tpu")
