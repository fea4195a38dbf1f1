"""The high-dimensional-spaces experiment: its verdict functions on made-up measurements, Config and smoke run.

The math it uses is tested in tests/functional/test_geometry.py."""

from __future__ import annotations

import json

import pytest

import udl.experiments.ch08.high_dimensional_spaces as hd
from udl.experiments import Experiment
from udl.report import runner


def test_concentration_verdict() -> None:
    good = {"normal": [100.0, 5.0, 1.6, 1.15], "uniform": [50.0, 4.0, 1.5, 1.12]}
    assert hd.concentration_verdict(good, limit=1.2) is True
    assert hd.concentration_verdict({**good, "uniform": [50.0, 4.0, 4.5, 1.12]}, limit=1.2) is False  # rises
    assert hd.concentration_verdict({"normal": [100.0, 5.0, 1.6, 1.3]}, limit=1.2) is False  # not near 1
    assert hd.concentration_verdict({"normal": [2.0, 2.0, 2.0]}, limit=3.0) is False  # flat
    assert hd.concentration_verdict({}, limit=1.2) is False


def test_rate_verdict() -> None:
    assert hd.rate_verdict({"normal": -0.51, "uniform": -0.46}, tolerance=0.1) is True
    assert hd.rate_verdict({"normal": -0.51, "uniform": -0.3}, tolerance=0.1) is False
    assert hd.rate_verdict({"normal": -1.0}, tolerance=0.1) is False  # 1/D, not 1/√D
    assert hd.rate_verdict({}, tolerance=0.1) is False


def test_volume_vanishes_verdict() -> None:
    assert hd.volume_vanishes_verdict([1.0, 0.785, 0.52, 0.31, 0.0025], limit=0.01) is True
    assert hd.volume_vanishes_verdict([1.0, 0.785, 0.80, 0.31, 0.0025], limit=0.01) is False  # a rise
    assert hd.volume_vanishes_verdict([1.0, 0.785, 0.52, 0.31, 0.05], limit=0.01) is False  # not negligible
    assert hd.volume_vanishes_verdict([0.5, 0.5, 0.5], limit=0.6) is False  # flat


def test_gaussian_shell_verdict() -> None:
    shell, central = [0.1, 0.33, 0.98, 1.0, 1.0], [0.68, 0.0002, 0.0, 0.0, 0.0]
    assert hd.gaussian_shell_verdict(shell, central, shell_mass=0.99) is True
    assert (
        hd.gaussian_shell_verdict([0.1, 0.33, 0.9], [0.68, 0.0, 0.0], shell_mass=0.99) is False
    )  # too little
    assert hd.gaussian_shell_verdict([0.1, 0.5, 0.4, 1.0], [0.68, 0.0, 0.0, 0.0], shell_mass=0.99) is False
    assert (
        hd.gaussian_shell_verdict(shell, [0.68, 0.1, 0.2, 0.0, 0.0], shell_mass=0.99) is False
    )  # center rises
    assert hd.gaussian_shell_verdict(shell, [0.68, 0.1, 0.01, 0.001, 0.0005], shell_mass=0.99) is False


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        hd.Config(dims=(10, 5, 100, 1000))
    with pytest.raises(ValueError, match="rate_min_dim"):
        hd.Config(dims=(1, 2, 100))
    with pytest.raises(ValueError, match="distributions"):
        hd.Config(distributions=("cauchy",))
    with pytest.raises(ValueError, match="mc_max_dim"):
        hd.Config(mc_max_dim=200)
    with pytest.raises(ValueError, match="mc_max_dim"):
        hd.Config(mc_max_dim=1)
    with pytest.raises(ValueError, match=r"shell_width must lie in \(0, 1\)"):
        hd.Config(shell_width=1.5)
    with pytest.raises(ValueError, match="points"):
        hd.Config(points=2)
    with pytest.raises(ValueError, match="ratio_limit"):
        hd.Config(ratio_limit=1.0)
    with pytest.raises(ValueError, match="z_tolerance"):
        hd.Config(z_tolerance=0.0)
    for cfg in hd.PRESETS.values():
        assert isinstance(cfg, hd.Config)


def test_smoke_preset_runs(tmp_path) -> None:
    exp = Experiment.from_module("high-dimensional-spaces", hd)
    out = tmp_path / "run"
    runner.execute(exp, hd.PRESETS["smoke"], "smoke", final=out, device="cpu")
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok", result["error"]
    assert {c["id"] for c in result["claims"]} == {
        "distances-concentrate",
        "distance-spread-rate",
        "ball-volume-vanishes",
        "gaussian-mass-in-shell",
    }
    checks = {c["id"]: c["holds"] for c in result["checks"]}
    assert checks == dict.fromkeys(
        [
            "ball-volume-monte-carlo",
            "outer-shell-monte-carlo",
            "gaussian-norm-ks",
            "gaussian-fractions-match-chi",
        ],
        True,
    )
    assert result["figures"] == ["figures/distances-and-volumes.png", "figures/gaussian-shell.png"]
    assert all((out / f).stat().st_size > 1000 for f in result["figures"])
