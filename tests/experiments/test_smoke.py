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


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_quick_preset_claims_hold(cli, tmp_path, name):
    out = tmp_path / name
    proc = cli("run", name, "--preset", "quick", "--out", out, timeout=900)
    result = json.loads((out / "result.json").read_text())
    failed = [(c["id"], c["measured"], c["expected"]) for c in result["claims"] if not c["holds"]]
    assert result["status"] == "ok", result["error"]
    assert not failed, failed
    assert proc.returncode == 0
