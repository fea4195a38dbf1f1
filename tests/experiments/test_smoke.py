"""Every experiment's smoke preset through the real CLI (fast tier), and its quick preset's claims (slow)."""

from __future__ import annotations

import json

import pytest

from udl.experiments import experiment_names, get_experiment


@pytest.mark.parametrize("name", experiment_names())
def test_smoke_preset_runs_through_the_cli(cli, tmp_path, name):
    out = tmp_path / name
    proc = cli("run", name, "--preset", "smoke", "--out", out)
    assert proc.returncode in (0, 1), proc.stderr  # smoke proves the code path; claims need quick
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    assert result["experiment"] == name and result["preset"] == "smoke"
    assert result["claims"], "every experiment states at least one claim"
    assert result["figures"] and all((out / f).stat().st_size > 1000 for f in result["figures"])
    html = (out / "report.html").read_text()
    assert "Claims" in html and "data:image/png;base64," in html
    assert (out / "metrics.jsonl").exists()


@pytest.mark.parametrize("name", experiment_names())
def test_presets_are_valid_configs(name):
    exp = get_experiment(name)
    assert {"smoke", "quick", "full"} <= set(exp.presets)
    for cfg in exp.presets.values():
        assert isinstance(cfg, exp.config_class)
    assert exp.summary and exp.context and 2 <= exp.chapter <= 21


KNOWN_FAILURES: dict[str, set[str]] = {
    # The notebook's statement does not reproduce: with 15 points a bootstrap member often lands closer to the
    # true function than the ensemble by luck (the mean beats every member on about 1 training set in 3).
    "ensembling": {"regression-beats-every-member"},
    # Label smoothing halves the calibration error but raises the test error on small MNIST-1D at every ε tried.
    "noise-and-label-smoothing": {"label-smoothing-lowers-test-error"},
    # Notebook 10.2's recipe gives the 2,050-parameter CNN 90%, not the MNIST-1D table's 94% (a larger CNN
    # trained differently); the CNN still beats the 59,065-parameter MLP by 21 points.
    "conv-mnist1d": {"cnn-accuracy"},
    # ±1 pixel shifts cut strokes off the 8x8 digits, which fill their frame; rotations alone help (reported).
    "image-classification": {"augmentation-helps"},
    # +1.4 ± 0.7 points with the auxiliary shift task in 5 seeds: short of the 2-standard-error bar (the full
    # preset's 10 seeds give +1.9 ± 0.4, which holds).
    "multi-task": {"auxiliary-task-helps"},
    # A random ReLU CNN is already a strong feature map on MNIST-1D; inpainting learns local interpolation only.
    "self-supervised": {"inpainting-features-beat-baselines"},
}
"""Quick-preset claims measured not to hold, each explained in its experiment's docstring and report. The test
fails if one of them starts to hold, so this list stays true."""


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_quick_preset_claims_hold(cli, tmp_path, name):
    out = tmp_path / name
    proc = cli("run", name, "--preset", "quick", "--out", out, timeout=900)
    result = json.loads((out / "result.json").read_text())
    failed = [(c["id"], c["measured"], c["expected"]) for c in result["claims"] if not c["holds"]]
    assert result["status"] == "ok", result["error"]
    assert {f[0] for f in failed} == KNOWN_FAILURES.get(name, set()), failed
    assert proc.returncode == (1 if failed else 0)
