"""The Run object, the runner's run directories and the HTML reports, without the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from udl.errors import DivergenceError, UsageError
from udl.experiments import Experiment
from udl.report import Run, runner
from udl.report.figures import subplots
from udl.report.html import render_index, render_run
from udl.report.verdicts import tally
from udl.stats import Verdict


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


TOY = Experiment(
    "toy",
    2,
    "2.1",
    "a toy",
    "some <context>",
    ToyConfig,
    {"smoke": ToyConfig(), "quick": ToyConfig()},
    _toy_run,
)


def _execute(
    tmp_path: Path, cfg: ToyConfig = ToyConfig(), name: str = "out", preset: str = "quick"
) -> runner.Outcome:
    return runner.execute(TOY, cfg, preset, final=tmp_path / name, device="cpu")


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
    assert outcome.exit_code == 3  # a failed run is not a finding
    assert "run failed" in (outcome.directory / "report.html").read_text()


def test_report_escapes_text_and_embeds_figures(tmp_path: Path) -> None:
    d = _execute(tmp_path).directory
    page = render_run(d)
    assert "<b>statement</b>" not in page and "&lt;b&gt;statement&lt;/b&gt; &amp; more" in page
    assert "some &lt;context&gt;" in page
    assert "data:image/png;base64," in page and "1/1 claims hold" in page
    assert "src='figures/" not in page  # self-contained: no links to files


def test_tally_and_index() -> None:
    ok = {"experiment": "a", "preset": "quick", "status": "ok", "claims": [{"id": "x", "holds": True}]}
    bad = {
        "experiment": "b",
        "preset": "quick",
        "status": "ok",
        "claims": [{"id": "y", "holds": True}, {"id": "z", "holds": False}, {"id": "w", "holds": None}],
        "checks": [{"id": "k", "holds": True}],
    }
    t = tally(bad)
    assert (t.claims_held, t.claims_failed, t.claims_open, t.checks_held) == (1, 1, 1, 1)
    assert tally(ok).exit_code == 0 and t.exit_code == 1
    page = render_index("suite", [("a", ok), ("b", bad)])
    assert "1/2 experiments" in page and "href='b/report.html'" in page and "z (fails)" in page
    assert "w (not established)" in page and "2 hold, 1 do not, 1 not established" in page


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
    run.log(0, ratio=float("nan"), values=torch.tensor([1.0, float("inf")]))
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {
        "step": 0,
        "ratio": None,
        "values": [1.0, None],
    }


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), torch.tensor(float("-inf")), [1.0, float("nan")], torch.tensor([0, 1e400])],
)
def test_a_non_finite_loss_stops_the_run_at_its_step(tmp_path: Path, value) -> None:
    run = Run(tmp_path, device=torch.device("cpu"))
    run.log(0, loss=1.0)
    with pytest.raises(DivergenceError, match=r"train/loss became non-finite .* at step 7"):
        run.log(7, **{"train/loss": value}, error=0.5)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1  # the bad line is not written


def test_a_run_whose_loss_diverges_fails_with_exit_3(tmp_path: Path) -> None:
    def diverging(cfg: ToyConfig, run: Run) -> None:
        for step in range(cfg.steps):
            run.log(step, loss=torch.tensor(10.0) ** (10 * step))  # float32 overflows to inf at step 4
        run.claim("never", "never reached", holds=True, measured=0, expected=0)

    exp = Experiment("div", 2, "2.1", "a", "b", ToyConfig, {"quick": ToyConfig()}, diverging)
    outcome = runner.execute(exp, ToyConfig(), "quick", final=tmp_path / "d", device="cpu")
    assert outcome.exit_code == 3 and outcome.result["status"] == "failed"
    assert "loss became non-finite" in outcome.result["error"] and "at step 4" in outcome.result["error"]
    assert outcome.result["claims"] == []


def test_checks_and_three_state_claims_reach_result_json(tmp_path: Path) -> None:
    def exp_run(cfg: ToyConfig, run: Run) -> None:
        run.check("identity", "a = a", error=1e-16, tolerance=1e-12)
        run.check("broken", "b = c", error=float("nan"), tolerance=1e-12)  # NaN error never passes
        run.claim("open", "a > b", holds=Verdict.NOT_ESTABLISHED, measured=1, expected=2)
        run.claim("yes", "c", holds=Verdict.HOLDS, measured=1, expected=1)

    exp = Experiment("v", 2, "2.1", "a", "b", ToyConfig, {"quick": ToyConfig()}, exp_run)
    result = runner.execute(exp, ToyConfig(), "quick", final=tmp_path / "v", device="cpu").result
    assert [(c["id"], c["holds"], c["verdict"]) for c in result["checks"]] == [
        ("identity", True, "holds"),
        ("broken", False, "fails"),
    ]
    assert [(c["id"], c["holds"], c["verdict"]) for c in result["claims"]] == [
        ("open", None, "not established"),
        ("yes", True, "holds"),
    ]
    assert result["checks"][0]["expected"] == "≤ 1e-12" and result["checks"][1]["error"] is None
    page = (tmp_path / "v" / "report.html").read_text()
    assert "Checks" in page and "not established" in page
    with pytest.raises(TypeError, match="three states"):
        bool(Verdict.HOLDS)


def test_smoke_claims_are_not_evaluated(tmp_path: Path) -> None:
    outcome = _execute(tmp_path, ToyConfig(fail_claim=True), preset="smoke")
    assert outcome.exit_code == 0
    assert "not evaluated at smoke" in (outcome.directory / "report.html").read_text()


def test_resume_refuses_checkpoints_of_another_run(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    ident = {"experiment": "toy", "preset": "quick", "seed": 0, "config": {"steps": 5}}
    Run(d, device=torch.device("cpu"), identity=ident).save_state("model", {"w": torch.ones(1)})
    other = {**ident, "seed": 1}
    with pytest.raises(UsageError, match=r"belongs to another run: seed 0 .this run: 1."):
        Run(d, device=torch.device("cpu"), resume=True, identity=other)
    assert Run(d, device=torch.device("cpu"), resume=True, identity=ident).load_state("model") is not None


@pytest.mark.parametrize(
    "doc",
    ["{}", "[1, 2]", "not json", '{"experiment": "x"}', "null"],
)
def test_report_on_a_malformed_result_is_one_usage_error(tmp_path: Path, doc: str) -> None:
    d = _execute(tmp_path).directory
    (d / "result.json").write_text(doc)
    with pytest.raises(UsageError):
        runner.rerender(d)


def test_an_out_that_cannot_be_created_is_a_usage_error_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        _execute(tmp_path, name="file/run")
    with pytest.raises(UsageError, match="cannot be created"):
        runner.execute(TOY, ToyConfig(), "quick", final=Path("/proc/udl-x/run"), device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("steps", 2**40, "steps must be an integer in"),
        ("seed", -1, "seed must be a seed"),
        ("hidden", (1, 2**33), "hidden.1."),
    ],
)
def test_bad_config_values_are_refused_before_anything_is_written(
    tmp_path: Path, field, value, match
) -> None:
    from dataclasses import replace

    with pytest.raises(UsageError, match=match):
        _execute(tmp_path, replace(ToyConfig(), **{field: value}))
    assert list(tmp_path.iterdir()) == []


def test_reproduce_keeps_only_matching_runs_and_moves_the_rest_aside(tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []

    def counted(cfg: ToyConfig, run: Run) -> None:
        calls.append(run.directory.name)
        _toy_run(cfg, run)

    exp = Experiment(
        "toy", 2, "2.1", "a", "b", ToyConfig, {"quick": ToyConfig(), "full": ToyConfig(steps=7)}, counted
    )
    monkeypatch.setattr(runner, "get_experiment", lambda name: exp)
    monkeypatch.setattr(runner, "suite", lambda name: [("toy", "quick" if name == "tour" else "full")])
    out = tmp_path / "suite"
    runner.reproduce("tour", out=out, device="cpu")
    runner.reproduce("tour", out=out, device="cpu")  # kept: same experiment, preset, config, version
    assert calls == ["toy.partial"]
    assert json.loads((out / "index.json").read_text())["notes"]["toy"].startswith("kept")
    runner.reproduce("full", out=out, device="cpu")  # another preset: re-run, the old run moved aside
    assert calls == ["toy.partial", "toy.partial"]
    assert json.loads((out / "toy" / "result.json").read_text())["preset"] == "full"
    moved = [p.name for p in out.iterdir() if ".replaced-" in p.name]
    assert len(moved) == 1 and json.loads((out / moved[0] / "result.json").read_text())["preset"] == "quick"
    assert "preset differs" in json.loads((out / "index.json").read_text())["notes"]["toy"]
    result = json.loads((out / "toy" / "result.json").read_text())
    result["status"] = "failed"
    (out / "toy" / "result.json").write_text(json.dumps(result))
    runner.reproduce("full", out=out, device="cpu")  # a failed run is never kept
    assert len(calls) == 3 and "status failed" in (out / "index.html").read_text()


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
