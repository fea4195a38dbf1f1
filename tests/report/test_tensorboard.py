"""``--tensorboard``: the run's scalars and figures as TensorBoard event files beside metrics.jsonl, read back
with TensorBoard's own event reader; without tensorboard installed the flag is a usage error."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from udl.experiments import Experiment
from udl.report import Run, runner
from udl.report._run import tensorboard_missing
from udl.report.figures import subplots

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator", reason="tensorboard is not installed"
)


@dataclass(frozen=True)
class TinyConfig:
    steps: int = 6
    """steps"""
    seed: int = 0
    """seed"""


def _tiny_run(cfg: TinyConfig, run: Run) -> None:
    values = torch.rand(cfg.steps, dtype=torch.float64)
    for step, v in enumerate(values):
        run.log(step, **{"fit/loss": float(v), "curve": [1.0, 2.0]})  # a list is not a scalar: not in TB
    run.log(100, accuracy=0.75)
    fig, axes = subplots()
    axes[0, 0].plot(values)
    run.figure("values", fig)
    fig, _ = subplots()
    run.figure("empty", fig)
    run.summary(mean=float(values.mean()))


TINY = Experiment(
    "tiny", 2, "2.1", "tiny", "tiny", TinyConfig, {"smoke": TinyConfig(), "quick": TinyConfig()}, _tiny_run
)


def _read(directory: Path):
    files = sorted(directory.glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_and_figures_read_back_from_the_event_files(tmp_path: Path) -> None:
    outcome = runner.execute(
        TINY, TinyConfig(), "quick", final=tmp_path / "run", device="cpu", tensorboard=True
    )
    acc = _read(outcome.directory)
    tags = acc.Tags()
    assert sorted(tags["scalars"]) == ["accuracy", "fit/loss"]
    lines = [json.loads(line) for line in (outcome.directory / "metrics.jsonl").read_text().splitlines()]
    logged = [(line["step"], line["fit/loss"]) for line in lines if "fit/loss" in line]
    events = [(e.step, e.value) for e in acc.Scalars("fit/loss")]
    assert [s for s, _ in events] == [s for s, _ in logged] == list(range(6))
    # TensorBoard stores scalars as float32
    assert all(abs(v - w) <= 1e-6 * max(1.0, abs(w)) for (_, v), (_, w) in zip(events, logged, strict=True))
    assert [(e.step, e.value) for e in acc.Scalars("accuracy")] == [(100, 0.75)]
    assert sorted(tags["images"]) == ["empty", "values"]
    image = acc.Images("values")[0]
    assert image.encoded_image_string.startswith(b"\x89PNG") and image.width > 100 and image.height > 100


def test_without_the_flag_there_are_no_event_files(tmp_path: Path) -> None:
    outcome = runner.execute(TINY, TinyConfig(), "quick", final=tmp_path / "run", device="cpu")
    assert not list(outcome.directory.glob("events.out.tfevents.*"))


def test_missing_tensorboard_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    assert "pip install 'udl[tensorboard]'" in (tensorboard_missing() or "")
    from udl.cli import main

    out = tmp_path / "never"
    code = main(["run", "linear-regression", "--preset", "smoke", "--tensorboard", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "udl[tensorboard]" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())
